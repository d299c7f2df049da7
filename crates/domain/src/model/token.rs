//! What a login hands out: a short-lived access token and an opaque, rotating refresh token.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an access token. `ver` is the user's token version when it was issued: a password
/// change, logout-all, deactivation or deletion raises the version and makes older tokens stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: Uuid,
    pub namespace: String,
    pub username: String,
    pub roles: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub iss: String,
    pub ver: i64,
}

/// A stored refresh token. Only the SHA-256 of the secret is kept; `family_id` ties together every
/// token descended from one login, so reuse of a spent one can revoke the whole login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub namespace: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub spent_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What the client receives after register, login, refresh and change-password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
}
