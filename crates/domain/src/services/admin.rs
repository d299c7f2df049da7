//! Namespace administration: what a namespace's service key, its admins and the operator may do to
//! its users.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{Principal, Role, User};
use crate::ports::{Clock, LoginName, UserRepository};

pub struct AdminService {
    users: Arc<dyn UserRepository>,
    clock: Arc<dyn Clock>,
}

impl AdminService {
    pub fn new(users: Arc<dyn UserRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { users, clock }
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
        if !(matches!(caller, Principal::Operator) || caller.manages(namespace)) {
            return Err(DomainError::UserNotFound);
        }
        let mut parsed = Vec::with_capacity(roles.len());
        for r in roles {
            parsed.push(
                Role::parse(r)
                    .map_err(|m| DomainError::field("roles", m))?
                    .into_inner(),
            );
        }
        parsed.dedup();
        let mut user = self
            .users
            .find_live(namespace, &LoginName::Username(username.to_lowercase()))
            .await?
            .ok_or(DomainError::UserNotFound)?;
        user.roles = parsed;
        user.updated_at = self.clock.now();
        if !self.users.update_profile(&user).await? {
            return Err(DomainError::UserNotFound);
        }
        Ok(user)
    }
}
