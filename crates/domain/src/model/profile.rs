//! Changes to a user's profile, shared by registration, `PATCH /users/me` and the admin API.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::values::{Checks, Email, Extra, FullName, PersonName, Phone};
use super::{Role, User};
use crate::error::{DomainError, DomainResult};

/// One field of a partial update: left alone, cleared (`null`), or set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Change<T> {
    /// Leave the field as it is.
    #[default]
    Keep,
    /// Clear the field.
    Clear,
    /// Set the field to this value.
    Set(T),
}

/// `null` clears; a missing field (with `#[serde(default)]`) keeps.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Change<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Change::Set(v),
            None => Change::Clear,
        })
    }
}

impl Change<String> {
    /// Validates a set value with `parse`, recording a failure in `checks`. With `empty_is_keep`, an
    /// empty string means "leave it" (as clients of the original admin API send).
    pub fn parse<T>(
        self,
        checks: &mut Checks,
        field: &str,
        empty_is_keep: bool,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Change<T> {
        match self {
            Change::Keep => Change::Keep,
            Change::Clear => Change::Clear,
            Change::Set(s) if empty_is_keep && s.is_empty() => Change::Keep,
            Change::Set(s) => match checks.check(field, parse(&s)) {
                Some(v) => Change::Set(v),
                None => Change::Keep,
            },
        }
    }
}

impl<T> Change<T> {
    /// Whether the field is left as stored.
    pub fn leaves(&self) -> bool {
        matches!(self, Change::Keep)
    }

    pub(crate) fn apply_to(self, slot: &mut Option<String>, into: impl FnOnce(T) -> String) {
        match self {
            Change::Keep => {}
            Change::Clear => *slot = None,
            Change::Set(v) => *slot = Some(into(v)),
        }
    }
}

/// `extra` merges key by key: a key set to `null` is removed; `"extra": null` empties the map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExtraChange {
    /// Leave `extra` as it is.
    #[default]
    Keep,
    /// Remove every key.
    Clear,
    /// Set the keys with a value and remove those with `None`; others stay.
    Merge(BTreeMap<String, Option<String>>),
}

impl ExtraChange {
    /// Whether `extra` is left as stored.
    pub fn leaves(&self) -> bool {
        matches!(self, ExtraChange::Keep)
    }
}

impl From<Change<BTreeMap<String, Option<String>>>> for ExtraChange {
    fn from(c: Change<BTreeMap<String, Option<String>>>) -> Self {
        match c {
            Change::Keep => ExtraChange::Keep,
            Change::Clear => ExtraChange::Clear,
            Change::Set(m) => ExtraChange::Merge(m),
        }
    }
}

/// Validated changes to the profile fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileChanges {
    /// The email (unique per namespace).
    pub email: Change<Email>,
    /// The full name.
    pub full_name: Change<FullName>,
    /// The first name.
    pub first_name: Change<PersonName>,
    /// The last name.
    pub last_name: Change<PersonName>,
    /// The phone number.
    pub phone: Change<Phone>,
    /// The `extra` key-value pairs.
    pub extra: ExtraChange,
}

/// The raw profile fields of a request body, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileInput {
    /// The email, unchecked.
    pub email: Change<String>,
    /// The full name, unchecked.
    pub full_name: Change<String>,
    /// The first name, unchecked.
    pub first_name: Change<String>,
    /// The last name, unchecked.
    pub last_name: Change<String>,
    /// The phone number, unchecked.
    pub phone: Change<String>,
    /// The `extra` pairs, unchecked (`None` removes a key).
    pub extra: Change<BTreeMap<String, Option<String>>>,
}

impl ProfileInput {
    /// Checks every field, recording failures in `checks`.
    pub fn validate(self, checks: &mut Checks, empty_is_keep: bool) -> ProfileChanges {
        let extra: ExtraChange = self.extra.into();
        if let ExtraChange::Merge(m) = &extra {
            let set: BTreeMap<String, String> = m
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
                .collect();
            checks.check("extra", Extra::check(&set));
            // Keys being removed are not in `set`; their names must be valid too.
            if m.iter()
                .any(|(k, v)| v.is_none() && (k.is_empty() || k.chars().count() > 64))
            {
                checks.push("extra", "keys must be 1-64 characters");
            }
        }
        ProfileChanges {
            email: self
                .email
                .parse(checks, "email", empty_is_keep, Email::parse),
            full_name: self
                .full_name
                .parse(checks, "full_name", empty_is_keep, FullName::parse),
            first_name: self.first_name.parse(
                checks,
                "first_name",
                empty_is_keep,
                PersonName::parse,
            ),
            last_name: self
                .last_name
                .parse(checks, "last_name", empty_is_keep, PersonName::parse),
            phone: self
                .phone
                .parse(checks, "phone", empty_is_keep, Phone::parse),
            extra,
        }
    }
}

