//! The current user's own account: read, update, delete.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{ProfileChanges, User};
use crate::ports::{Clock, PasswordHasher, RefreshTokenRepository, UserRepository};

pub struct ProfileService {
    users: Arc<dyn UserRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
}

impl ProfileService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        refresh_tokens: Arc<dyn RefreshTokenRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            refresh_tokens,
            hasher,
            clock,
        }
    }

    pub async fn update(&self, user: User, changes: ProfileChanges) -> DomainResult<User> {
        let mut updated = user;
        changes
            .apply(&mut updated)
            .map_err(|m| DomainError::field("extra", m))?;
        updated.updated_at = self.clock.now();
        if !self.users.update_profile(&updated).await? {
            return Err(DomainError::UserNotFound);
        }
        Ok(updated)
    }

    /// Soft-deletes the caller after confirming the password: data is kept, every token dies.
    pub async fn delete(&self, user: &User, password: &str) -> DomainResult<()> {
        if !self
            .hasher
            .verify(password, user.password_hash.as_deref())
            .await?
        {
            return Err(DomainError::WrongPassword);
        }
        let now = self.clock.now();
        self.users
            .soft_delete(&user.namespace, user.id, now)
            .await?;
        self.refresh_tokens.revoke_all_for_user(user.id, now).await
    }
}
