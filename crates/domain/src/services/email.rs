//! Verification of email addresses and password reset by email (API.md 2.4).

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{Email, EmailPurpose, NamespaceSlug, Password, TokenPair, User};
use crate::ports::{Clock, EmailTokenRepository, LoginName, UserRepository};
use crate::services::AuthService;
use crate::services::mail::Mailer;
use crate::tokens::hash_secret;

/// Email verification and password reset (API.md 2.4).
pub struct EmailService {
    users: Arc<dyn UserRepository>,
    tokens: Arc<dyn EmailTokenRepository>,
    mailer: Arc<Mailer>,
    auth: Arc<AuthService>,
    clock: Arc<dyn Clock>,
}

impl EmailService {
    /// The service on its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        tokens: Arc<dyn EmailTokenRepository>,
        mailer: Arc<Mailer>,
        auth: Arc<AuthService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            users,
            tokens,
            mailer,
            auth,
            clock,
        }
    }

    /// Queues a reset mail when a live account of the namespace has this email; answers the same
    /// whether or not one does, and whether or not the address is over its quota, so nobody learns
    /// which addresses have accounts. A deactivated account gets no mail: it could not log in
    /// with a new password anyway.
    pub async fn request_password_reset(
        &self,
        namespace: &NamespaceSlug,
        email: &Email,
    ) -> DomainResult<()> {
        let user = self
            .users
            .find_live(namespace.as_str(), &LoginName::email(email.as_str()))
            .await?;
        if let Some(user) = user.filter(User::can_authenticate) {
            self.mailer
                .queue(&user, EmailPurpose::PasswordReset)
                .await?;
        }
        Ok(())
    }

    /// Uses a reset token: sets the new password and ends every session of the user (2.2), answering
    /// a fresh pair. The link reached the address, so that address is verified too. A token for an
    /// address the account no longer has, or of an account that can no longer log in, is invalid.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new: Password,
    ) -> DomainResult<TokenPair> {
        let now = self.clock.now();
        let token = self
            .tokens
            .consume(&hash_secret(token), EmailPurpose::PasswordReset, now)
            .await?
            .ok_or(DomainError::EmailTokenInvalid)?;
        let user = self
            .users
            .verify_email(&token.namespace, token.user_id, &token.email_key(), now)
            .await?
            .filter(User::can_authenticate)
            .ok_or(DomainError::EmailTokenInvalid)?;
        self.auth.replace_password(&user, new).await
    }

    /// Queues a verification mail to the caller's current email: a validation error without one;
    /// nothing is sent for an address that is verified already or over its quota.
    pub async fn request_verification(&self, user: &User) -> DomainResult<()> {
        if user.email.is_some() && user.email_verified {
            return Ok(());
        }
        self.mailer.queue(user, EmailPurpose::VerifyEmail).await?;
        Ok(())
    }

    /// Uses a verification token: the address it was sent to is verified, if the account still has it.
    pub async fn confirm_verification(&self, token: &str) -> DomainResult<User> {
        let now = self.clock.now();
        let token = self
            .tokens
            .consume(&hash_secret(token), EmailPurpose::VerifyEmail, now)
            .await?
            .ok_or(DomainError::EmailTokenInvalid)?;
        self.users
            .verify_email(&token.namespace, token.user_id, &token.email_key(), now)
            .await?
            .ok_or(DomainError::EmailTokenInvalid)
    }
}
