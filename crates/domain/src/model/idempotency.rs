//! Idempotency keys: the first response to a keyed request, kept so that a retry replays it.

use chrono::{DateTime, Utc};

/// A key as the client sent it: 1-255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

/// The longest idempotency key, in characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

impl IdempotencyKey {
    /// A key of 1 to `IDEMPOTENCY_KEY_MAX` visible characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n == 0 || n > IDEMPOTENCY_KEY_MAX {
            Err(format!("must be 1-{IDEMPOTENCY_KEY_MAX} characters"))
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The response stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status of the first answer.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Its body, byte for byte.
    pub body: Vec<u8>,
}

/// A key's record: who claimed it with which request, and the response once there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// The caller's namespace: keys of different namespaces never meet.
    pub namespace: String,
    /// The key, scoped to its caller.
    pub key: String,
    /// The fingerprint of the first request (method, path, body); another request with the key is refused.
    pub request_hash: String,
    /// `None` while the first request is still running.
    pub response: Option<StoredResponse>,
    /// When the key was first claimed.
    pub created_at: DateTime<Utc>,
    /// After this instant the key is forgotten (`idempotency.ttl_secs`).
    pub expires_at: DateTime<Utc>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or expired): this request owns it now.
    Claimed,
    /// Someone holds the key; this is its live record.
    Taken(IdempotencyRecord),
}
