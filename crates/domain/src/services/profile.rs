//! The current user's own account: read, update, delete.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{ProfileChanges, User, UserChanges};
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

    /// Changes the named profile fields of the caller's account, and nothing else: a deactivation,
    /// role change or avatar upload that lands while this request is in flight stays. Answers the
    /// account as stored after the write.
    pub async fn update(&self, user: &User, changes: ProfileChanges) -> DomainResult<User> {
        self.users
            .update(
                &user.namespace,
                user.id,
                &UserChanges::profile(changes),
                self.clock.now(),
            )
            .await?
            .ok_or(DomainError::UserNotFound)
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
