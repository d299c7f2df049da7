//! The one rule of who may act on a user's credits, usage and sessions (API sections 1.2, 3.2-3.4):
//! the user itself, an admin user of its namespace, or its namespace's service key. To anyone else —
//! another namespace, another plain user, the operator — the account does not exist.

use std::sync::Arc;

use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::model::Principal;
use crate::ports::UserRepository;

/// How a caller stands to an account it may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The account's own user.
    Owner,
    /// A service key or an admin user of the account's namespace.
    Manager,
}

/// What an operation needs: plain use (read, consume, record) or management (recharge, the admin
/// API's reads and writes of one user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Read, consume, record: the owner or a manager.
    Use,
    /// Recharge, the admin API: a manager only.
    Manage,
}

/// How `caller` stands to the account `owner` of `namespace`, or `None` when it must not see it.
/// Management is checked first, so an admin acting on its own account still manages it.
pub fn standing(caller: &Principal, namespace: &str, owner: Uuid) -> Option<Standing> {
    match caller {
        p if p.manages(namespace) => Some(Standing::Manager),
        Principal::User(u) if u.namespace == namespace && u.id == owner => Some(Standing::Owner),
        _ => None,
    }
}

/// An account the caller was found allowed to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The account's id.
    pub user_id: Uuid,
    /// Its namespace.
    pub namespace: String,
    /// How the caller stands to it.
    pub standing: Standing,
}

/// Applies the rule to a user named by a path: it must exist, be live and belong to the caller's
/// namespace.
pub struct AccountAccess {
    users: Arc<dyn UserRepository>,
}

impl AccountAccess {
    /// The rule, reading users from `users`.
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self { users }
    }

    /// The live account `user_id` when `caller` may act on it with `need`; 404 `USER_NOT_FOUND` when it must not see it, 403 when it may see but not do.
    pub async fn account(
        &self,
        caller: &Principal,
        user_id: Uuid,
        need: Need,
    ) -> DomainResult<Account> {
        let (namespace, standing) = permit(caller, user_id, need)?;
        // An authenticated user is live as stored right now; anyone else's account is looked up.
        if standing == Standing::Manager {
            let live = self
                .users
                .get(namespace, user_id)
                .await?
                .is_some_and(|u| u.deleted_at.is_none());
            if !live {
                return Err(DomainError::UserNotFound);
            }
        }
        Ok(Account {
            user_id,
            namespace: namespace.to_owned(),
            standing,
        })
    }
}

/// The rule without the lookup: the namespace in which `caller` may act on `user_id` for `need`, and
/// how it stands there. A caller that names its own account for something only a manager may do is
/// refused (403: it knows the account exists); for every other account that is not its to see —
/// another plain user's, another namespace's — the answer is the one a made-up id gets (404).
/// Whether the account exists is left to the caller's own lookup or write, scoped to the namespace.
pub fn permit(caller: &Principal, user_id: Uuid, need: Need) -> DomainResult<(&str, Standing)> {
    let namespace = caller.namespace().ok_or(DomainError::UserNotFound)?;
    let standing = standing(caller, namespace, user_id).ok_or(DomainError::UserNotFound)?;
    if need == Need::Manage && standing == Standing::Owner {
        return Err(DomainError::Forbidden(
            "only a namespace admin or service key may do this".into(),
        ));
    }
    Ok((namespace, standing))
}
