use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::DomainResult;
use crate::model::{SigningAlgorithm, SigningKeyRecord};
use crate::signing::GeneratedKey;

/// Where signing keys are kept. The store guarantees at most one active key (one with no
/// `retired_at`), so instances racing to create or rotate one cannot end up with two.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SigningKeyRepository: Send + Sync {
    /// The active key and every key retired after `retired_after`, oldest first.
    async fn list(&self, retired_after: DateTime<Utc>) -> DomainResult<Vec<SigningKeyRecord>>;

    /// Stores `key` (which must be active) when no key is active; `false`, storing nothing, when
    /// one already is (another instance made it first).
    async fn insert_first(&self, key: &SigningKeyRecord) -> DomainResult<bool>;

    /// In one transaction, retires the active key at `now` and stores `key` as the active one;
    /// `false`, changing nothing, when a concurrent rotation made another key active first.
    async fn rotate(&self, key: &SigningKeyRecord, now: DateTime<Utc>) -> DomainResult<bool>;
}

/// Makes new key pairs. Generating an RSA key is CPU work of a noticeable fraction of a second,
/// so the runtime decides where it runs (`InlineKeyGenerator` runs it on the caller's thread).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait KeyGenerator: Send + Sync {
    /// A new key pair for `algorithm` (EdDSA or RS256).
    async fn generate(&self, algorithm: SigningAlgorithm) -> DomainResult<GeneratedKey>;
}

/// Generates keys on the calling thread: for tools, tests and embedding programs that are not
/// serving requests while they do it.
pub struct InlineKeyGenerator;

#[async_trait]
impl KeyGenerator for InlineKeyGenerator {
    async fn generate(&self, algorithm: SigningAlgorithm) -> DomainResult<GeneratedKey> {
        crate::signing::generate_key(algorithm)
    }
}