impl ProfileChanges {
    /// Applies the changes to `user`. Fails (changing nothing) when the merged `extra` breaks its limits.
    pub fn apply(self, user: &mut User) -> Result<(), String> {
        let extra = match self.extra {
            ExtraChange::Keep => None,
            ExtraChange::Clear => Some(BTreeMap::new()),
            ExtraChange::Merge(m) => {
                let mut merged = user.extra.clone();
                for (k, v) in m {
                    match v {
                        Some(v) => merged.insert(k, v),
                        None => merged.remove(&k),
                    };
                }
                Extra::check(&merged)?;
                Some(merged)
            }
        };
        if let Some(extra) = extra {
            user.extra = extra;
        }
        let key_before = user.email_key();
        self.email
            .apply_to(&mut user.email, |e| e.as_str().to_owned());
        // A verification proved the old address, not this one.
        if user.email_key() != key_before {
            user.email_verified = false;
        }
        self.full_name
            .apply_to(&mut user.full_name, FullName::into_inner);
        self.first_name
            .apply_to(&mut user.first_name, PersonName::into_inner);
        self.last_name
            .apply_to(&mut user.last_name, PersonName::into_inner);
        self.phone.apply_to(&mut user.phone, Phone::into_inner);
        Ok(())
    }
}

/// One write to an existing user, naming the fields it changes and nothing else. Profile fields keep
/// "leave" (`Keep`), "clear" (`Clear`) and "set" apart; roles and `is_active` can only be left
/// (`None`) or set. A repository applies it to the row as stored at the moment of the write, never
/// to a copy read earlier, so two writes naming different fields never undo each other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// The profile fields to change.
    pub profile: ProfileChanges,
    /// The new roles, without duplicates, in the order first given.
    pub roles: Option<Vec<String>>,
    /// The new active flag, or `None` to leave it.
    pub is_active: Option<bool>,
    /// Set by the admin API only (imports of verified users); applied after the profile, so an
    /// admin may set an email and its verification at once.
    pub email_verified: Option<bool>,
}

impl UserChanges {
    /// Changes of the profile fields only: what a user may change about itself.
    pub fn profile(profile: ProfileChanges) -> Self {
        Self {
            profile,
            ..Self::default()
        }
    }

    /// Also sets the roles.
    pub fn with_roles(mut self, roles: Vec<Role>) -> Self {
        let mut names: Vec<String> = Vec::with_capacity(roles.len());
        for role in roles.into_iter().map(Role::into_inner) {
            if !names.contains(&role) {
                names.push(role);
            }
        }
        self.roles = Some(names);
        self
    }

    /// Also sets whether the email is verified.
    pub fn with_email_verified(mut self, verified: bool) -> Self {
        self.email_verified = Some(verified);
        self
    }

    /// Whether the write may change `email_verified` (directly, or by changing the email).
    pub fn names_verification(&self) -> bool {
        self.email_verified.is_some() || !self.profile.email.leaves()
    }

    /// Also sets the active flag.
    pub fn with_active(mut self, active: bool) -> Self {
        self.is_active = Some(active);
        self
    }

    /// Whether the write ends every session of the user: a deactivation raises the token version
    /// in the same write, so no token from before it stays usable even for an instant.
    pub fn ends_sessions(&self) -> bool {
        self.is_active == Some(false)
    }

    /// Applies the changes to `user` as it is stored now (the `extra` merge starts from the stored
    /// map). Fails, changing nothing, when the merged `extra` breaks its limits.
    pub fn apply(&self, user: &mut User) -> DomainResult<()> {
        self.profile
            .clone()
            .apply(user)
            .map_err(|m| DomainError::field("extra", m))?;
        if let Some(roles) = &self.roles {
            user.roles = roles.clone();
        }
        if let Some(active) = self.is_active {
            user.is_active = active;
        }
        if let Some(verified) = self.email_verified {
            user.email_verified = verified && user.email.is_some();
        }
        Ok(())
    }
}
