//! The errors the service can answer with. Adapters translate their own failures into these; the HTTP
//! crate maps each to one status and code in one function.

use std::fmt;

/// One failed check of one input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field (body, query or path parameter) that failed, by its name in the contract.
    pub field: String,
    /// What the field must be; never the submitted value.
    pub message: String,
}

impl FieldError {
    /// A failure of `field`, saying what is expected.
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

/// Every way an operation can fail, one variant per error code of API.md 1.4 (`Unexpected` is the 500).
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// 400 `VALIDATION_ERROR`: one entry per failing field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 400 `BAD_REQUEST`: a malformed request (JSON that does not parse, a duplicated credential header).
    #[error("{0}")]
    BadRequest(String),
    /// 400 `USERNAME_TAKEN`: the username (case-insensitively) is held in the namespace.
    #[error("username '{username}' is already taken in namespace '{namespace}'")]
    UsernameTaken {
        /// The namespace.
        namespace: String,
        /// The username as given.
        username: String,
    },
    /// 400 `EMAIL_TAKEN`: the email (case-insensitively) is held in the namespace.
    #[error("email is already taken in namespace '{namespace}'")]
    EmailTaken {
        /// The namespace.
        namespace: String,
    },
    /// 400 `PASSWORD_TOO_SHORT`: fewer than 8 characters.
    #[error("password must be at least 8 characters")]
    PasswordTooShort,
    /// 400 `PASSWORD_TOO_LONG`: more than 72 bytes.
    #[error("password must be at most 72 bytes")]
    PasswordTooLong,
    /// 400 `WRONG_PASSWORD`: the current password given to change the password or delete the account is wrong.
    #[error("current password is wrong")]
    WrongPassword,
    /// 400 `INVALID_IMAGE`: an avatar that is not a JPEG, PNG or WebP image within the limits.
    #[error("invalid image: {0}")]
    InvalidImage(String),
    /// 400 `INSUFFICIENT_CREDITS`: the balance does not cover a consume.
    #[error("insufficient credits")]
    InsufficientCredits,
    /// An email token that is unknown, expired, used or replaced by a newer one: all look the same.
    #[error("the link is invalid or has expired")]
    EmailTokenInvalid,

    /// 401 `INVALID_CREDENTIALS`: a login that fails, for whatever reason.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 401 `TOKEN_MISSING`: a route that needs a bearer token got none.
    #[error("authentication required")]
    TokenMissing,
    /// 401 `TOKEN_INVALID`: not a token of ours (signature, algorithm, key id, issuer or shape).
    #[error("token is invalid")]
    TokenInvalid,
    /// 401 `TOKEN_EXPIRED`: past `exp` and the leeway.
    #[error("token has expired")]
    TokenExpired,
    /// 401 `TOKEN_STALE`: the user's token version moved on (logout-all, password change, deactivation).
    #[error("token is no longer valid")]
    TokenStale,
    /// 401 `API_KEY_INVALID`: a missing or wrong service or operator key.
    #[error("API key is missing or invalid")]
    ApiKeyInvalid,

    /// 403 `FORBIDDEN`, saying what is not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The right password, in a namespace that requires a verified email, before it is verified.
    #[error("the email address is not verified yet")]
    EmailNotVerified,

    /// 404 `NAMESPACE_NOT_FOUND` for the named namespace.
    #[error("namespace '{0}' not found")]
    NamespaceNotFound(String),
    /// 404 `USER_NOT_FOUND`, also for a user of another namespace.
    #[error("user not found")]
    UserNotFound,
    /// 404 `SESSION_NOT_FOUND`, also for another user's session.
    #[error("session not found")]
    SessionNotFound,
    /// 404 `NOT_FOUND`: any other unknown resource.
    #[error("not found")]
    NotFound,

    /// 409 `NAMESPACE_EXISTS` for the named namespace.
    #[error("namespace '{0}' already exists")]
    NamespaceExists(String),
    /// 409 `CONFLICT`: a duplicate on the admin API, or an operation the state does not allow.
    #[error("{0}")]
    Conflict(String),
    /// 409 `IDEMPOTENCY_KEY_REUSED`: the key was used with another request body.
    #[error("idempotency key was already used with a different request")]
    IdempotencyKeyReused,
    /// 409 `IDEMPOTENCY_KEY_IN_USE`: the key's first request is still running.
    #[error("a request with this idempotency key is still in progress")]
    IdempotencyKeyInUse,

    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 429 `RATE_LIMIT_EXCEEDED`.
    #[error("rate limit exceeded")]
    RateLimited {
        /// Seconds until a request may succeed (`Retry-After`).
        retry_after_secs: u64,
    },
    /// A bounded resource (the database, the password hashing line) cannot take the request now.
    #[error("service temporarily unavailable")]
    Unavailable {
        /// Seconds after which to try again (`Retry-After`).
        retry_after_secs: u64,
    },
    /// Anything the caller cannot act on. The cause is kept for the log, never shown.
    #[error("unexpected error")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DomainError {
    /// A 500 whose `cause` is logged, never shown to the caller.
    pub fn unexpected(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unexpected(cause.into())
    }

    /// A `Validation` error of one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// The result of every domain operation.
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
