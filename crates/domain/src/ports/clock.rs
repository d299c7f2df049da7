use chrono::{DateTime, SubsecRound, Utc};
use rand::RngCore;
use uuid::Uuid;

/// The current time. PostgreSQL keeps microseconds, so every time the service records is truncated
/// to microseconds here and reads back equal on every backend.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
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
