use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::text::name_key;
use crate::model::{PageRequest, Paged, SearchQuery, User, UserChanges};

/// Where a user's avatar is: its storage key and the URL clients fetch it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarRef {
    /// The key in the avatar store.
    pub key: String,
    /// The URL clients fetch it from.
    pub url: String,
}

/// How a login names its account: by username or by email, each by its `text::name_key`, so every
/// spelling of a name reaches the one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginName {
    /// The username's key.
    Username(String),
    /// The email's key.
    Email(String),
}

impl LoginName {
    /// A login by username (normalized to its key).
    pub fn username(raw: &str) -> Self {
        Self::Username(name_key(raw))
    }

    /// A login by email (normalized to its key).
    pub fn email(raw: &str) -> Self {
        Self::Email(name_key(raw))
    }

    /// The key, whichever name it is.
    pub fn key(&self) -> &str {
        match self {
            Self::Username(k) | Self::Email(k) => k,
        }
    }
}

/// The filters of the admin list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// Only active, or only inactive, users.
    pub is_active: Option<bool>,
    /// Users whose roles contain this one.
    pub role: Option<String>,
    /// Soft-deleted users are left out unless this is set.
    pub include_deleted: bool,
}

/// Users, found by id or by the keys of their names.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Fails with `UsernameTaken` or `EmailTaken` when a live user of the namespace has either.
    async fn insert(&self, user: &User) -> DomainResult<()>;
    /// The user with this id in this namespace, soft-deleted ones included.
    async fn get(&self, namespace: &str, id: Uuid) -> DomainResult<Option<User>>;
    /// The live (not soft-deleted) user that `login` names.
    async fn find_live(&self, namespace: &str, login: &LoginName) -> DomainResult<Option<User>>;
    /// Applies `changes` to the live (not soft-deleted) user in one transaction: the row is read under
    /// its write lock, `changes` applied to it as stored at that moment (see `UserChanges::apply`), and
    /// only the columns `changes` names are written, with `updated_at`, the search document derived
    /// from them, and (when `changes.ends_sessions()`) a raised token version. Nothing read earlier is
    /// ever written back. Returns the user as stored afterwards; `None` when it is unknown or deleted.
    /// Fails with `EmailTaken` on a duplicate, or a validation error when the merged `extra` is too big.
    async fn update(
        &self,
        namespace: &str,
        id: Uuid,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<User>>;
    /// Points the user at another avatar object (or none), only if its avatar key is still
    /// `expected_key`, writing nothing else but `updated_at`: a concurrent profile change is not
    /// overwritten, and of two uploads racing, the loser learns it lost. False when the user does not
    /// exist or its avatar key is no longer `expected_key`.
    async fn swap_avatar(
        &self,
        namespace: &str,
        id: Uuid,
        expected_key: Option<String>,
        avatar: Option<AvatarRef>,
        now: DateTime<Utc>,
    ) -> DomainResult<bool>;
    /// Sets the password hash; with `revoke` also raises the token version so every token is stale.
    /// Returns the token version after the change.
    async fn set_password_hash(
        &self,
        namespace: &str,
        id: Uuid,
        hash: &str,
        revoke: bool,
        now: DateTime<Utc>,
    ) -> DomainResult<i64>;
    /// Marks the live user's email verified, if the email is still the one whose key is
    /// `email_key` (a link sent to an older address proves nothing about the current one). The
    /// user afterwards; `None` when it is unknown, deleted, or its email changed.
    async fn verify_email(
        &self,
        namespace: &str,
        id: Uuid,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<User>>;
    /// Raises the token version by one and returns the new one.
    async fn bump_token_version(
        &self,
        namespace: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DomainResult<i64>;
    /// Marks the user deleted and inactive and raises its token version; false when it was not live.
    async fn soft_delete(
        &self,
        namespace: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DomainResult<bool>;
    /// Clears `deleted_at` and reactivates the user. False when it is unknown or not deleted. Fails
    /// with `UsernameTaken` or `EmailTaken` when a live user took either meanwhile (the unique indexes
    /// decide, so a concurrent registration cannot slip between a check and the write).
    async fn restore(&self, namespace: &str, id: Uuid, now: DateTime<Utc>) -> DomainResult<bool>;
    /// A page of the namespace's users, oldest first.
    async fn list(
        &self,
        namespace: &str,
        filter: &UserFilter,
        page: PageRequest,
    ) -> DomainResult<Paged<User>>;
    /// Live users of the namespace matching every term of `query`, best match first.
    async fn search(
        &self,
        namespace: &str,
        query: &SearchQuery,
        page: PageRequest,
    ) -> DomainResult<Paged<User>>;
}
