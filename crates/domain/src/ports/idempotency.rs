use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::DomainResult;
use crate::model::{Claim, StoredResponse};

/// Where idempotency keys live. Claiming is an insert that the primary key decides: of many
/// concurrent claims of one key exactly one gets `Claimed`.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `(namespace, key)` for a request with `request_hash`. A record that expired at or before
    /// `now` counts as absent and is replaced.
    async fn claim(
        &self,
        namespace: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DomainResult<Claim>;
    /// Stores the response of the request that claimed the key, kept until `expires_at`.
    async fn complete(
        &self,
        namespace: &str,
        key: &str,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> DomainResult<()>;
    /// Frees a claimed key whose request failed, so a retry may run.
    async fn release(&self, namespace: &str, key: &str) -> DomainResult<()>;
    /// Deletes every record expired at `now`; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> DomainResult<u64>;
}
