//! The current user's own account: read, update, delete.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{ProfileChanges, User, UserChanges};
use crate::ports::{Clock, PasswordHasher, RefreshTokenRepository, UserRepository};
use crate::services::login_throttle::{LoginThrottle, confirm_password};
use crate::services::mail::Mailer;

/// The current user's own profile, password and account (API.md 2.3).
pub struct ProfileService {
    users: Arc<dyn UserRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    throttle: Option<Arc<LoginThrottle>>,
    /// Queues the verification mail of a new address; `None` sends none.
    mailer: Option<Arc<Mailer>>,
}

impl ProfileService {
    /// The service on its ports.
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
            throttle: None,
            mailer: None,
        }
    }

    /// A changed email gets a verification mail.
    pub fn with_mailer(mut self, mailer: Arc<Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Puts the password confirmation of `delete` under the brute-force throttle.
    pub fn with_throttle(mut self, throttle: Arc<LoginThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Changes the named profile fields of the caller's account, and nothing else: a deactivation,
    /// role change or avatar upload that lands while this request is in flight stays. Answers the
    /// account as stored after the write. A new email is unverified and gets a verification mail.
    pub async fn update(&self, user: &User, changes: ProfileChanges) -> DomainResult<User> {
        let updated = self
            .users
            .update(
                &user.namespace,
                user.id,
                &UserChanges::profile(changes),
                self.clock.now(),
            )
            .await?
            .ok_or(DomainError::UserNotFound)?;
        if let Some(mailer) = &self.mailer {
            mailer.after_email_change(user, &updated).await?;
        }
        Ok(updated)
    }

    /// Soft-deletes the caller after confirming the password (throttled like a login of the
    /// account from `ip`): data is kept, every token dies.
    pub async fn delete(&self, user: &User, password: &str, ip: &str) -> DomainResult<()> {
        confirm_password(
            self.throttle.as_deref(),
            self.hasher.as_ref(),
            user,
            ip,
            password,
            "password",
        )
        .await?;
        let now = self.clock.now();
        self.users
            .soft_delete(&user.namespace, user.id, now)
            .await?;
        self.refresh_tokens.revoke_all_for_user(user.id, now).await
    }
}
