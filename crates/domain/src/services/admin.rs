//! Namespace administration: what a namespace's service key, its admins and the operator may do to
//! its users.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{
    Email, PageRequest, Paged, Password, Principal, ProfileChanges, Role, SearchQuery, User,
    UserChanges, Username,
};
use crate::ports::{
    Clock, IdGenerator, LoginName, PasswordHasher, RefreshTokenRepository, UserFilter,
    UserRepository,
};
use crate::services::access::{Need, permit};
use crate::services::mail::Mailer;
use crate::services::new_user;

/// A validated `POST /api/v1/users`.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Without one, the email is the username.
    pub username: Option<Username>,
    /// The email (required on the admin API).
    pub email: Email,
    /// Without one, the account cannot log in until a password is set.
    pub password: Option<Password>,
    /// The other profile fields.
    pub profile: ProfileChanges,
    /// Its roles; `["user"]` when none.
    pub roles: Option<Vec<Role>>,
    /// The owner the body names, if any: must be the caller's namespace.
    pub tenant_id: Option<String>,
    /// An import of an address already proven elsewhere.
    pub email_verified: bool,
}

/// A validated `PUT`/`PATCH /api/v1/users/{id}`: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// Profile fields to change.
    pub profile: ProfileChanges,
    /// New roles.
    pub roles: Option<Vec<Role>>,
    /// Activate or deactivate (deactivation ends its sessions).
    pub is_active: Option<bool>,
    /// Mark the email verified or not.
    pub email_verified: Option<bool>,
    /// The owner the body names, if any: must be the caller's namespace.
    pub tenant_id: Option<String>,
}

/// The admin API (API.md 3.1): users managed by a namespace admin or a service key.
pub struct AdminService {
    users: Arc<dyn UserRepository>,
    refresh_tokens: Arc<dyn RefreshTokenRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    /// Queues the verification mail of a changed, unverified address; `None` sends none.
    mailer: Option<Arc<Mailer>>,
}

/// A body's `tenant_id`, when given, must name the caller's namespace.
fn check_tenant(tenant_id: Option<&str>, namespace: &str) -> DomainResult<()> {
    if tenant_id.is_some_and(|t| t != namespace) {
        return Err(DomainError::Forbidden(
            "tenant_id must be the caller's namespace".into(),
        ));
    }
    Ok(())
}

/// A `tenant_id` a request names beside its credentials (gRPC requests carry one): empty means the
/// caller's namespace, anything else must be it (else 403, like `X-Tenant-ID`).
pub fn check_request_tenant(caller: &Principal, tenant_id: &str) -> DomainResult<()> {
    match caller.namespace() {
        Some(ns) if !tenant_id.is_empty() => check_tenant(Some(tenant_id), ns),
        _ => Ok(()),
    }
}

/// Who manages a namespace's users as a whole (create, list, search): its service key or one of its
/// admin users. Everything else that is authenticated (a plain user, the operator) is refused with
/// 403; there is no namespace to name on these routes, so a principal only ever reaches its own
/// namespace's users. Routes naming one user go through `access::permit` instead, so that another
/// user's id is as unknown to a plain user as a made-up one.
pub fn managed_namespace(caller: &Principal) -> DomainResult<&str> {
    match caller.namespace() {
        Some(ns) if caller.manages(ns) => Ok(ns),
        _ => Err(DomainError::Forbidden(
            "managing users needs an admin of the namespace or its service key".into(),
        )),
    }
}

/// On the admin API a duplicate is a conflict, not a bad request (the integration contract's 400
/// belongs to `/auth/register`).
fn duplicate_is_conflict(e: DomainError) -> DomainError {
    match e {
        DomainError::UsernameTaken { username, .. } => {
            DomainError::Conflict(format!("username '{username}' is already taken"))
        }
        DomainError::EmailTaken { .. } => DomainError::Conflict("email is already taken".into()),
        other => other,
    }
}

