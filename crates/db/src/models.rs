//! Rows as stored, and their conversions to and from the domain's entities. Columns are portable
//! types: UUIDs as text, UTC timestamps without a zone, `extra` and `roles` as JSON text.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::search::document;
use user_service_domain::model::{
    EmailPurpose, EmailToken, Mail, Namespace, NamespaceSettings, OutboxMail, OutboxStatus,
    RefreshToken, User, UserChanges,
};
use uuid::Uuid;

use crate::errors;
use crate::schema::{email_tokens, namespaces, outbox, refresh_tokens, users};

/// PostgreSQL keeps microseconds and rounds the rest, SQLite keeps nanoseconds: truncating before
/// writing stores the same value on both, so what is read back is equal to what was written.
pub(crate) fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

pub(crate) fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A stored enumeration value this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown value '{0}'")]
pub(crate) struct UnknownValue(pub String);

pub(crate) fn parse_uuid(column: &'static str, raw: &str) -> DomainResult<Uuid> {
    Uuid::parse_str(raw).map_err(|e| errors::corrupt(column, e))
}

pub(crate) fn to_json(column: &'static str, value: &impl serde::Serialize) -> DomainResult<String> {
    serde_json::to_string(value).map_err(|e| errors::corrupt(column, e))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    column: &'static str,
    raw: &str,
) -> DomainResult<T> {
    serde_json::from_str(raw).map_err(|e| errors::corrupt(column, e))
}

#[derive(Debug, Queryable, Insertable)]
#[diesel(table_name = namespaces)]
pub(crate) struct NamespaceRow {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub api_key_hash: String,
    pub created_at: NaiveDateTime,
    pub password_reset_url: Option<String>,
    pub email_verify_url: Option<String>,
    pub mail_from: Option<String>,
    pub require_verified_email: bool,
}

/// The columns a namespace update writes: everything but its slug, key and creation time.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = namespaces, treat_none_as_null = true)]
pub(crate) struct NamespaceChangeset {
    pub name: Option<String>,
    pub description: Option<String>,
    pub password_reset_url: Option<String>,
    pub email_verify_url: Option<String>,
    pub mail_from: Option<String>,
    pub require_verified_email: bool,
}

impl NamespaceChangeset {
    pub(crate) fn new(namespace: &Namespace) -> Self {
        let s = &namespace.settings;
        Self {
            name: namespace.name.clone(),
            description: namespace.description.clone(),
            password_reset_url: s.password_reset_url.clone(),
            email_verify_url: s.email_verify_url.clone(),
            mail_from: s.mail_from.clone(),
            require_verified_email: s.require_verified_email,
        }
    }
}

impl NamespaceRow {
    pub(crate) fn new(namespace: &Namespace, api_key_hash: &str) -> Self {
        Self {
            slug: namespace.slug.clone(),
            name: namespace.name.clone(),
            description: namespace.description.clone(),
            api_key_hash: api_key_hash.to_owned(),
            created_at: to_db_time(namespace.created_at),
            password_reset_url: namespace.settings.password_reset_url.clone(),
            email_verify_url: namespace.settings.email_verify_url.clone(),
            mail_from: namespace.settings.mail_from.clone(),
            require_verified_email: namespace.settings.require_verified_email,
        }
    }
}

impl From<NamespaceRow> for Namespace {
    fn from(row: NamespaceRow) -> Self {
        Namespace {
            slug: row.slug,
            name: row.name,
            description: row.description,
            created_at: from_db_time(row.created_at),
            settings: NamespaceSettings {
                password_reset_url: row.password_reset_url,
                email_verify_url: row.email_verify_url,
                mail_from: row.mail_from,
                require_verified_email: row.require_verified_email,
            },
        }
    }
}

/// A user as inserted: the domain's columns and those derived from them (the search document and
/// the name keys).
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow {
    #[diesel(embed)]
    pub row: UserRow,
    pub search_text: String,
    pub username_fold: Option<String>,
    pub email_fold: Option<String>,
}

impl NewUserRow {
    pub(crate) fn new(user: &User) -> DomainResult<Self> {
        Ok(Self {
            row: UserRow {
                id: user.id.to_string(),
                namespace: user.namespace.clone(),
                username: user.username.clone(),
                email: user.email.clone(),
                password_hash: user.password_hash.clone(),
                full_name: user.full_name.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                phone: user.phone.clone(),
                avatar_url: user.avatar_url.clone(),
                avatar_key: user.avatar_key.clone(),
                extra: to_json("users.extra", &user.extra)?,
                roles: to_json("users.roles", &user.roles)?,
                is_active: user.is_active,
                token_version: user.token_version,
                created_at: to_db_time(user.created_at),
                updated_at: to_db_time(user.updated_at),
                deleted_at: user.deleted_at.map(to_db_time),
                email_verified: user.email_verified,
            },
            search_text: document(user),
            username_fold: Some(user.username_key()),
            email_fold: user.email_key(),
        })
    }
}

