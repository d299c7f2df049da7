//! `UserRepository` on Diesel. Uniqueness of live usernames and emails is the partial unique indexes'
//! job; a violation is translated, never checked beforehand.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl;
use diesel::prelude::*;
use diesel_async::AsyncPgConnection;
use std::future::Future;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{PageRequest, Paged, SearchQuery, User, UserChanges};
use user_service_domain::ports::{AvatarRef, LoginName, UserFilter, UserRepository};
use uuid::Uuid;

use crate::connection::{DbConnection, on_backend, write_transaction};
use crate::database::{Database, first_hot};
use crate::errors;
use crate::models::{
    NewUserRow, USER_COLUMNS, UserChangeset, UserColumns, UserRow, from_db_time, to_db_time,
};
use crate::read_batch::{BatchRead, ReadBatch};
use crate::schema::{namespace_user_counts as counts, users};
use crate::user_search::search_ids;

/// A user by its key: the principal read, the same query on a pooled and on an async connection.
type UserById = dsl::Select<
    dsl::Filter<
        dsl::Filter<users::table, dsl::Eq<users::namespace, String>>,
        dsl::Eq<users::id, String>,
    >,
    UserColumns,
>;

/// Principal reads by `(namespace, id)`, batched on PostgreSQL: one query by primary key for every
/// read waiting on a thread, each answered only by its own namespace's row.
struct Principals;

impl BatchRead for Principals {
    type Key = (String, String);
    type Row = UserRow;

    fn load<'a>(
        conn: &'a AsyncPgConnection,
        keys: &'a [Self::Key],
    ) -> impl Future<Output = QueryResult<Vec<UserRow>>> + Send + 'a {
        let ids: Vec<&str> = keys.iter().map(|(_, id)| id.as_str()).collect();
        let query = users::table
            .filter(users::id.eq_any(ids))
            .select(USER_COLUMNS);
        async move {
            let mut conn = conn;
            diesel_async::RunQueryDsl::load(query, &mut conn).await
        }
    }

    fn answers(row: &UserRow, (namespace, id): &Self::Key) -> bool {
        row.id == *id && row.namespace == *namespace
    }
}

fn user_by_id(namespace: &str, id: Uuid) -> UserById {
    users::table
        .filter(users::namespace.eq(namespace.to_owned()))
        .filter(users::id.eq(id.to_string()))
        .select(USER_COLUMNS)
}

/// Why a write transaction on `users` was rolled back: the database failed, or a rule of the domain
/// refused the change (a duplicate email, a merged `extra` over its limits).
enum Abort {
    Db(diesel::result::Error),
    Domain(DomainError),
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Abort::Db(e)
    }
}

impl From<DomainError> for Abort {
    fn from(e: DomainError) -> Self {
        Abort::Domain(e)
    }
}

#[derive(Debug, Clone)]
pub struct DieselUsers {
    db: Database,
    principals: Option<ReadBatch<Principals>>,
}

impl DieselUsers {
    pub fn new(db: Database) -> Self {
        let principals = db.read_batch();
        Self { db, principals }
    }
}

