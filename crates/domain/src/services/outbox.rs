//! Delivering the outbox: claim what is due, hand each mail to the transport, record the outcome,
//! retry with exponential backoff. The loop that calls `deliver_due` (and its timer) belongs to the
//! composition root; the rules are here.

use std::sync::Arc;

use chrono::Duration;

use crate::error::DomainResult;
use crate::ports::{Clock, IdGenerator, MailOutbox, MailTransport};

/// The knobs of delivery.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// Mails claimed at once.
    pub batch: u32,
    /// How long a claim holds a mail. Longer than any delivery can take (the transport's own
    /// timeout), or a second sender could deliver a mail the first is still delivering.
    pub lease_secs: u64,
    /// Attempts before a mail is given up (`failed`).
    pub max_attempts: u32,
    /// The wait after the first failed attempt; doubled after each further one.
    pub backoff_base_secs: u64,
    /// The longest wait between attempts.
    pub backoff_max_secs: u64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            batch: 20,
            lease_secs: 300,
            max_attempts: 10,
            backoff_base_secs: 10,
            backoff_max_secs: 3600,
        }
    }
}

impl DeliveryPolicy {
    /// The wait before the next attempt after `attempts` failed ones: base, 2×base, 4×base, … capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(32);
        let secs = self
            .backoff_base_secs
            .saturating_mul(1u64 << doublings)
            .min(self.backoff_max_secs);
        Duration::seconds(secs as i64)
    }
}

/// What one round of delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails delivered.
    pub sent: u32,
    /// Failed attempts that will be retried.
    pub retried: u32,
    /// Mails given up for good.
    pub failed: u32,
}

impl DeliveryReport {
    /// Attempts made in the round.
    pub fn attempts(&self) -> u32 {
        self.sent + self.retried + self.failed
    }
}

/// Delivers the outbox's mails, with retries and leases.
pub struct OutboxSender {
    outbox: Arc<dyn MailOutbox>,
    transport: Arc<dyn MailTransport>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    policy: DeliveryPolicy,
}

impl OutboxSender {
    /// The sender on its ports.
    pub fn new(
        outbox: Arc<dyn MailOutbox>,
        transport: Arc<dyn MailTransport>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        policy: DeliveryPolicy,
    ) -> Self {
        Self {
            outbox,
            transport,
            clock,
            ids,
            policy,
        }
    }

    /// Its delivery policy.
    pub fn policy(&self) -> &DeliveryPolicy {
        &self.policy
    }

    /// Claims the mails due now and delivers them one after the other. A mail whose attempt fails
    /// is queued again after its backoff, or failed for good after the last attempt or when the
    /// server refused it outright.
    pub async fn deliver_due(&self) -> DomainResult<DeliveryReport> {
        let claim = self.ids.new_id();
        let now = self.clock.now();
        let lease_until = now + Duration::seconds(self.policy.lease_secs as i64);
        let due = self
            .outbox
            .claim(claim, now, lease_until, self.policy.batch)
            .await?;
        let mut report = DeliveryReport::default();
        for entry in due {
            match self.transport.send(entry.id, &entry.mail).await {
                Ok(()) => {
                    self.outbox
                        .record_sent(entry.id, claim, self.clock.now())
                        .await?;
                    report.sent += 1;
                }
                Err(e) => {
                    let last = e.permanent || entry.attempts >= self.policy.max_attempts;
                    let retry_at =
                        (!last).then(|| self.clock.now() + self.policy.backoff(entry.attempts));
                    self.outbox
                        .record_failure(entry.id, claim, &e.message, retry_at)
                        .await?;
                    if last {
                        report.failed += 1;
                    } else {
                        report.retried += 1;
                    }
                }
            }
        }
        Ok(report)
    }
}
