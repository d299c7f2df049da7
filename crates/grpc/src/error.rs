//! The single mapping from a domain error to a gRPC status (API.md 6): the code, the contract's
//! error code in `error-code` metadata, the request id in `x-request-id`.

use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::{Code, Status};
use user_service_domain::DomainError;
use user_service_domain::error::chain;

/// The status of `e`, answered to the call whose request id is `request_id`.
pub fn status(e: DomainError, request_id: &str) -> Status {
    use DomainError as E;
    let (code, error_code) = match &e {
        E::Validation(_) => (Code::InvalidArgument, "VALIDATION_ERROR"),
        E::BadRequest(_) => (Code::InvalidArgument, "BAD_REQUEST"),
        E::UsernameTaken { .. } => (Code::InvalidArgument, "USERNAME_TAKEN"),
        E::EmailTaken { .. } => (Code::InvalidArgument, "EMAIL_TAKEN"),
        E::PasswordTooShort => (Code::InvalidArgument, "PASSWORD_TOO_SHORT"),
        E::PasswordTooLong => (Code::InvalidArgument, "PASSWORD_TOO_LONG"),
        E::WrongPassword => (Code::InvalidArgument, "WRONG_PASSWORD"),
        E::InvalidImage(_) => (Code::InvalidArgument, "INVALID_IMAGE"),
        E::InsufficientCredits => (Code::InvalidArgument, "INSUFFICIENT_CREDITS"),
        E::EmailTokenInvalid => (Code::InvalidArgument, "EMAIL_TOKEN_INVALID"),
        E::InvalidCredentials => (Code::Unauthenticated, "INVALID_CREDENTIALS"),
        E::TokenMissing => (Code::Unauthenticated, "TOKEN_MISSING"),
        E::TokenInvalid => (Code::Unauthenticated, "TOKEN_INVALID"),
        E::TokenExpired => (Code::Unauthenticated, "TOKEN_EXPIRED"),
        E::TokenStale => (Code::Unauthenticated, "TOKEN_STALE"),
        E::ApiKeyInvalid => (Code::Unauthenticated, "API_KEY_INVALID"),
        E::Forbidden(_) => (Code::PermissionDenied, "FORBIDDEN"),
        E::EmailNotVerified => (Code::PermissionDenied, "EMAIL_NOT_VERIFIED"),
        E::NamespaceNotFound(_) => (Code::NotFound, "NAMESPACE_NOT_FOUND"),
        E::UserNotFound => (Code::NotFound, "USER_NOT_FOUND"),
        E::SessionNotFound => (Code::NotFound, "SESSION_NOT_FOUND"),
        E::NotFound => (Code::NotFound, "NOT_FOUND"),
        E::NamespaceExists(_) => (Code::AlreadyExists, "NAMESPACE_EXISTS"),
        E::Conflict(_) => (Code::AlreadyExists, "CONFLICT"),
        E::IdempotencyKeyReused => (Code::AlreadyExists, "IDEMPOTENCY_KEY_REUSED"),
        E::IdempotencyKeyInUse => (Code::AlreadyExists, "IDEMPOTENCY_KEY_IN_USE"),
        E::PayloadTooLarge => (Code::ResourceExhausted, "PAYLOAD_TOO_LARGE"),
        E::RateLimited { .. } => (Code::ResourceExhausted, "RATE_LIMIT_EXCEEDED"),
        E::Unavailable { .. } => (Code::Unavailable, "SERVICE_UNAVAILABLE"),
        E::Unexpected(_) => (Code::Internal, "INTERNAL_ERROR"),
    };
    let retry_after = match &e {
        E::RateLimited { retry_after_secs } | E::Unavailable { retry_after_secs } => {
            Some((*retry_after_secs).max(1))
        }
        _ => None,
    };
    let message = match e {
        E::Unexpected(cause) => {
            tracing::error!(error = %chain(cause.as_ref()), request_id, "unexpected error");
            "internal server error".to_owned()
        }
        // Each failed field by name and rule, never the submitted value.
        E::Validation(details) => {
            let fields: Vec<String> = details.iter().map(ToString::to_string).collect();
            format!("validation failed: {}", fields.join("; "))
        }
        other => other.to_string(),
    };
    let mut status = Status::new(code, message);
    let metadata = status.metadata_mut();
    metadata.insert("error-code", AsciiMetadataValue::from_static(error_code));
    if let Ok(id) = AsciiMetadataValue::try_from(request_id) {
        metadata.insert("x-request-id", id);
    }
    if let Some(secs) = retry_after {
        metadata.insert("retry-after", MetadataValue::from(secs));
    }
    status
}
