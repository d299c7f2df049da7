//! JSON bodies, query strings and path segments: every rejection becomes the error envelope.
//! Malformed JSON is `BAD_REQUEST`; well-formed JSON of the wrong shape is `VALIDATION_ERROR`.

use actix_web::error::{InternalError, JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{mime, web};
use user_service_domain::{DomainError, FieldError};

use crate::error::{ApiError, envelope_for_status};

/// JSON request bodies above this size are refused with 413.
pub const JSON_LIMIT_BYTES: usize = 2 * 1024 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT_BYTES)
        .content_type_required(true)
        .content_type(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        .error_handler(|err, _req| match err {
            JsonPayloadError::ContentType => InternalError::from_response(
                err,
                envelope_for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            )
            .into(),
            other => ApiError(json_error(other)).into(),
        })
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