#[async_trait]
impl UserRepository for DieselUsers {
    async fn insert(&self, user: &User) -> DomainResult<()> {
        let row = NewUserRow::new(user)?;
        self.db
            .run(move |conn| {
                diesel::insert_into(users::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(|e| {
                        let r = &row.row;
                        let fold = row.username_fold.as_deref();
                        name_taken(conn, e, (&r.namespace, &r.id, &r.username, fold))
                    })?;
                Ok(())
            })
            .await
    }

    async fn get(&self, namespace: &str, id: Uuid) -> DomainResult<Option<User>> {
        // Every authenticated request reads its principal here.
        if let Some(principals) = &self.principals
            && let Ok(row) = principals
                .read((namespace.to_owned(), id.to_string()))
                .await
        {
            return row.map(UserRow::into_user).transpose();
        }
        first_hot!(&self.db, user_by_id(namespace, id), UserRow)?
            .map(UserRow::into_user)
            .transpose()
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
                        .filter(users::username_fold.eq(key))
                        .select(USER_COLUMNS)
                        .first::<UserRow>(conn),
                    LoginName::Email(key) => live
                        .filter(users::email_fold.eq(key))
                        .select(USER_COLUMNS)
                        .first::<UserRow>(conn),
                };
                found
                    .optional()
                    .map_err(errors::db)?
                    .map(UserRow::into_user)
                    .transpose()
            })
            .await
    }

    async fn update(
        &self,
        namespace: &str,
        id: Uuid,
        changes: &UserChanges,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<User>> {
        let namespace = namespace.to_owned();
        let changes = changes.clone();
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let live = users::table
                        .filter(users::namespace.eq(&namespace))
                        .filter(users::id.eq(id.to_string()))
                        .filter(users::deleted_at.is_null());
                    // Reading the row through an update takes its write lock first (PostgreSQL waits
                    // for a concurrent writer and then returns the row as it committed it; SQLite's
                    // IMMEDIATE transaction holds the database's write lock already). The changes are
                    // applied to that row, which no one else can write until this commits.
                    let Some(row) = diesel::update(live.clone())
                        .set(users::updated_at.eq(now))
                        .returning(USER_COLUMNS)
                        .get_result::<UserRow>(conn)
                        .optional()?
                    else {
                        return Ok(None);
                    };
                    let mut user = row.into_user()?;
                    changes.apply(&mut user)?;
                    user.updated_at = from_db_time(now);
                    let set = UserChangeset::new(&changes, &user)?;
                    // One statement either way: adding 0 keeps the version.
                    let raise = i64::from(changes.ends_sessions());
                    let row = diesel::update(live)
                        .set((set, users::token_version.eq(users::token_version + raise)))
                        .returning(USER_COLUMNS)
                        .get_result::<UserRow>(conn)
                        .map_err(|e| {
                            let (id, fold) = (user.id.to_string(), user.username_key());
                            let who = (
                                namespace.as_str(),
                                id.as_str(),
                                user.username.as_str(),
                                Some(fold.as_str()),
                            );
                            Abort::Domain(name_taken(conn, e, who))
                        })?;
                    Ok(Some(row.into_user()?))
                })
                .map_err(|e: Abort| match e {
                    Abort::Db(e) => errors::db(e),
                    Abort::Domain(e) => e,
                })
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

    async fn verify_email(
        &self,
        namespace: &str,
        id: Uuid,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<User>> {
        let (namespace, key) = (namespace.to_owned(), email_key.to_owned());
        self.db
            .run(move |conn| {
                diesel::update(
                    users::table
                        .filter(users::namespace.eq(namespace))
                        .filter(users::id.eq(id.to_string()))
                        .filter(users::deleted_at.is_null())
                        .filter(users::email_fold.eq(key)),
                )
                .set((
                    users::email_verified.eq(true),
                    users::updated_at.eq(to_db_time(now)),
                ))
                .returning(USER_COLUMNS)
                .get_result::<UserRow>(conn)
                .optional()
                .map_err(errors::db)?
                .map(UserRow::into_user)
                .transpose()
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

    async fn restore(&self, namespace: &str, id: Uuid, now: DateTime<Utc>) -> DomainResult<bool> {
        let namespace = namespace.to_owned();
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                let target = users::table
                    .filter(users::namespace.eq(&namespace))
                    .filter(users::id.eq(id.to_string()))
                    .filter(users::deleted_at.is_not_null());
                let Some((username, fold)) = target
                    .clone()
                    .select((users::username, users::username_fold))
                    .first::<(String, Option<String>)>(conn)
                    .optional()
                    .map_err(errors::db)?
                else {
                    return Ok(false);
                };
                // No check beforehand: the partial unique indexes refuse the row if its username or
                // email is live again, even when another request takes it at this very moment.
                let changed = diesel::update(target)
                    .set((
                        users::deleted_at.eq(None::<chrono::NaiveDateTime>),
                        users::is_active.eq(true),
                        users::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .map_err(|e| {
                        let id = id.to_string();
                        name_taken(conn, e, (&namespace, &id, &username, fold.as_deref()))
                    })?;
                Ok(changed == 1)
            })
            .await
    }

    async fn list(
        &self,
        namespace: &str,
        filter: &UserFilter,
        page: PageRequest,
    ) -> DomainResult<Paged<User>> {
        let namespace = namespace.to_owned();
        let filter = filter.clone();
        self.db
            .run(move |conn| {
                let filtered = || {
                    let mut q = users::table
                        .filter(users::namespace.eq(namespace.clone()))
                        .into_boxed();
                    if !filter.include_deleted {
                        q = q.filter(users::deleted_at.is_null());
                    }
                    if let Some(active) = filter.is_active {
                        q = q.filter(users::is_active.eq(active));
                    }
                    if let Some(role) = &filter.role {
                        // Roles are a JSON array of names; `_` is a LIKE wildcard and must be escaped.
                        let pattern = format!(
                            "%\"{}\"%",
                            role.replace('\\', "\\\\")
                                .replace('_', "\\_")
                                .replace('%', "\\%")
                        );
                        q = q.filter(users::roles.like(pattern).escape('\\'));
                    }
                    q
                };
                let total = match counted(&filter) {
                    Some(column) => count_of(conn, &namespace, column),
                    None => filtered().count().get_result(conn),
                }
                .map_err(errors::db)?;
                let rows: Vec<UserRow> = match counted(&filter) {
                    Some(Counted::Live) => live_page(conn, &namespace, page),
                    _ => filtered()
                        .select(USER_COLUMNS)
                        .order((users::created_at.asc(), users::id.asc()))
                        .limit(page.limit as i64)
                        .offset(page.offset as i64)
                        .load(conn),
                }
                .map_err(errors::db)?;
                Ok(Paged {
                    items: rows
                        .into_iter()
                        .map(UserRow::into_user)
                        .collect::<DomainResult<_>>()?,
                    total: total.max(0) as u64,
                    request: page,
                })
            })
            .await
    }

    async fn search(
        &self,
        namespace: &str,
        query: &SearchQuery,
        page: PageRequest,
    ) -> DomainResult<Paged<User>> {
        let namespace = namespace.to_owned();
        let query = query.clone();
        self.db
            .run(move |conn| {
                let (ids, total) = search_ids(conn, &namespace, &query, page)?;
                let mut rows: Vec<UserRow> = users::table
                    .filter(users::namespace.eq(&namespace))
                    .filter(users::id.eq_any(&ids))
                    .select(USER_COLUMNS)
                    .load(conn)
                    .map_err(errors::db)?;
                // Back into the engine's ranking order.
                rows.sort_by_key(|r| ids.iter().position(|id| *id == r.id));
                Ok(Paged {
                    items: rows
                        .into_iter()
                        .map(UserRow::into_user)
                        .collect::<DomainResult<_>>()?,
                    total,
                    request: page,
                })
            })
            .await
    }
}

/// Which kept count answers a list's `total` without counting: the live users, or all of them,
/// when nothing else filters the list.
#[derive(Debug, Clone, Copy)]
enum Counted {
    Live,
    All,
}

fn counted(filter: &UserFilter) -> Option<Counted> {
    match filter {
        UserFilter {
            is_active: None,
            role: None,
            include_deleted,
        } => Some(if *include_deleted {
            Counted::All
        } else {
            Counted::Live
        }),
        _ => None,
    }
}

/// The namespace's kept count: the sum of its (at most 16) shard rows.
fn count_of(
    conn: &mut DbConnection,
    namespace: &str,
    which: Counted,
) -> Result<i64, diesel::result::Error> {
    let rows = counts::table.filter(counts::namespace.eq(namespace));
    let shards: Vec<i64> = match which {
        Counted::Live => on_backend!(conn, |c| rows.select(counts::live).load(c))?,
        Counted::All => on_backend!(conn, |c| rows.select(counts::total).load(c))?,
    };
    Ok(shards.into_iter().sum())
}

/// The list every admin console opens with, live users oldest first, as a query of one fixed shape
/// run on the backend's own connection: it stays prepared. Through the boxed query of filtered lists
/// it was rendered again on every call (100k instructions of SQL building per list in callgrind,
/// issue 14) and parsed and planned again by PostgreSQL.
fn live_page(
    conn: &mut DbConnection,
    namespace: &str,
    page: PageRequest,
) -> Result<Vec<UserRow>, diesel::result::Error> {
    let query = users::table
        .filter(users::namespace.eq(namespace))
        .filter(users::deleted_at.is_null())
        .select(USER_COLUMNS)
        .order((users::created_at.asc(), users::id.asc()))
        .limit(page.limit as i64)
        .offset(page.offset as i64);
    on_backend!(conn, |c| query.load(c))
}

/// A user write refused by a unique index, as [`errors::user_write`] names it, except that when the
/// username and the email are both taken the answer is `USERNAME_TAKEN` on both databases:
/// PostgreSQL checks the username's index first, SQLite the email's. So an email conflict looks
/// whether the username (`who`: namespace, id, username, its key) is live on another account too.
/// Inside a PostgreSQL transaction the failed statement has aborted it and that look fails, but
/// there the username was checked first anyway.
pub(crate) fn name_taken(
    conn: &mut DbConnection,
    err: diesel::result::Error,
    who: (&str, &str, &str, Option<&str>),
) -> DomainError {
    let (namespace, id, username, fold) = who;
    let named = errors::user_write(err, namespace, username);
    let (DomainError::EmailTaken { .. }, Some(fold)) = (&named, fold) else {
        return named;
    };
    let username_too = users::table
        .filter(users::namespace.eq(namespace))
        .filter(users::username_fold.eq(fold))
        .filter(users::deleted_at.is_null())
        .filter(users::id.ne(id))
        .select(users::id)
        .first::<String>(conn)
        .optional();
    match username_too {
        Ok(Some(_)) => DomainError::UsernameTaken {
            namespace: namespace.to_owned(),
            username: username.to_owned(),
        },
        _ => named,
    }
}
