//! The account: identity, credentials and profile, owned by one namespace.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::text::name_key;

/// A role name: 1–32 characters of `a-z`, `0-9`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role(String);

impl Role {
    /// The role of namespace admins.
    pub const ADMIN: &'static str = "admin";
    /// The role every user gets.
    pub const USER: &'static str = "user";
    /// Roles a user may hold at once.
    pub const MAX_PER_USER: usize = 32;

    /// A role of 1–32 characters of `a-z`, `0-9`, `-` and `_`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("roles must be 1-32 characters of a-z, 0-9, - and _".into())
        }
    }

    /// A user's roles: each valid, at most `MAX_PER_USER` distinct ones, since every role travels in
    /// each access token.
    pub fn parse_list(raw: &[String]) -> Result<Vec<Self>, String> {
        let mut roles: Vec<Self> = Vec::with_capacity(raw.len().min(Self::MAX_PER_USER));
        for r in raw {
            let role = Self::parse(r)?;
            if !roles.contains(&role) {
                if roles.len() == Self::MAX_PER_USER {
                    return Err(format!("at most {} roles", Self::MAX_PER_USER));
                }
                roles.push(role);
            }
        }
        Ok(roles)
    }

    /// The role's name.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id (UUID v7).
    pub id: Uuid,
    /// Its namespace.
    pub namespace: String,
    /// Its username, as given at registration.
    pub username: String,
    /// Its email, if any.
    pub email: Option<String>,
    /// Whether the owner of `email` proved it (a verification link, or an admin import); false
    /// whenever the email changes.
    pub email_verified: bool,
    /// `None` for an account created by an admin without a password: it cannot log in yet.
    pub password_hash: Option<String>,
    /// The full name.
    pub full_name: Option<String>,
    /// The first name.
    pub first_name: Option<String>,
    /// The last name.
    pub last_name: Option<String>,
    /// The phone number.
    pub phone: Option<String>,
    /// Where its avatar is served.
    pub avatar_url: Option<String>,
    /// The storage key of the current avatar object, so it can be deleted when replaced.
    pub avatar_key: Option<String>,
    /// Free key-value pairs of the app.
    pub extra: BTreeMap<String, String>,
    /// Its roles.
    pub roles: Vec<String>,
    /// Whether it may log in.
    pub is_active: bool,
    /// Raised by logout-all, a password change or a deactivation: older access tokens are stale.
    pub token_version: i64,
    /// When it registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was soft-deleted.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether it has the `admin` role.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == Role::ADMIN)
    }

    /// Whether this account may authenticate at all.
    pub fn can_authenticate(&self) -> bool {
        self.is_active && self.deleted_at.is_none()
    }

    /// The forms uniqueness and logins compare (`text::name_key`).
    pub fn username_key(&self) -> String {
        name_key(&self.username)
    }

    /// The case-insensitive key of its email, for uniqueness and login.
    pub fn email_key(&self) -> Option<String> {
        self.email.as_deref().map(name_key)
    }
}