impl AdminService {
    /// The service on its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        refresh_tokens: Arc<dyn RefreshTokenRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            users,
            refresh_tokens,
            hasher,
            clock,
            ids,
            mailer: None,
        }
    }

    /// A changed email that the admin did not mark verified gets a verification mail.
    pub fn with_mailer(mut self, mailer: Arc<Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Creates a user in the caller's namespace; `CONFLICT` for a taken username or email.
    pub async fn create(&self, caller: &Principal, new: NewUser) -> DomainResult<User> {
        let ns = managed_namespace(caller)?;
        check_tenant(new.tenant_id.as_deref(), ns)?;
        let username = match new.username {
            Some(u) => u,
            None => Username::parse(new.email.as_str())
                .map_err(|m| DomainError::field("username", m))?,
        };
        let hash = match &new.password {
            Some(p) => Some(self.hasher.hash(p).await?),
            None => None,
        };
        let mut user = new_user(
            self.ids.new_id(),
            ns,
            username.as_str(),
            hash,
            self.clock.now(),
        );
        user.email = Some(new.email.as_str().to_owned());
        user.email_verified = new.email_verified;
        new.profile
            .apply(&mut user)
            .map_err(|m| DomainError::field("extra", m))?;
        if let Some(roles) = new.roles {
            UserChanges::default().with_roles(roles).apply(&mut user)?;
        }
        self.users
            .insert(&user)
            .await
            .map_err(duplicate_is_conflict)?;
        Ok(user)
    }

    /// A page of the namespace's users, filtered.
    pub async fn list(
        &self,
        caller: &Principal,
        filter: &UserFilter,
        page: PageRequest,
    ) -> DomainResult<Paged<User>> {
        let ns = managed_namespace(caller)?;
        self.users.list(ns, filter, page).await
    }

    /// A page of the namespace's users matching a search query.
    pub async fn search(
        &self,
        caller: &Principal,
        query: &SearchQuery,
        page: PageRequest,
    ) -> DomainResult<Paged<User>> {
        let ns = managed_namespace(caller)?;
        self.users.search(ns, query, page).await
    }

    /// Any user of the namespace, soft-deleted ones included (an admin needs them to restore).
    pub async fn get(&self, caller: &Principal, id: uuid::Uuid) -> DomainResult<User> {
        let (ns, _) = permit(caller, id, Need::Manage)?;
        self.users
            .get(ns, id)
            .await?
            .ok_or(DomainError::UserNotFound)
    }

    /// Updates a live user, writing only the fields the request names. Deactivating it raises its
    /// token version in the same write, so every token it holds is stale at once (a refresh racing
    /// it cannot mint a usable one), and then revokes its refresh tokens, so reactivating it later
    /// does not bring old logins back.
    pub async fn update(
        &self,
        caller: &Principal,
        id: uuid::Uuid,
        update: UserUpdate,
    ) -> DomainResult<User> {
        let (ns, _) = permit(caller, id, Need::Manage)?;
        check_tenant(update.tenant_id.as_deref(), ns)?;
        let mut changes = UserChanges::profile(update.profile);
        if let Some(roles) = update.roles {
            changes = changes.with_roles(roles);
        }
        if let Some(active) = update.is_active {
            changes = changes.with_active(active);
        }
        if let Some(verified) = update.email_verified {
            changes = changes.with_email_verified(verified);
        }
        let now = self.clock.now();
        let before = match (&self.mailer, changes.profile.email.leaves()) {
            (Some(_), false) => self.users.get(ns, id).await?,
            _ => None,
        };
        let user = self
            .users
            .update(ns, id, &changes, now)
            .await
            .map_err(duplicate_is_conflict)?
            .ok_or(DomainError::UserNotFound)?;
        if changes.ends_sessions() {
            self.refresh_tokens.revoke_all_for_user(id, now).await?;
        }
        if let (Some(mailer), Some(before)) = (&self.mailer, &before)
            && user.can_authenticate()
        {
            mailer.after_email_change(before, &user).await?;
        }
        Ok(user)
    }

    /// Soft delete: the row stays, its tokens die (a restore does not revive them), its username and
    /// email are free again.
    pub async fn delete(&self, caller: &Principal, id: uuid::Uuid) -> DomainResult<()> {
        let (ns, _) = permit(caller, id, Need::Manage)?;
        let now = self.clock.now();
        if !self.users.soft_delete(ns, id, now).await? {
            return Err(DomainError::UserNotFound);
        }
        self.refresh_tokens.revoke_all_for_user(id, now).await
    }

    /// Undoes a soft delete; a conflict when its username or email was taken meanwhile. Restoring a
    /// live user changes nothing and answers it as it is.
    pub async fn restore(&self, caller: &Principal, id: uuid::Uuid) -> DomainResult<User> {
        let (ns, _) = permit(caller, id, Need::Manage)?;
        self.users
            .restore(ns, id, self.clock.now())
            .await
            .map_err(duplicate_is_conflict)?;
        match self.users.get(ns, id).await? {
            Some(u) if u.deleted_at.is_none() => Ok(u),
            _ => Err(DomainError::UserNotFound),
        }
    }

    /// Replaces a live user's roles. Allowed to the operator and to whoever manages the namespace;
    /// to anyone else the user does not exist.
    pub async fn set_roles(
        &self,
        caller: &Principal,
        namespace: &str,
        username: &str,
        roles: &[String],
    ) -> DomainResult<User> {
        let allowed = matches!(caller, Principal::Operator)
            || managed_namespace(caller).is_ok_and(|ns| ns == namespace);
        if !allowed {
            return Err(DomainError::UserNotFound);
        }
        let parsed = Role::parse_list(roles).map_err(|m| DomainError::field("roles", m))?;
        let user = self
            .users
            .find_live(namespace, &LoginName::username(username))
            .await?
            .ok_or(DomainError::UserNotFound)?;
        let changes = UserChanges::default().with_roles(parsed);
        self.users
            .update(namespace, user.id, &changes, self.clock.now())
            .await?
            .ok_or(DomainError::UserNotFound)
    }
}
