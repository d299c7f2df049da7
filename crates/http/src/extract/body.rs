//! JSON bodies, query strings and path segments: every rejection becomes the error envelope.
//! Malformed JSON is `BAD_REQUEST`; well-formed JSON of the wrong shape is `VALIDATION_ERROR`, naming
//! the field by its path (`records[2].tokens_used`) and saying what is expected, in words of the
//! contract: never the submitted value (it may be a password) and never a Rust type name.

use std::ops::{Deref, DerefMut};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::middleware::Next;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, mime, web};
use futures_util::future::LocalBoxFuture;
use futures_util::{StreamExt, stream};
use serde::de::DeserializeOwned;
use user_service_domain::{DomainError, FieldError};

use crate::error::{ApiError, envelope_for_status};

/// JSON request bodies above this size are refused with 413.
pub const JSON_LIMIT_BYTES: usize = 2 * 1024 * 1024;

/// A JSON request body of type `T`. Unlike `web::Json`, it knows where in the document a mistake is,
/// so the error names the field.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

fn request_is_json(req: &HttpRequest) -> bool {
    matches!(req.mime_type(), Ok(Some(m)) if is_json(&m))
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = request_is_json(req);
        // The app's `PayloadConfig` bounds the body at `JSON_LIMIT_BYTES`.
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json {
                return Err(InternalError::from_response(
                    "unsupported media type",
                    envelope_for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
                )
                .into());
            }
            let bytes = bytes.await.map_err(|e| {
                ApiError(
                    if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                        DomainError::PayloadTooLarge
                    } else {
                        DomainError::BadRequest("could not read the request body".into())
                    },
                )
            })?;
            parse(&bytes).map(Json).map_err(|e| ApiError(e).into())
        })
    }
}

/// Deserializes `bytes`, turning a failure into the contract's error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DomainError> {
    let malformed = || DomainError::BadRequest("request body is not valid JSON".into());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        if !e.inner().is_data() {
            return malformed();
        }
        let path = e.path().to_string();
        let serde_message = e.inner().to_string();
        let (name, message) = describe(&serde_message);
        // An unknown field's path already ends with it; a missing one's is its parent.
        let field = match (path.as_str(), name) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => "body".to_owned(),
            (p, Some(name)) if p == name || p.ends_with(&format!(".{name}")) => path,
            (p, Some(name)) => format!("{p}.{name}"),
            (_, None) => path,
        };
        DomainError::Validation(vec![FieldError::new(field, message)])
    })?;
    // Anything but whitespace after the document.
    de.end().map_err(|_| malformed())?;
    Ok(value)
}

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
        let (name, message) = describe(&message);
        ApiError(DomainError::Validation(vec![FieldError::new(
            name.unwrap_or("query").to_owned(),
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
            "path",
            describe(&message).1,
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
            let serde_message = e.to_string();
            let (name, message) = describe(&serde_message);
            DomainError::Validation(vec![FieldError::new(
                name.unwrap_or("body").to_owned(),
                message,
            )])
        }
        JsonPayloadError::Deserialize(_) => {
            DomainError::BadRequest("request body is not valid JSON".into())
        }
        _ => DomainError::BadRequest("could not read the request body".into()),
    }
}

/// Rewrites a deserializer's message for a client: the field it names (only from "missing field" and
/// "unknown field", whose backticks hold a field name, not a value) and what is expected. Serde's own
/// messages quote the submitted value (`invalid type: integer 12345678`) and name Rust types
/// (`struct RegisterBody`, `u32`): neither goes out. A message the service wrote itself
/// (`Error::custom`) is its own wording and is kept.
fn describe(message: &str) -> (Option<&str>, String) {
    let message = message.split(" at line ").next().unwrap_or(message);
    let quoted = || {
        let start = message.find('`')? + 1;
        let len = message[start..].find('`')?;
        Some(&message[start..start + len])
    };
    if message.starts_with("missing field") {
        return (quoted(), "is required".into());
    }
    if message.starts_with("unknown field") {
        return (quoted(), "is not a known field".into());
    }
    if message.starts_with("duplicate field") {
        return (quoted(), "appears more than once".into());
    }
    if message.starts_with("unknown variant") {
        let allowed = message
            .split_once("expected ")
            .map(|(_, e)| e.replace('`', ""))
            .unwrap_or_default();
        return (None, format!("must be {allowed}"));
    }
    let serde_says = ["invalid type", "invalid value", "invalid length"]
        .iter()
        .any(|p| message.starts_with(p));
    if serde_says {
        let expected = message.rsplit_once("expected ").map_or("", |(_, e)| e);
        return (None, format!("must be {}", in_contract_words(expected)));
    }
    (None, message.to_owned())
}

/// What a deserializer expected, said in JSON's terms.
fn in_contract_words(expected: &str) -> &'static str {
    let e = expected.trim();
    let integer = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
    ];
    if integer.contains(&e) || e.contains("integer") {
        "an integer"
    } else if e == "f32" || e == "f64" || e.contains("number") || e.contains("float") {
        "a number"
    } else if e.contains("string") || e == "a character" || e.contains("UUID") {
        "a string"
    } else if e.contains("bool") {
        "true or false"
    } else if e.contains("sequence") || e.contains("array") || e.contains("tuple") {
        "an array"
    } else {
        "an object"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        password: String,
        records: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        tokens: u32,
    }

    fn error_of(body: &str) -> (String, String) {
        match parse::<Body>(body.as_bytes()) {
            Err(DomainError::Validation(d)) => (d[0].field.clone(), d[0].message.clone()),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_the_field_and_never_the_value_or_a_type() {
        assert_eq!(
            error_of(r#"{"password":12345678,"records":[]}"#),
            ("password".into(), "must be a string".into())
        );
        assert_eq!(
            error_of(r#"{"password":"p","records":[{"tokens":1},{"tokens":"9"}]}"#),
            ("records[1].tokens".into(), "must be an integer".into())
        );
        assert_eq!(
            error_of(r#"{"password":"p","records":[],"typo":1}"#),
            ("typo".into(), "is not a known field".into())
        );
        assert_eq!(
            error_of(r#"{"records":[]}"#),
            ("password".into(), "is required".into())
        );
        assert_eq!(error_of(r#""text""#).1, "must be an object");
        assert!(matches!(
            parse::<Body>(b"{not json"),
            Err(DomainError::BadRequest(_))
        ));
    }
}
