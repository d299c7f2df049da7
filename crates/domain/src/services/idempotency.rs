//! `Idempotency-Key`: the first request with a key runs and its response is kept; a retry with the
//! same request replays it; another request with the key is refused. Independent of HTTP: the
//! adapter hands in a fingerprint of the request and the response's bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, DomainResult};
use crate::model::{Claim, IdempotencyKey, StoredResponse};
use crate::ports::{Clock, IdempotencyStore};

/// Expired keys are deleted at most this often, by whichever request comes along.
const PURGE_EVERY_SECS: i64 = 60;

/// What to do with a keyed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// The key is this request's now: run it, then `finish`.
    Proceed,
    /// The same request already ran: answer this, apply nothing.
    Replay(StoredResponse),
}

/// A stable fingerprint of a request from its parts. Each part is length-prefixed, so no two
/// different lists of parts hash alike.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

pub struct IdempotencyService {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    last_purge: AtomicI64,
}

impl IdempotencyService {
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, ttl_secs: u64) -> Self {
        Self {
            store,
            clock,
            ttl: Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 1000).max(1)),
            last_purge: AtomicI64::new(i64::MIN),
        }
    }

    /// Claims `key` in `namespace` for the request whose fingerprint is `request_hash`.
    pub async fn begin(
        &self,
        namespace: &str,
        key: &IdempotencyKey,
        request_hash: &str,
    ) -> DomainResult<Begin> {
        let now = self.clock.now();
        self.purge_now_and_then(now).await;
        let expires_at = now + self.ttl;
        match self
            .store
            .claim(namespace, key.as_str(), request_hash, now, expires_at)
            .await?
        {
            Claim::Claimed => Ok(Begin::Proceed),
            Claim::Taken(record) if record.request_hash != request_hash => {
                Err(DomainError::IdempotencyKeyReused)
            }
            Claim::Taken(record) => match record.response {
                Some(response) => Ok(Begin::Replay(response)),
                None => Err(DomainError::IdempotencyKeyInUse),
            },
        }
    }

    /// Keeps the response for replay; a server error frees the key instead, so a retry can run.
    pub async fn finish(
        &self,
        namespace: &str,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> DomainResult<()> {
        if response.status >= 500 {
            self.store.release(namespace, key.as_str()).await
        } else {
            self.store.complete(namespace, key.as_str(), response).await
        }
    }

    /// Frees a key whose request never produced a response to keep.
    pub async fn abandon(&self, namespace: &str, key: &IdempotencyKey) -> DomainResult<()> {
        self.store.release(namespace, key.as_str()).await
    }

    async fn purge_now_and_then(&self, now: chrono::DateTime<chrono::Utc>) {
        let last = self.last_purge.load(Ordering::Relaxed);
        let due = now.timestamp().saturating_sub(last) >= PURGE_EVERY_SECS;
        if due
            && self
                .last_purge
                .compare_exchange(last, now.timestamp(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // Housekeeping only: expired keys are already ignored by `claim`, so a failed purge
            // must not fail the request that happened to trigger it.
            let _ = self.store.purge_expired(now).await;
        }
    }
}
