//! `UserRepository` on Diesel. Uniqueness of live usernames and emails is the partial unique indexes'
//! job; a violation is translated, never checked beforehand.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::User;
use user_service_domain::ports::{AvatarRef, LoginName, UserRepository};
use uuid::Uuid;

use crate::database::Database;
use crate::errors;
use crate::models::{ProfileChangeset, UserRow, to_db_time};
use crate::schema::users;

#[derive(Debug, Clone)]
pub struct DieselUsers {
    db: Database,
}

impl DieselUsers {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UserRepository for DieselUsers {
    async fn insert(&self, user: &User) -> DomainResult<()> {
        let row = UserRow::new(user)?;
        self.db
            .run(move |conn| {
                diesel::insert_into(users::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(|e| errors::user_write(e, &row.namespace, &row.username))?;
                Ok(())
            })
            .await
    }

    async fn get(&self, namespace: &str, id: Uuid) -> DomainResult<Option<User>> {
        let namespace = namespace.to_owned();
        self.db
            .run(move |conn| {
                users::table
                    .filter(users::namespace.eq(namespace))
                    .filter(users::id.eq(id.to_string()))
                    .first::<UserRow>(conn)
                    .optional()
                    .map_err(errors::db)?
                    .map(UserRow::into_user)
                    .transpose()
            })
            .await
    }

    async fn find_live(&self, namespace: &str, login: &LoginName) -> DomainResult<Option<User>> {
        let namespace = namespace.to_owned();
        let login = login.clone();
        self.db
            .run(move |conn| {
                let live = users::table
                    .filter(users::namespace.eq(namespace))
                    .filter(users::deleted_at.is_null());
                let found = match login {
                    LoginName::Username(key) => live
                        .filter(users::username_key.eq(key))
                        .first::<UserRow>(conn),
                    LoginName::Email(key) => {
                        live.filter(users::email_key.eq(key)).first::<UserRow>(conn)
                    }
                };
                found
                    .optional()
                    .map_err(errors::db)?
                    .map(UserRow::into_user)
                    .transpose()
            })
            .await
    }

    async fn update_profile(&self, user: &User) -> DomainResult<bool> {
        let changes = ProfileChangeset::new(user)?;
        let (namespace, id, username) = (
            user.namespace.clone(),
            user.id.to_string(),
            user.username.clone(),
        );
        self.db
            .run(move |conn| {
                let changed = diesel::update(
                    users::table
                        .filter(users::namespace.eq(&namespace))
                        .filter(users::id.eq(id)),
                )
                .set(&changes)
                .execute(conn)
                .map_err(|e| errors::user_write(e, &namespace, &username))?;
                Ok(changed == 1)
            })
            .await
    }

    async fn swap_avatar(
        &self,
        namespace: &str,
        id: Uuid,
        expected_key: Option<String>,
        avatar: Option<AvatarRef>,
        now: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let namespace = namespace.to_owned();
        let (key, url) = match avatar {
            Some(a) => (Some(a.key), Some(a.url)),
            None => (None, None),
        };
        self.db
            .run(move |conn| {
                let user = users::table
                    .filter(users::namespace.eq(namespace))
                    .filter(users::id.eq(id.to_string()));
                let changes = (
                    users::avatar_key.eq(key),
                    users::avatar_url.eq(url),
                    users::updated_at.eq(to_db_time(now)),
                );
                // `= NULL` never matches, so "still no avatar" needs its own condition.
                let changed = match expected_key {
                    Some(expected) => diesel::update(user.filter(users::avatar_key.eq(expected)))
                        .set(changes)
                        .execute(conn),
                    None => diesel::update(user.filter(users::avatar_key.is_null()))
                        .set(changes)
                        .execute(conn),
                }
                .map_err(errors::db)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn set_password_hash(
        &self,
        namespace: &str,
        id: Uuid,
        hash: &str,
        revoke: bool,
        now: DateTime<Utc>,
    ) -> DomainResult<i64> {
        let (namespace, hash) = (namespace.to_owned(), hash.to_owned());
        // One statement either way: adding 0 keeps the version, so no branch builds a second query.
        let raise = i64::from(revoke);
        self.db
            .run(move |conn| {
                diesel::update(
                    users::table
                        .filter(users::namespace.eq(namespace))
                        .filter(users::id.eq(id.to_string())),
                )
                .set((
                    users::password_hash.eq(hash),
                    users::token_version.eq(users::token_version + raise),
                    users::updated_at.eq(to_db_time(now)),
                ))
                .returning(users::token_version)
                .get_result::<i64>(conn)
                .optional()
                .map_err(errors::db)?
                .ok_or(DomainError::UserNotFound)
            })
            .await
    }

    async fn bump_token_version(
        &self,
        namespace: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DomainResult<i64> {
        let namespace = namespace.to_owned();
        self.db
            .run(move |conn| {
                diesel::update(
                    users::table
                        .filter(users::namespace.eq(namespace))
                        .filter(users::id.eq(id.to_string())),
                )
                .set((
                    users::token_version.eq(users::token_version + 1),
                    users::updated_at.eq(to_db_time(now)),
                ))
                .returning(users::token_version)
                .get_result::<i64>(conn)
                .optional()
                .map_err(errors::db)?
                .ok_or(DomainError::UserNotFound)
            })
            .await
    }

    async fn soft_delete(
        &self,
        namespace: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let namespace = namespace.to_owned();
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                let changed = diesel::update(
                    users::table
                        .filter(users::namespace.eq(namespace))
                        .filter(users::id.eq(id.to_string()))
                        .filter(users::deleted_at.is_null()),
                )
                .set((
                    users::deleted_at.eq(now),
                    users::is_active.eq(false),
                    users::token_version.eq(users::token_version + 1),
                    users::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(errors::db)?;
                Ok(changed == 1)
            })
            .await
    }
}
