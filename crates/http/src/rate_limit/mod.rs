//! Request rate limits and the counters behind them (also the login throttle's): one middleware,
//! one `RateLimitStore` port with an in-process and a Redis implementation chosen from config.

mod client_ip;
mod failover;
mod limiter;
mod memory;
mod middleware;
mod redis_store;

use std::sync::Arc;

use user_service_domain::ports::{Clock, RateLimitStore};

pub use client_ip::{ClientIp, TrustedProxies};
pub use failover::{FailoverStore, FallbackSignals};
pub use limiter::{Decision, RateLimiter};
pub use memory::MemoryStore;
pub use middleware::middleware;
pub use redis_store::RedisStore;

use crate::config::RateLimitSettings;

/// Redis when `rate_limit.redis_url` is set (limits shared by every instance, and in process while
/// Redis cannot be reached), else in process.
pub fn store(
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
