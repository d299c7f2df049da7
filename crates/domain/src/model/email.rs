//! Mails the service sends (address verification, password reset), the single-use tokens their
//! links carry, and the outbox rows that hold a mail until it is delivered.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::text::name_key;

/// What a mail and its token are for. A newer token of one purpose replaces the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailPurpose {
    VerifyEmail,
    PasswordReset,
}

impl EmailPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::VerifyEmail => "verify_email",
            EmailPurpose::PasswordReset => "password_reset",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "verify_email" => Some(EmailPurpose::VerifyEmail),
            "password_reset" => Some(EmailPurpose::PasswordReset),
            _ => None,
        }
    }
}

/// A stored email token. Only the SHA-256 of the secret is kept. `email` is the address the mail
/// went to: a verification proves that address, not whatever the account holds later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    pub token_hash: String,
    pub purpose: EmailPurpose,
    pub user_id: Uuid,
    pub namespace: String,
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When it was used, or replaced by a newer token of its purpose: either way it is dead.
    pub used_at: Option<DateTime<Utc>>,
}

impl EmailToken {
    /// The form the per-address quota counts by (`text::name_key`).
    pub fn email_key(&self) -> String {
        name_key(&self.email)
    }
}

/// A rendered mail, ready for any transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The display name of the sender (the app's name).
    pub from_name: Option<String>,
    pub from_address: String,
    pub to: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

/// Where a mail in the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its (next) attempt.
    Queued,
    Sent,
    /// Given up after the last attempt.
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "queued" => Some(OutboxStatus::Queued),
            "sent" => Some(OutboxStatus::Sent),
            "failed" => Some(OutboxStatus::Failed),
            _ => None,
        }
    }
}

/// A mail in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    pub id: Uuid,
    pub namespace: String,
    pub mail: Mail,
    pub status: OutboxStatus,
    /// Attempts made so far (a claim counts as one).
    pub attempts: u32,
    /// Not before this instant is it claimed (again).
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// How many mails of the outbox are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
}

/// What issuing a token with its mail came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issued {
    /// The token and its mail are stored; older tokens of the purpose are dead.
    Queued,
    /// The address already had its quota of mails of this purpose: nothing was stored.
    OverQuota,
}

/// At most `max` mails of one purpose to one address (of one namespace) created since `since`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailQuota {
    pub max: u32,
    pub since: DateTime<Utc>,
}
