//! JSON bodies, query strings and path segments: every rejection becomes the error envelope.
//! Malformed JSON is `BAD_REQUEST`; well-formed JSON of the wrong shape is `VALIDATION_ERROR`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, HttpMessage, mime, web};
use futures_util::{StreamExt, stream};
use user_service_domain::{DomainError, FieldError};

use crate::error::{ApiError, envelope_for_status};

/// JSON request bodies above this size are refused with 413.
pub const JSON_LIMIT_BYTES: usize = 2 * 1024 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .content_type_required(true)
        .content_type(|m| is_json(&m))
        .error_handler(|err, _req| match err {
            JsonPayloadError::ContentType => InternalError::from_response(
                err,
                envelope_for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            )
            .into(),
            other => ApiError(json_error(other)).into(),
        })
}

fn is_json(mime: &mime::Mime) -> bool {
    mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON)
}

/// A JSON body must be an object. serde reads a struct from an array as well (`[null, null]` sets
/// its first two fields), which no client means and the document does not allow; so a body whose
/// first byte after whitespace opens an array is refused before any extractor reads it. The bytes
/// looked at are put back in front of the rest of the body.
pub async fn json_objects_only(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .is_some_and(|m| is_json(&m));
    if !json {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let mut payload = req.take_payload();
    let mut head = BytesMut::new();
    let mut failed = None;
    let first = loop {
        match payload.next().await {
            Some(Ok(chunk)) => {
                head.extend_from_slice(&chunk);
                if let Some(b) = head.iter().find(|b| !b.is_ascii_whitespace()) {
                    break Some(*b);
                }
                if head.len() > JSON_LIMIT_BYTES {
                    return Ok(req.error_response(ApiError(DomainError::PayloadTooLarge)));
                }
            }
            Some(Err(e)) => {
                failed = Some(e);
                break None;
            }
            None => break None,
        }
    };
    if first == Some(b'[') {
        let e = DomainError::field("body", "must be a JSON object");
        return Ok(req.error_response(ApiError(e)));
    }
    // What was read, then a read error if there was one (the extractor reports it), then the rest.
    let replay =
        stream::iter([Ok(Bytes::from(head))].into_iter().chain(failed.map(Err))).chain(payload);
    req.set_payload(Payload::Stream {
        payload: Box::pin(replay),
    });
    Ok(next.call(req).await?.map_into_boxed_body())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError(DomainError::Validation(vec![FieldError::new(
            field_of(&message).unwrap_or("query").to_owned(),
            message,
        )]))
        .into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let message = match &err {
            PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError(DomainError::Validation(vec![FieldError::new(
            "path", message,
        )]))
        .into()
    })
}

fn json_error(err: JsonPayloadError) -> DomainError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            DomainError::PayloadTooLarge
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            DomainError::Validation(vec![FieldError::new(
                field_of(&message).unwrap_or("body").to_owned(),
                message,
            )])
        }
        JsonPayloadError::Deserialize(_) => {
            DomainError::BadRequest("request body is not valid JSON".into())
        }
        _ => DomainError::BadRequest("could not read the request body".into()),
    }
}

/// serde names the offending field in backticks: "unknown field `foo`", "missing field `bar`".
/// Other messages quote the submitted value the same way ("invalid type: floating point `1.5`"),
/// which is no field name.
fn field_of(message: &str) -> Option<&str> {
    let start = message.find("field `")? + "field `".len();
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field_serde_names() {
        assert_eq!(
            field_of("unknown field `foo`, expected one of `a`"),
            Some("foo")
        );
        assert_eq!(field_of("invalid type: integer"), None);
        assert_eq!(
            field_of("invalid type: floating point `1.5`, expected i64"),
            None
        );
    }
}
