//! Adapters of domain ports that need the async runtime or an outside system, so cannot live in
//! the domain: the bcrypt pool (on threads, or in a child process), image processing, avatar
//! storage selection, the rate-limit counters (in process, Redis, and the failover between them),
//! the Prometheus registry, key generation on the blocking pool, the mail transports with the
//! outbox sender's loop, and the external issuers' key sets.

pub mod avatar_storage;
pub mod bcrypt_hasher;
pub mod external_tokens;
pub mod failover;
pub mod hash_process;
pub mod image_decode;
pub mod images;
pub mod key_generator;
pub mod mail;
pub mod memory_store;
pub mod prometheus;
pub mod redis_store;

use std::sync::Arc;

use user_service_domain::ports::{Clock, RateLimitStore};

pub use avatar_storage::open_avatar_store;
pub use bcrypt_hasher::{BcryptHasher, HashCapacity, HasherError};
pub use external_tokens::JwksExternalTokens;
pub use failover::{FailoverStore, FallbackSignals};
pub use images::{BlockingImageProcessor, ImageRules};
pub use key_generator::BlockingKeyGenerator;
pub use mail::{LogTransport, SmtpTransport, open_transport, spawn_sender};
pub use memory_store::MemoryStore;
pub use prometheus::PrometheusTelemetry;
pub use redis_store::RedisStore;

use crate::config::RateLimitSettings;

/// Redis when `rate_limit.redis_url` is set (limits shared by every instance, and in process while
/// Redis cannot be reached), else in process.
pub fn limit_store(
    settings: &RateLimitSettings,
    clock: Arc<dyn Clock>,
    signals: FallbackSignals,
) -> Result<Arc<dyn RateLimitStore>, String> {
    let memory = MemoryStore::new(MemoryStore::DEFAULT_CAPACITY, clock);
    if settings.redis_url.is_empty() {
        Ok(Arc::new(memory))
    } else {
        let redis = RedisStore::new(&settings.redis_url, &settings.redis_key_prefix)?;
        Ok(Arc::new(FailoverStore::new(
            Arc::new(redis),
            memory,
            signals,
        )))
    }
}
