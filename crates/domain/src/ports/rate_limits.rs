use async_trait::async_trait;

use crate::error::DomainResult;

/// A counter's value in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits counted in the window so far (0 when the key has no live window).
    pub count: u64,
    /// Seconds until the window ends and the count starts again from 0.
    pub reset_after_secs: u64,
}

/// Fixed-window counters shared by the request rate limits and the login throttle. A window starts
/// with the first hit on a key and is never extended by later hits, so every limit it enforces ends.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one hit on `key`, starting a window of `window_secs` if none is live.
    async fn hit(&self, key: &str, window_secs: u64) -> DomainResult<WindowCount>;
    /// The key's current count without counting.
    async fn peek(&self, key: &str) -> DomainResult<WindowCount>;
    /// Forgets the key.
    async fn clear(&self, key: &str) -> DomainResult<()>;
    /// Takes back one hit (never below zero, the window unchanged): an attempt that was counted
    /// in advance and turned out not to count.
    async fn undo(&self, key: &str) -> DomainResult<()>;
}

/// Waiting without blocking: the login throttle's growing delays. A port so that tests of the
/// throttle record the delays instead of spending them.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Pause: Send + Sync {
    /// Waits `duration`.
    async fn pause(&self, duration: std::time::Duration);
}
