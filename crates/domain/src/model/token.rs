//! What a login hands out: a short-lived access token and an opaque, rotating refresh token.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The claims of an access token. `ver` is the user's token version when it was issued: a password
/// change, logout-all, deactivation or deletion raises the version and makes older tokens stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user's id.
    pub sub: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// The username.
    pub username: String,
    /// The user's roles.
    pub roles: Vec<String>,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The token's own id.
    pub jti: Uuid,
    /// The issuer (`auth.issuer`).
    pub iss: String,
    /// The user's token version when issued: a newer one makes the token stale.
    pub ver: i64,
    /// The user's email when it has one: seed 002's downstream services read it (API.md 7).
    /// Defaulted when reading, so tokens signed before the claim existed still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The namespace again, under the name seed 004's downstream services read (API.md 7).
    #[serde(default)]
    pub tenant_id: String,
}

/// A stored refresh token. Only the SHA-256 of the secret is kept; `family_id` ties together every
/// token descended from one login, so reuse of a spent one can revoke the whole login.
/// `token_version` is its user's token version when it was issued: once the user's version moves on
/// (logout-all, password change, deactivation, soft delete) the token never refreshes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: String,
    /// The login it descends from.
    pub family_id: Uuid,
    /// Whose token it is.
    pub user_id: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a new pair.
    pub spent_at: Option<DateTime<Utc>>,
    /// When it was revoked (logout, reuse detected, too many in the family).
    pub revoked_at: Option<DateTime<Utc>>,
    /// The user's token version when it was issued.
    pub token_version: i64,
}

impl RefreshToken {
    /// A family (one login) holds at most this many live (unspent, unrevoked) refresh tokens:
    /// issuing another revokes its oldest live one, so replays inside the leeway cannot multiply them.
    pub const MAX_LIVE_PER_FAMILY: usize = 5;
}

/// What presenting a refresh token for a successor came to, decided in one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// It was live: it is spent now and the successor is stored.
    Rotated,
    /// It was spent within the reuse leeway (another tab refreshed first): the successor is stored
    /// beside that tab's.
    Reissued,
    /// It was spent before the leeway: a replay. Nothing is stored.
    Replayed,
    /// Unknown, revoked, expired, or older than its user's current token version, or the user can no
    /// longer authenticate. Nothing is stored.
    Refused,
}

/// What the client receives after register, login, refresh and change-password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token (a JWT).
    pub access_token: String,
    /// The refresh token (opaque).
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Seconds the refresh token lives.
    pub refresh_expires_in: u64,
}
