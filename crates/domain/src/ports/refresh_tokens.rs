use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::{RefreshToken, Rotation};

/// Refresh tokens, stored by hash.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    /// Stores a newly issued token.
    async fn insert(&self, token: &RefreshToken) -> DomainResult<()>;
    /// The token with this hash.
    async fn find(&self, token_hash: &str) -> DomainResult<Option<RefreshToken>>;
    /// Presents the token `old_hash` for the successor `new` (same user and family, stamped with the
    /// token version the old one carries), deciding everything in one transaction that first takes
    /// the user's row lock, which every ending of sessions (a version raise, a family revocation) also
    /// takes, so no successor is stored by a refresh racing an ending:
    /// - `Refused` unless the user is active, live and still at `new.token_version`, and the old token
    ///   is known, of that family, version and user, unrevoked and unexpired;
    /// - `Rotated` when the old token was unspent: it is spent now and `new` stored;
    /// - `Reissued` when it was spent at or after `reuse_since`: `new` is stored;
    /// - `Replayed` when it was spent before `reuse_since`: nothing is stored.
    ///
    /// Storing `new` revokes the family's oldest live tokens beyond `RefreshToken::MAX_LIVE_PER_FAMILY`.
    async fn rotate(
        &self,
        old_hash: &str,
        new: &RefreshToken,
        reuse_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DomainResult<Rotation>;
    /// Revokes every token of the family, spent or not. Takes the family's user's row lock first, so
    /// a successor stored by a rotation racing it is either refused or seen and revoked.
    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> DomainResult<()>;
    /// Revokes every live token of the user (logout-all, password change, deactivation).
    async fn revoke_all_for_user(&self, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<()>;
}
