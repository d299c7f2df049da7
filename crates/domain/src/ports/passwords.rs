use async_trait::async_trait;

use crate::error::DomainResult;
use crate::model::Password;

/// Slow, salted password hashing. Implementations bound how many hashes run at once and answer
/// `Unavailable` when their waiting line is full, so a login storm never starves other requests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    async fn hash(&self, password: &Password) -> DomainResult<String>;
    /// Checks `password` against `hash`. With no hash (unknown user, or an account without a password)
    /// it still spends one hash against a dummy and answers false, so timing tells nothing.
    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool>;
    /// Whether a stored hash was made with other parameters than the configured ones.
    fn needs_rehash(&self, hash: &str) -> bool;
}
