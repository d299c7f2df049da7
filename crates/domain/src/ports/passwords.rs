use async_trait::async_trait;

use crate::error::DomainResult;
use crate::model::Password;

/// Slow, salted password hashing. Implementations bound how many hashes run at once and answer
/// `Unavailable` when their waiting line is full, so a login storm never starves other requests.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A salted hash of `password`.
    async fn hash(&self, password: &Password) -> DomainResult<String>;
    /// Checks `password` against `hash`. With no hash (unknown user, or an account without a password)
    /// it still spends one hash against a dummy and answers false, so timing tells nothing.
    ///
    /// The lifetimes are named only so that mockall can mock a reference inside an `Option`; they are
    /// in the order async-trait gives elided ones, so implementations may simply elide them.
    async fn verify<'s, 'p, 'h>(
        &'s self,
        password: &'p str,
        hash: Option<&'h str>,
    ) -> DomainResult<bool>;
    /// Whether a stored hash was made with other parameters than the configured ones.
    fn needs_rehash(&self, hash: &str) -> bool;
}

/// Compile-time guard: adapters implement `verify` with elided lifetimes, as usual.
#[cfg(test)]
#[allow(dead_code)]
mod elided_lifetimes_still_implement_the_port {
    use super::*;

    struct Plain;

    #[async_trait]
    impl PasswordHasher for Plain {
        async fn hash(&self, _password: &Password) -> DomainResult<String> {
            Ok(String::new())
        }
        async fn verify(&self, _password: &str, hash: Option<&str>) -> DomainResult<bool> {
            Ok(hash.is_some())
        }
        fn needs_rehash(&self, _hash: &str) -> bool {
            false
        }
    }

    fn as_port(p: &Plain) -> &dyn PasswordHasher {
        p
    }
}
