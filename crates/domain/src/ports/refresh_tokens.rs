use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::RefreshToken;

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RefreshTokenRepository: Send + Sync {
    async fn insert(&self, token: &RefreshToken) -> DomainResult<()>;
    async fn find(&self, token_hash: &str) -> DomainResult<Option<RefreshToken>>;
    /// Spends `old_hash` and stores `new` in one transaction, but only if `old_hash` was neither spent
    /// nor revoked: the conditional update is the single point where concurrent refreshes are decided.
    /// Returns false (and stores nothing) when another request spent it first.
    async fn rotate(
        &self,
        old_hash: &str,
        new: &RefreshToken,
        now: DateTime<Utc>,
    ) -> DomainResult<bool>;
    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> DomainResult<()>;
    async fn revoke_all_for_user(&self, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<()>;
}
