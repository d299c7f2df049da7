use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::{EmailPurpose, EmailToken, Issued, Mail, MailQuota, OutboxCounts, OutboxMail};

/// Email tokens and the mails that carry them. A token and its mail are stored together or not at
/// all, so a mail is never lost after its token was stored, and never sent for a token that was not.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EmailTokenRepository: Send + Sync {
    /// In one transaction, ordered against every other issue for the same user (it takes the user's
    /// row lock first): counts the tokens of `token.purpose` created for the address
    /// (`token.email_key()`) in the namespace since `quota.since`; at `quota.max` or more stores
    /// nothing and answers `OverQuota`. Otherwise marks every live token of the user and purpose
    /// used (a newer token replaces the older), stores `token`, and queues `mail` in the outbox.
    async fn issue(
        &self,
        token: &EmailToken,
        mail: &OutboxMail,
        quota: MailQuota,
    ) -> DomainResult<Issued>;
    /// Uses the token in one conditional write: when it is of `purpose`, unused and unexpired at
    /// `now` it is marked used and returned; otherwise `None` (and nothing changes). Of two
    /// concurrent uses exactly one gets it.
    async fn consume(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<EmailToken>>;
}

/// The delivery side of the outbox.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait MailOutbox: Send + Sync {
    /// Claims up to `limit` queued mails due at `now` (oldest first) for the claim `claim`: each
    /// counts one more attempt and is not due again before `lease_until`, so no other sender takes
    /// it while this one delivers, and a sender that dies leaves it to be claimed again after the
    /// lease. Concurrent claims (several instances) never return one mail twice.
    async fn claim(
        &self,
        claim: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DomainResult<Vec<OutboxMail>>;
    /// Records the delivery of mail `id`, if `claim` still holds it; false otherwise.
    async fn record_sent(&self, id: Uuid, claim: Uuid, now: DateTime<Utc>) -> DomainResult<bool>;
    /// Records a failed attempt of mail `id`, if `claim` still holds it: queued again for
    /// `retry_at`, or failed for good when `None`. False when the claim no longer holds it.
    async fn record_failure(
        &self,
        id: Uuid,
        claim: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> DomainResult<bool>;
    /// How many mails are queued, sent and failed.
    async fn counts(&self) -> DomainResult<OutboxCounts>;
}

/// Why a mail was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// For the log and the outbox row; never shown to a client.
    pub message: String,
    /// The server refused the mail itself (a 5xx answer): retrying will not help.
    pub permanent: bool,
}

/// Hands a mail to the world (an SMTP server, a log).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Delivers `mail` (its outbox id `id` lets a transport avoid sending it twice).
    async fn send(&self, id: Uuid, mail: &Mail) -> Result<(), DeliveryError>;
}