/// Declares `USER_COLUMNS`, a tuple of the named `users` columns, as its type and its value.
macro_rules! user_columns {
    ($($column:ident),+ $(,)?) => {
        /// The type of [`USER_COLUMNS`], for queries whose type is spelled out.
        pub(crate) type UserColumns = ($(users::$column,)+);
        /// The columns of [`UserRow`], in its order: what every read of users selects (and every
        /// update returns).
        pub(crate) const USER_COLUMNS: UserColumns = ($(users::$column,)+);
    };
}

user_columns!(
    id,
    namespace,
    username,
    email,
    password_hash,
    full_name,
    first_name,
    last_name,
    phone,
    avatar_url,
    avatar_key,
    extra,
    roles,
    is_active,
    token_version,
    created_at,
    updated_at,
    deleted_at,
    email_verified,
);

/// A user as read: the columns of the domain's `User` and nothing derived from them. The search
/// document alone can be larger than the rest of the row, and every authenticated request reads
/// one user, so reads select [`USER_COLUMNS`], never the whole row.
#[derive(Debug, Clone, Queryable, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    pub id: String,
    pub namespace: String,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub avatar_url: Option<String>,
    pub avatar_key: Option<String>,
    pub extra: String,
    pub roles: String,
    pub is_active: bool,
    pub token_version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    pub email_verified: bool,
}

impl UserRow {
    pub(crate) fn into_user(self) -> DomainResult<User> {
        let extra: BTreeMap<String, String> = from_json("users.extra", &self.extra)?;
        Ok(User {
            id: parse_uuid("users.id", &self.id)?,
            namespace: self.namespace,
            username: self.username,
            email: self.email,
            email_verified: self.email_verified,
            password_hash: self.password_hash,
            full_name: self.full_name,
            first_name: self.first_name,
            last_name: self.last_name,
            phone: self.phone,
            avatar_url: self.avatar_url,
            avatar_key: self.avatar_key,
            extra,
            roles: from_json("users.roles", &self.roles)?,
            is_active: self.is_active,
            token_version: self.token_version,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            deleted_at: self.deleted_at.map(from_db_time),
        })
    }
}

/// The columns one `UserChanges` names, with their values taken from the user it was applied to;
/// every other column is left out of the statement. A nullable column is `Some(None)` to clear it.
/// The search document and `updated_at` derive from the row and are always written.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct UserChangeset {
    pub email: Option<Option<String>>,
    pub email_fold: Option<Option<String>>,
    pub full_name: Option<Option<String>>,
    pub first_name: Option<Option<String>>,
    pub last_name: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub extra: Option<String>,
    pub roles: Option<String>,
    pub is_active: Option<bool>,
    pub email_verified: Option<bool>,
    pub updated_at: NaiveDateTime,
    pub search_text: String,
}

impl UserChangeset {
    /// `changed` is the stored user with `changes` applied.
    pub(crate) fn new(changes: &UserChanges, changed: &User) -> DomainResult<Self> {
        let p = &changes.profile;
        let named = |leaves: bool, value: &Option<String>| (!leaves).then(|| value.clone());
        Ok(Self {
            email: named(p.email.leaves(), &changed.email),
            email_fold: named(p.email.leaves(), &changed.email_key()),
            full_name: named(p.full_name.leaves(), &changed.full_name),
            first_name: named(p.first_name.leaves(), &changed.first_name),
            last_name: named(p.last_name.leaves(), &changed.last_name),
            phone: named(p.phone.leaves(), &changed.phone),
            extra: match p.extra.leaves() {
                true => None,
                false => Some(to_json("users.extra", &changed.extra)?),
            },
            roles: match changes.roles {
                None => None,
                Some(_) => Some(to_json("users.roles", &changed.roles)?),
            },
            is_active: changes.is_active,
            email_verified: changes
                .names_verification()
                .then_some(changed.email_verified),
            updated_at: to_db_time(changed.updated_at),
            search_text: document(changed),
        })
    }
}

/// `None` is inserted as a bound NULL rather than `DEFAULT` (the columns' default is NULL all the
/// same): the statement's SQL then does not depend on the values, so PostgreSQL keeps it prepared
/// (diesel prepares an insert with `DEFAULT`s anew on every call), and a rotation's insert is one
/// statement of a hot path (issue 14).
#[derive(Debug, Queryable, Insertable)]
#[diesel(table_name = refresh_tokens, treat_none_as_default_value = false)]
pub(crate) struct RefreshTokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub user_id: String,
    pub namespace: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub spent_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    pub token_version: i64,
}

