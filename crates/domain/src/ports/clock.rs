use chrono::{DateTime, SubsecRound, Utc};
use rand::RngCore;
use uuid::Uuid;

/// The current time. PostgreSQL keeps microseconds, so every time the service records is truncated
/// to microseconds here and reads back equal on every backend.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock that moves only when told to: tests of expiry (tokens, leeways, idempotency keys) move
/// time forward instead of waiting for it. Starts at the current time, so tokens it stamps are
/// plausible to anything else that reads them.
pub struct ManualClock {
    now: std::sync::Mutex<DateTime<Utc>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock standing at the current instant until advanced.
    pub fn new() -> Self {
        Self {
            now: std::sync::Mutex::new(SystemClock.now()),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// New identifiers and secrets.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A time-ordered UUID (v7).
    fn new_id(&self) -> Uuid;
    /// 256 random bits, URL-safe base64 without padding.
    fn new_secret(&self) -> String;
}

/// UUID v7 ids from the system's clock and random numbers.
pub struct SystemIds;

impl IdGenerator for SystemIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
    fn new_secret(&self) -> String {
        use base64::Engine as _;
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
