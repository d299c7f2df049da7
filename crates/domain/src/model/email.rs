//! Mails the service sends (address verification, password reset), the single-use tokens their
//! links carry, and the outbox rows that hold a mail until it is delivered.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::text::name_key;

/// What a mail and its token are for. A newer token of one purpose replaces the older one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailPurpose {
    /// Confirms the user's email address.
    VerifyEmail,
    /// Lets the user set a new password.
    PasswordReset,
}

impl EmailPurpose {
    /// The stored text form.
    pub fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::VerifyEmail => "verify_email",
            EmailPurpose::PasswordReset => "password_reset",
        }
    }

    /// The purpose of a stored text form, or `None` for an unknown one.
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
    /// SHA-256 of the token sent in the mail; the token itself is never stored.
    pub token_hash: String,
    /// What the token is for.
    pub purpose: EmailPurpose,
    /// The user it was issued to.
    pub user_id: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// The address the mail went to: a verification proves that address.
    pub email: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// After this instant it is refused.
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
    /// The sender (`email.from`, or the namespace's `mail_from`).
    pub from_address: String,
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text_body: String,
    /// The HTML body.
    pub html_body: String,
}

/// Where a mail in the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for its (next) attempt.
    Queued,
    /// Delivered to the transport.
    Sent,
    /// Given up after the last attempt.
    Failed,
}

impl OutboxStatus {
    /// The stored text form.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    /// The status of a stored text form, or `None` for an unknown one.
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
    /// The mail's id.
    pub id: Uuid,
    /// The namespace it was sent for.
    pub namespace: String,
    /// The mail itself.
    pub mail: Mail,
    /// Where it is in its delivery.
    pub status: OutboxStatus,
    /// Attempts made so far (a claim counts as one).
    pub attempts: u32,
    /// Not before this instant is it claimed (again).
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
}

/// How many mails of the outbox are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting to be sent (or sent again).
    pub queued: u64,
    /// Delivered.
    pub sent: u64,
    /// Given up on after the last attempt.
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
    /// The most mails allowed in the window.
    pub max: u32,
    /// The window's start.
    pub since: DateTime<Utc>,
}
