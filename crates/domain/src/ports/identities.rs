use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::DomainResult;
use crate::model::{ExternalIssuer, IdentityLink, User};

/// Where the links from an external `(issuer, subject)` to a user are kept. The store makes a pair
/// name at most one user, whatever the number of requests racing to link it.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait IdentityLinkRepository: Send + Sync {
    /// The link of `(issuer, subject)`.
    async fn find(&self, issuer: &str, subject: &str) -> DomainResult<Option<IdentityLink>>;

    /// The links of `subject` (of any issuer) whose user is of `namespace`.
    async fn find_in_namespace(
        &self,
        namespace: &str,
        subject: &str,
    ) -> DomainResult<Vec<IdentityLink>>;

    /// Links `(issuer, subject)` to the existing live user `link.user_id` of `link.namespace`:
    /// `false`, storing nothing, when the pair is linked already; `UserNotFound` when there is no
    /// such user.
    async fn link(&self, link: &IdentityLink) -> DomainResult<bool>;

    /// Creates `user` and links `(issuer, subject)` to it in one transaction (`link.user_id` is
    /// `user.id`): `false`, creating nothing, when the pair was linked meanwhile;
    /// `UsernameTaken` / `EmailTaken` as `UserRepository::insert`, creating nothing.
    async fn create_linked(&self, user: &User, link: &IdentityLink) -> DomainResult<bool>;
}

/// Why an external token was not accepted, finer than the 401 the caller gets, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalTokenRefusal {
    /// Past its `exp` (with the leeway).
    Expired,
    /// Its `kid` is not among the issuer's keys, even after a refetch.
    UnknownKey,
    /// Malformed, an algorithm not allowed, a bad signature, a wrong audience or issuer, before `nbf`.
    Invalid,
    /// The issuer's keys cannot be fetched and none are held.
    Unavailable,
}

/// Checks the tokens of external issuers against their published keys.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ExternalTokenVerifier: Send + Sync {
    /// The claims of `token` once verified as `issuer`'s: signed by one of its keys with RS256,
    /// ES256 or EdDSA, `iss` its issuer, `aud` its audience when it has one, `exp` not past.
    async fn verify(
        &self,
        issuer: &ExternalIssuer,
        token: &str,
    ) -> Result<Map<String, Value>, ExternalTokenRefusal>;
}
