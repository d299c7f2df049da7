//! The single mapping from a domain error to an HTTP status, code and body, and the one error shape
//! every response of the service uses.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use user_service_domain::{DomainError, FieldError};

use crate::request_context;

/// A domain error on its way out as an HTTP response.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable machine-readable code, e.g. `USERNAME_TAKEN`.
    pub code: &'static str,
    pub message: String,
    pub status_code: u16,
    /// Equals the response's `X-Request-ID`.
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldDetail>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldDetail {
    pub field: String,
    pub message: String,
}

/// The one place that decides status and code of every domain error.
pub fn classify(e: &DomainError) -> (StatusCode, &'static str) {
    use DomainError as E;
    match e {
        E::Validation(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
        E::BadRequest(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        E::UsernameTaken { .. } => (StatusCode::BAD_REQUEST, "USERNAME_TAKEN"),
        E::EmailTaken { .. } => (StatusCode::BAD_REQUEST, "EMAIL_TAKEN"),
        E::PasswordTooShort => (StatusCode::BAD_REQUEST, "PASSWORD_TOO_SHORT"),
        E::PasswordTooLong => (StatusCode::BAD_REQUEST, "PASSWORD_TOO_LONG"),
        E::WrongPassword => (StatusCode::BAD_REQUEST, "WRONG_PASSWORD"),
        E::InvalidImage(_) => (StatusCode::BAD_REQUEST, "INVALID_IMAGE"),
        E::InsufficientCredits => (StatusCode::BAD_REQUEST, "INSUFFICIENT_CREDITS"),
        E::InvalidCredentials => (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"),
        E::TokenMissing => (StatusCode::UNAUTHORIZED, "TOKEN_MISSING"),
        E::TokenInvalid => (StatusCode::UNAUTHORIZED, "TOKEN_INVALID"),
        E::TokenExpired => (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED"),
        E::TokenStale => (StatusCode::UNAUTHORIZED, "TOKEN_STALE"),
        E::ApiKeyInvalid => (StatusCode::UNAUTHORIZED, "API_KEY_INVALID"),
        E::EmailTokenInvalid => (StatusCode::BAD_REQUEST, "EMAIL_TOKEN_INVALID"),
        E::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
        E::EmailNotVerified => (StatusCode::FORBIDDEN, "EMAIL_NOT_VERIFIED"),
        E::NamespaceNotFound(_) => (StatusCode::NOT_FOUND, "NAMESPACE_NOT_FOUND"),
        E::UserNotFound => (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
        E::SessionNotFound => (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND"),
        E::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        E::NamespaceExists(_) => (StatusCode::CONFLICT, "NAMESPACE_EXISTS"),
        E::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
        E::IdempotencyKeyReused => (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED"),
        E::IdempotencyKeyInUse => (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_USE"),
        E::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        E::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED"),
        E::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        E::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        classify(&self.0).0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code) = classify(&self.0);
        let message = match &self.0 {
            DomainError::Unexpected(cause) => {
                tracing::error!(error = %chain(cause.as_ref()), request_id = %request_context::current_request_id(), "unexpected error");
                "internal server error".to_owned()
            }
            DomainError::Validation(details) if details.len() == 1 => {
                format!("validation failed: {}", details[0])
            }
            other => other.to_string(),
        };
        let details = match &self.0 {
            DomainError::Validation(d) => Some(d.as_slice()),
            _ => None,
        };
        let mut res = envelope(status, code, message, details);
        let retry_after = match &self.0 {
            DomainError::RateLimited { retry_after_secs }
            | DomainError::Unavailable { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        res
    }
}

/// Renders the error envelope. Every 401 says how to authenticate.
pub fn envelope(
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<&[FieldError]>,
) -> HttpResponse {
    let body = ErrorBody {
        error: ErrorDetail {
            code,
            message,
            status_code: status.as_u16(),
            request_id: request_context::current_request_id(),
            details: details.map(|d| {
                d.iter()
                    .map(|f| FieldDetail {
                        field: f.field.clone(),
                        message: f.message.clone(),
                    })
                    .collect()
            }),
        },
    };
    let mut res = HttpResponse::build(status);
    if status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    res.json(body)
}

/// The envelope for a response the framework produced without one (unknown route, 405, ...).
pub fn envelope_for_status(status: StatusCode) -> HttpResponse {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("METHOD_NOT_ALLOWED", "method not allowed on this resource")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "payload too large"),
        StatusCode::REQUEST_TIMEOUT => ("REQUEST_TIMEOUT", "the request was not received in time"),
        StatusCode::URI_TOO_LONG => ("URI_TOO_LONG", "the request target is too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "HEADERS_TOO_LARGE",
            "the request head is too large or has too many headers",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "UNSUPPORTED_MEDIA_TYPE",
            "expected Content-Type: application/json",
        ),
        StatusCode::UNAUTHORIZED => ("TOKEN_MISSING", "authentication required"),
        StatusCode::FORBIDDEN => ("FORBIDDEN", "forbidden"),
        StatusCode::TOO_MANY_REQUESTS => ("RATE_LIMIT_EXCEEDED", "rate limit exceeded"),
        StatusCode::SERVICE_UNAVAILABLE => {
            ("SERVICE_UNAVAILABLE", "service temporarily unavailable")
        }
        s if s.is_server_error() => ("INTERNAL_ERROR", "internal server error"),
        _ => ("BAD_REQUEST", "bad request"),
    };
    envelope(status, code, message.to_owned(), None)
}

pub use user_service_domain::error::chain;
