//! `Idempotency-Key`: the first request with a key runs and its response is kept; a retry with the
//! same request replays it; another request with the key is refused. Independent of HTTP: the
//! adapter hands in a fingerprint of the request and the response's bytes.
//!
//! A key belongs to its caller: the stored key is a hash of the caller and the key the client sent,
//! so one caller's key never blocks or replays another's. A claim is a lease: a request that never
//! finishes (the process stopped) frees its key when the lease runs out, and a request whose client
//! went away frees it at once (the adapter calls `abandon`).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Duration;
use sha2::{Digest, Sha256};

use crate::error::{DomainError, DomainResult};
use crate::model::{Claim, IdempotencyKey, Principal, StoredResponse};
use crate::ports::{Clock, IdempotencyStore};

/// Expired keys are deleted at most this often, by whichever request comes along.
const PURGE_EVERY_SECS: i64 = 60;

/// How long a claim holds its key before a response is kept. Longer than any request can run (the
/// body must arrive within `server.body_timeout_secs`, 30 s by default, and the work after it is a
/// few statements), short enough that a retry after a crash is applied within minutes.
pub const IN_FLIGHT_LEASE_SECS: i64 = 120;

/// A key as it is stored: the namespace, and the client's key bound to the caller that sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedKey {
    namespace: String,
    key: String,
}

impl ScopedKey {
    /// The key of `caller`; `None` for a caller outside every namespace (the operator), whose
    /// requests are not claimed.
    pub fn new(caller: &Principal, key: &IdempotencyKey) -> Option<Self> {
        let who = match caller {
            Principal::Operator => return None,
            Principal::User(u) => format!("user:{}", u.id),
            Principal::Service { namespace } => format!("service:{namespace}"),
        };
        let namespace = caller.namespace()?.to_owned();
        Some(Self {
            key: fingerprint(&[who.as_bytes(), key.as_str().as_bytes()]),
            namespace,
        })
    }

    /// The namespace the key belongs to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// What the store keys on: fixed length, and never the client's text.
    pub fn stored_key(&self) -> &str {
        &self.key
    }
}

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

/// Idempotency keys: the first request runs, a retry gets its stored answer.
pub struct IdempotencyService {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    last_purge: AtomicI64,
}

impl IdempotencyService {
    /// Keys kept `ttl_secs`.
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>, ttl_secs: u64) -> Self {
        Self {
            store,
            clock,
            ttl: Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 1000).max(1)),
            last_purge: AtomicI64::new(i64::MIN),
        }
    }

    /// Claims `key` for the request whose fingerprint is `request_hash`, for the in-flight lease.
    pub async fn begin(&self, key: &ScopedKey, request_hash: &str) -> DomainResult<Begin> {
        let now = self.clock.now();
        self.purge_now_and_then(now).await;
        let lease_ends = now + Duration::seconds(IN_FLIGHT_LEASE_SECS).min(self.ttl);
        match self
            .store
            .claim(&key.namespace, &key.key, request_hash, now, lease_ends)
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

    /// Keeps the response for replay for the full time to live; a server error frees the key
    /// instead, so a retry can run.
    pub async fn finish(&self, key: &ScopedKey, response: &StoredResponse) -> DomainResult<()> {
        if response.status >= 500 {
            self.store.release(&key.namespace, &key.key).await
        } else {
            let expires_at = self.clock.now() + self.ttl;
            self.store
                .complete(&key.namespace, &key.key, response, expires_at)
                .await
        }
    }

    /// Frees a key whose request never produced a response to keep.
    pub async fn abandon(&self, key: &ScopedKey) -> DomainResult<()> {
        self.store.release(&key.namespace, &key.key).await
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
