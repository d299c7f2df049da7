//! The request limits: per client IP per minute and per authenticated user per hour, whichever
//! protocol the request came by.

use std::sync::Arc;

use crate::ports::RateLimitStore;
use sha2::{Digest, Sha256};

/// What the response says about the limit that is closest to refusing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The limit of the window.
    pub limit: u64,
    /// Requests left in the window.
    pub remaining: u64,
    /// Unix seconds when the window ends.
    pub reset_at: u64,
    /// Set when the request is refused.
    pub retry_after: Option<u64>,
}

/// Per-address and per-user request limits (API.md 1.5).
pub struct RateLimiter {
    store: Arc<dyn RateLimitStore>,
    per_ip_per_minute: u64,
    per_user_per_hour: u64,
}

impl RateLimiter {
    /// Limits on `store`.
    pub fn new(
        store: Arc<dyn RateLimitStore>,
        per_ip_per_minute: u64,
        per_user_per_hour: u64,
    ) -> Self {
        Self {
            store,
            per_ip_per_minute,
            per_user_per_hour,
        }
    }

    /// Counts the request against the IP's and, when known, the user's window. `user` is a stable
    /// key for the token's subject (never the token itself: keys may be visible in Redis).
    pub async fn check(&self, ip: &str, user: Option<&str>, now_unix: u64) -> Decision {
        let mut windows = Vec::with_capacity(2);
        windows.push((format!("req:ip:{ip}"), 60, self.per_ip_per_minute));
        if let Some(user) = user {
            let key = hex::encode(&Sha256::digest(user.as_bytes())[..16]);
            windows.push((format!("req:user:{key}"), 3600, self.per_user_per_hour));
        }
        let mut decision: Option<Decision> = None;
        for (key, window, limit) in windows {
            // The stores fail open, so an error is not expected here; if one comes, let it through.
            let Ok(w) = self.store.hit(&key, window).await else {
                continue;
            };
            let refused = w.count > limit;
            let d = Decision {
                limit,
                remaining: limit.saturating_sub(w.count),
                reset_at: now_unix + w.reset_after_secs,
                retry_after: refused.then_some(w.reset_after_secs.max(1)),
            };
            decision = Some(match decision {
                None => d,
                Some(prev) => pick(prev, d),
            });
        }
        decision.unwrap_or(Decision {
            limit: self.per_ip_per_minute,
            remaining: self.per_ip_per_minute,
            reset_at: now_unix + 60,
            retry_after: None,
        })
    }
}

/// A refusal wins (the later one, if both refuse); otherwise the limit with fewer requests left.
fn pick(a: Decision, b: Decision) -> Decision {
    match (a.retry_after, b.retry_after) {
        (Some(x), Some(y)) => {
            if y > x {
                b
            } else {
                a
            }
        }
        (Some(_), None) => a,
        (None, Some(_)) => b,
        (None, None) => {
            if b.remaining < a.remaining {
                b
            } else {
                a
            }
        }
    }
}
