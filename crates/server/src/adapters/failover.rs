//! Limits never switch off: while the shared Redis cannot be reached, each instance counts in
//! process instead, says so in its log and in `/metrics`, and goes back to Redis as soon as it
//! answers. Counts made during the outage stay in the process that made them (the price of not
//! failing open); Redis resumes with whatever it held.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use prometheus::{IntCounter, IntGauge};
use user_service_domain::error::DomainResult;
use user_service_domain::ports::{RateLimitStore, WindowCount};

use super::MemoryStore;

/// How an outage shows in `/metrics`.
#[derive(Clone)]
pub struct FallbackSignals {
    /// Calls answered in process because Redis could not be reached.
    pub calls: IntCounter,
    /// 1 while limits are counted in process, 0 while Redis answers.
    pub active: IntGauge,
}

pub struct FailoverStore {
    primary: Arc<dyn RateLimitStore>,
    fallback: MemoryStore,
    degraded: AtomicBool,
    signals: FallbackSignals,
}

impl FailoverStore {
    pub fn new(
        primary: Arc<dyn RateLimitStore>,
        fallback: MemoryStore,
        signals: FallbackSignals,
    ) -> Self {
        Self {
            primary,
            fallback,
            degraded: AtomicBool::new(false),
            signals,
        }
    }

    /// The primary's answer, or the fallback's when the primary failed. The log says when the
    /// state changes, not on every call, so an outage cannot flood it.
    async fn either<T>(
        &self,
        primary: DomainResult<T>,
        fallback: impl Future<Output = DomainResult<T>>,
    ) -> DomainResult<T> {
        match primary {
            Ok(v) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    self.signals.active.set(0);
                    tracing::info!("Redis answers again: rate limits are shared again");
                }
                Ok(v)
            }
            Err(e) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    self.signals.active.set(1);
                    tracing::warn!(error = %user_service_domain::error::chain(&e), "Redis cannot be reached: rate limits and the login throttle are enforced in process until it answers");
                }
                self.signals.calls.inc();
                fallback.await
            }
        }
    }
}

#[async_trait]
impl RateLimitStore for FailoverStore {
    async fn hit(&self, key: &str, window_secs: u64) -> DomainResult<WindowCount> {
        let primary = self.primary.hit(key, window_secs).await;
        self.either(primary, self.fallback.hit(key, window_secs))
            .await
    }

    async fn peek(&self, key: &str) -> DomainResult<WindowCount> {
        let primary = self.primary.peek(key).await;
        self.either(primary, self.fallback.peek(key)).await
    }

    async fn clear(&self, key: &str) -> DomainResult<()> {
        let primary = self.primary.clear(key).await;
        self.either(primary, self.fallback.clear(key)).await
    }

    async fn undo(&self, key: &str) -> DomainResult<()> {
        let primary = self.primary.undo(key).await;
        self.either(primary, self.fallback.undo(key)).await
    }
}

#[cfg(test)]
mod tests {
    use user_service_domain::DomainError;
    use user_service_domain::ports::SystemClock;

    use super::*;

    /// A primary that is down until told otherwise, and counts 42 when up.
    #[derive(Default)]
    struct Flaky {
        up: AtomicBool,
    }

    #[async_trait]
    impl RateLimitStore for Flaky {
        async fn hit(&self, _key: &str, window_secs: u64) -> DomainResult<WindowCount> {
            self.peek("").await.map(|w| WindowCount {
                reset_after_secs: window_secs,
                ..w
            })
        }
        async fn peek(&self, _key: &str) -> DomainResult<WindowCount> {
            if self.up.load(Ordering::Relaxed) {
                Ok(WindowCount {
                    count: 42,
                    reset_after_secs: 1,
                })
            } else {
                Err(DomainError::unexpected("connection refused"))
            }
        }
        async fn clear(&self, _key: &str) -> DomainResult<()> {
            Ok(())
        }
        async fn undo(&self, _key: &str) -> DomainResult<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn counts_in_process_while_the_primary_fails_and_returns_to_it() {
        let primary = Arc::new(Flaky::default());
        let s = FallbackSignals {
            calls: IntCounter::new("c", "c").expect("valid"),
            active: IntGauge::new("g", "g").expect("valid"),
        };
        let store = FailoverStore::new(
            primary.clone(),
            MemoryStore::new(1000, Arc::new(SystemClock)),
            s.clone(),
        );
        for expected in 1..=3 {
            assert_eq!(store.hit("k", 60).await.expect("counted").count, expected);
            assert_eq!(s.active.get(), 1);
        }
        assert_eq!(store.peek("k").await.expect("counted").count, 3);
        assert_eq!(s.calls.get(), 4);
        primary.up.store(true, Ordering::Relaxed);
        assert_eq!(store.hit("k", 60).await.expect("counted").count, 42);
        assert_eq!((s.calls.get(), s.active.get()), (4, 0));
    }
}
