//! The one place where Diesel's and the pool's failures become errors: `DbError` for start-up
//! (connecting, migrating), `DomainError` for everything an adapter method answers.

use diesel::result::{DatabaseErrorKind, Error};
use user_service_domain::DomainError;

/// What can go wrong before the service takes requests. The causes are rendered into the message:
/// these are printed once at start-up, by code that may not walk `source()` chains.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "unsupported database URL: expected postgres://…, postgresql://… or sqlite://PATH (got scheme '{0}')"
    )]
    UnsupportedUrl(String),
    #[error("cannot create the directory '{path}' for the SQLite database: {cause}")]
    CreateDir { path: String, cause: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("database migrations failed: {0}")]
    Migration(String),
}

/// The retry hint given when the database cannot take a request now.
const RETRY_AFTER_SECS: u64 = 1;

/// What a unique violation was about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conflict {
    Username,
    Email,
    NamespaceSlug,
    Other,
}

/// Reads the violated constraint from its name (PostgreSQL: `users_username_live_uq`) or, where the
/// driver gives none, from the message (SQLite: `UNIQUE constraint failed: users.namespace, users.username_fold`).
pub(crate) fn conflict(err: &Error) -> Option<Conflict> {
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = err else {
        return None;
    };
    let what = info.constraint_name().unwrap_or_else(|| info.message());
    Some(if what.contains("username") {
        Conflict::Username
    } else if what.contains("email") {
        Conflict::Email
    } else if what == "namespaces_pkey" || what.contains("namespaces.slug") {
        Conflict::NamespaceSlug
    } else {
        Conflict::Other
    })
}

/// Any unique violation, whichever index it was: for tables with a single unique constraint that
/// can be hit by the insert at hand.
pub(crate) fn is_unique_violation(err: &Error) -> bool {
    matches!(
        err,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

fn is_foreign_key_violation(err: &Error) -> bool {
    matches!(
        err,
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _)
    )
}

/// Any failure an adapter method does not expect. A lost connection or a SQLite write lock held past
/// the busy timeout is worth retrying, so it becomes `Unavailable`; the rest is `Unexpected`.
pub(crate) fn db(err: Error) -> DomainError {
    let transient = match &err {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => {
            let message = info.message();
            message.contains("database is locked") || message.contains("database table is locked")
        }
        _ => false,
    };
    if transient {
        tracing::warn!(error = %err, "database temporarily unavailable");
        DomainError::Unavailable {
            retry_after_secs: RETRY_AFTER_SECS,
        }
    } else {
        DomainError::unexpected(err)
    }
}

/// No pooled connection within the pool's timeout: the database is down or saturated.
pub(crate) fn pool(err: diesel::r2d2::PoolError) -> DomainError {
    tracing::warn!(error = %err, "no database connection available");
    DomainError::Unavailable {
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// Every connection the pool handed out was dead: the database is down.
pub(crate) fn pool_exhausted() -> DomainError {
    tracing::warn!("no live database connection available");
    DomainError::Unavailable {
        retry_after_secs: RETRY_AFTER_SECS,
    }
}

/// A stored value that does not parse back (a malformed UUID or JSON column).
pub(crate) fn corrupt(
    column: &'static str,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> DomainError {
    DomainError::unexpected(CorruptValue {
        column,
        cause: Box::new(cause),
    })
}

#[derive(Debug, thiserror::Error)]
#[error("stored value of {column} is malformed")]
struct CorruptValue {
    column: &'static str,
    #[source]
    cause: Box<dyn std::error::Error + Send + Sync>,
}

/// Inserting or updating a user: a live username or email of the namespace is taken, or the
/// namespace itself does not exist.
pub(crate) fn user_write(err: Error, namespace: &str, username: &str) -> DomainError {
    match conflict(&err) {
        Some(Conflict::Username) => DomainError::UsernameTaken {
            namespace: namespace.to_owned(),
            username: username.to_owned(),
        },
        Some(Conflict::Email) => DomainError::EmailTaken {
            namespace: namespace.to_owned(),
        },
        _ if is_foreign_key_violation(&err) => DomainError::NamespaceNotFound(namespace.to_owned()),
        _ => db(err),
    }
}

/// Creating a namespace whose slug is taken.
pub(crate) fn namespace_write(err: Error, slug: &str) -> DomainError {
    match conflict(&err) {
        Some(Conflict::NamespaceSlug) => DomainError::NamespaceExists(slug.to_owned()),
        _ => db(err),
    }
}

/// Storing a refresh token of a user that does not exist.
pub(crate) fn refresh_token_write(err: Error) -> DomainError {
    if is_foreign_key_violation(&err) {
        DomainError::UserNotFound
    } else {
        db(err)
    }
}
