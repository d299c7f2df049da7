//! The errors the service can answer with. Adapters translate their own failures into these; the HTTP
//! crate maps each to one status and code in one function.

use std::fmt;

/// One failed check of one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("username '{username}' is already taken in namespace '{namespace}'")]
    UsernameTaken { namespace: String, username: String },
    #[error("email is already taken in namespace '{namespace}'")]
    EmailTaken { namespace: String },
    #[error("password must be at least 8 characters")]
    PasswordTooShort,
    #[error("password must be at most 72 bytes")]
    PasswordTooLong,
    #[error("current password is wrong")]
    WrongPassword,
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error("insufficient credits")]
    InsufficientCredits,
    /// An email token that is unknown, expired, used or replaced by a newer one: all look the same.
    #[error("the link is invalid or has expired")]
    EmailTokenInvalid,

    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("authentication required")]
    TokenMissing,
    #[error("token is invalid")]
    TokenInvalid,
    #[error("token has expired")]
    TokenExpired,
    #[error("token is no longer valid")]
    TokenStale,
    #[error("API key is missing or invalid")]
    ApiKeyInvalid,

    #[error("{0}")]
    Forbidden(String),
    /// The right password, in a namespace that requires a verified email, before it is verified.
    #[error("the email address is not verified yet")]
    EmailNotVerified,

    #[error("namespace '{0}' not found")]
    NamespaceNotFound(String),
    #[error("user not found")]
    UserNotFound,
    #[error("session not found")]
    SessionNotFound,
    #[error("not found")]
    NotFound,

    #[error("namespace '{0}' already exists")]
    NamespaceExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error("idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyKeyInUse,

    #[error("payload too large")]
    PayloadTooLarge,
    #[error("rate limit exceeded")]
    RateLimited { retry_after_secs: u64 },
    /// A bounded resource (the database, the password hashing line) cannot take the request now.
    #[error("service temporarily unavailable")]
    Unavailable { retry_after_secs: u64 },
    /// Anything the caller cannot act on. The cause is kept for the log, never shown.
    #[error("unexpected error")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DomainError {
    pub fn unexpected(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unexpected(cause.into())
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// An error and its causes, for the log.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cur = c.source();
    }
    out
}