impl RefreshTokenRow {
    pub(crate) fn new(token: &RefreshToken) -> Self {
        Self {
            token_hash: token.token_hash.clone(),
            family_id: token.family_id.to_string(),
            user_id: token.user_id.to_string(),
            namespace: token.namespace.clone(),
            issued_at: to_db_time(token.issued_at),
            expires_at: to_db_time(token.expires_at),
            spent_at: token.spent_at.map(to_db_time),
            revoked_at: token.revoked_at.map(to_db_time),
            token_version: token.token_version,
        }
    }

    pub(crate) fn into_token(self) -> DomainResult<RefreshToken> {
        Ok(RefreshToken {
            token_hash: self.token_hash,
            family_id: parse_uuid("refresh_tokens.family_id", &self.family_id)?,
            user_id: parse_uuid("refresh_tokens.user_id", &self.user_id)?,
            namespace: self.namespace,
            issued_at: from_db_time(self.issued_at),
            expires_at: from_db_time(self.expires_at),
            spent_at: self.spent_at.map(from_db_time),
            revoked_at: self.revoked_at.map(from_db_time),
            token_version: self.token_version,
        })
    }
}

#[derive(Debug, Queryable, Insertable)]
#[diesel(table_name = email_tokens)]
pub(crate) struct EmailTokenRow {
    pub token_hash: String,
    pub purpose: String,
    pub user_id: String,
    pub namespace: String,
    pub email: String,
    pub email_fold: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

impl EmailTokenRow {
    pub(crate) fn new(token: &EmailToken) -> Self {
        Self {
            token_hash: token.token_hash.clone(),
            purpose: token.purpose.as_str().to_owned(),
            user_id: token.user_id.to_string(),
            namespace: token.namespace.clone(),
            email: token.email.clone(),
            email_fold: token.email_key(),
            created_at: to_db_time(token.created_at),
            expires_at: to_db_time(token.expires_at),
            used_at: token.used_at.map(to_db_time),
        }
    }

    pub(crate) fn into_token(self) -> DomainResult<EmailToken> {
        Ok(EmailToken {
            purpose: EmailPurpose::parse(&self.purpose).ok_or_else(|| {
                errors::corrupt("email_tokens.purpose", UnknownValue(self.purpose.clone()))
            })?,
            token_hash: self.token_hash,
            user_id: parse_uuid("email_tokens.user_id", &self.user_id)?,
            namespace: self.namespace,
            email: self.email,
            created_at: from_db_time(self.created_at),
            expires_at: from_db_time(self.expires_at),
            used_at: self.used_at.map(from_db_time),
        })
    }
}

#[derive(Debug, Queryable, Insertable)]
#[diesel(table_name = outbox)]
pub(crate) struct OutboxRow {
    pub id: String,
    pub namespace: String,
    pub from_name: Option<String>,
    pub from_address: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claim_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

impl OutboxRow {
    pub(crate) fn new(entry: &OutboxMail) -> Self {
        let m = &entry.mail;
        Self {
            id: entry.id.to_string(),
            namespace: entry.namespace.clone(),
            from_name: m.from_name.clone(),
            from_address: m.from_address.clone(),
            recipient: m.to.clone(),
            subject: m.subject.clone(),
            text_body: m.text_body.clone(),
            html_body: m.html_body.clone(),
            status: entry.status.as_str().to_owned(),
            attempts: i32::try_from(entry.attempts).unwrap_or(i32::MAX),
            next_attempt_at: to_db_time(entry.next_attempt_at),
            claim_id: None,
            last_error: entry.last_error.clone(),
            created_at: to_db_time(entry.created_at),
            sent_at: entry.sent_at.map(to_db_time),
        }
    }

    pub(crate) fn into_mail(self) -> DomainResult<OutboxMail> {
        Ok(OutboxMail {
            id: parse_uuid("outbox.id", &self.id)?,
            status: OutboxStatus::parse(&self.status).ok_or_else(|| {
                errors::corrupt("outbox.status", UnknownValue(self.status.clone()))
            })?,
            namespace: self.namespace,
            mail: Mail {
                from_name: self.from_name,
                from_address: self.from_address,
                to: self.recipient,
                subject: self.subject,
                text_body: self.text_body,
                html_body: self.html_body,
            },
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            next_attempt_at: from_db_time(self.next_attempt_at),
            last_error: self.last_error,
            created_at: from_db_time(self.created_at),
            sent_at: self.sent_at.map(from_db_time),
        })
    }
}
