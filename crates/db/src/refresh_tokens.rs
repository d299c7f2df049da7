//! `RefreshTokenRepository` on Diesel.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{RefreshToken, Rotation};
use user_service_domain::ports::RefreshTokenRepository;
use uuid::Uuid;

use crate::connection::{DbConnection, cached_update, on_backend, write_transaction};
use crate::database::{Backend, Database, first_hot};
use crate::errors;
use crate::group_commit::{GroupCommit, Job};
use crate::models::{RefreshTokenRow, to_db_time};
use crate::schema::{refresh_tokens, users};

/// Revokes the oldest live tokens of `new`'s family beyond `RefreshToken::MAX_LIVE_PER_FAMILY`,
/// `new` (just stored) counted first whatever its timestamp.
fn revoke_beyond_the_cap(
    conn: &mut DbConnection,
    new: &RefreshTokenRow,
    now: NaiveDateTime,
) -> Result<(), diesel::result::Error> {
    let others = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(&new.family_id))
        .filter(refresh_tokens::token_hash.ne(&new.token_hash))
        .filter(refresh_tokens::spent_at.is_null())
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::expires_at.gt(now))
        .order((
            refresh_tokens::issued_at.desc(),
            refresh_tokens::token_hash.desc(),
        ))
        .select(refresh_tokens::token_hash);
    let others: Vec<String> = on_backend!(conn, |c| others.load(c))?;
    let beyond: Vec<String> = others
        .into_iter()
        .skip(RefreshToken::MAX_LIVE_PER_FAMILY - 1)
        .collect();
    if !beyond.is_empty() {
        diesel::update(refresh_tokens::table.filter(refresh_tokens::token_hash.eq_any(beyond)))
            .set(refresh_tokens::revoked_at.eq(now))
            .execute(conn)?;
    }
    Ok(())
}

/// Whether the user is active, live and still at `version`, holding its row until the transaction
/// ends so that no ending of its sessions (a version raise, a family revocation, a deactivation, a
/// deletion: each an update of that row) can interleave. On PostgreSQL a share lock: those updates
/// wait for it and it for them, but two rotations of the same user's logins do not wait for each
/// other (an update of the row here, as before, serialised every refresh of a user and rewrote its
/// row, search vector included, each time). On SQLite `BEGIN IMMEDIATE` already holds the database.
fn hold_live_user(
    conn: &mut DbConnection,
    user_id: &str,
    version: i64,
) -> Result<bool, diesel::result::Error> {
    let live = users::table
        .find(user_id)
        .filter(users::token_version.eq(version))
        .filter(users::is_active.eq(true))
        .filter(users::deleted_at.is_null())
        .select(users::id);
    let found = match conn {
        DbConnection::Pg(pg) => live.for_share().first::<String>(pg).optional()?,
        DbConnection::Sqlite(lite) => live.first::<String>(lite).optional()?,
    };
    Ok(found.is_some())
}

/// One rotation: spend `old_hash` and store `row` as its successor.
#[derive(Debug)]
struct Rotate {
    old_hash: String,
    row: RefreshTokenRow,
    reuse_since: NaiveDateTime,
    now: NaiveDateTime,
}

/// On SQLite rotations go through one group commit: every write waits for the database's one write
/// lock anyway, and rotations that wait together then share one transaction, so one round of locks
/// and WAL writes instead of one each (the syscalls of a rotation were most of its CPU, see
/// docs/BENCHMARKS.md). A refused rotation writes nothing, so none can spoil another's.
impl Job for Rotate {
    type Answer = Rotation;

    fn apply(
        conn: &mut DbConnection,
        jobs: &[&Self],
    ) -> Result<Vec<DomainResult<Rotation>>, diesel::result::Error> {
        jobs.iter().map(|job| rotate(conn, job).map(Ok)).collect()
    }

    fn failure(error: diesel::result::Error) -> DomainError {
        errors::refresh_token_write(error)
    }
}

/// Decides and stores one rotation, inside the caller's write transaction.
fn rotate(conn: &mut DbConnection, job: &Rotate) -> Result<Rotation, diesel::result::Error> {
    let Rotate {
        old_hash,
        row,
        reuse_since,
        now,
    } = job;
    let (reuse_since, now) = (*reuse_since, *now);
    if !hold_live_user(conn, &row.user_id, row.token_version)? {
        return Ok(Rotation::Refused);
    }
    let old = refresh_tokens::token_hash
        .eq(old_hash)
        .and(refresh_tokens::family_id.eq(&row.family_id))
        .and(refresh_tokens::user_id.eq(&row.user_id))
        .and(refresh_tokens::token_version.eq(row.token_version))
        .and(refresh_tokens::revoked_at.is_null())
        .and(refresh_tokens::expires_at.gt(now));
    // The conditional update decides between concurrent refreshes of one live token: whoever comes
    // second sees it spent.
    let spend = cached_update(
        refresh_tokens::table,
        refresh_tokens::spent_at,
        now,
        old.and(refresh_tokens::spent_at.is_null()),
    );
    let spent = on_backend!(conn, |c| spend.execute(c))?;
    let outcome = if spent == 1 {
        Rotation::Rotated
    } else {
        let spent_at = refresh_tokens::table
            .filter(old)
            .select(refresh_tokens::spent_at);
        match on_backend!(conn, |c| spent_at.first::<Option<NaiveDateTime>>(c)).optional()? {
            Some(Some(at)) if at >= reuse_since => Rotation::Reissued,
            Some(Some(_)) => return Ok(Rotation::Replayed),
            _ => return Ok(Rotation::Refused),
        }
    };
    let insert = diesel::insert_into(refresh_tokens::table).values(row);
    on_backend!(conn, |c| insert.execute(c))?;
    // A rotation spends one live token and stores one: the family's live count is unchanged, so
    // only a reissue (the old one stays spent, a new one is added) can take it past the cap.
    // Skipping the check spares a scan of the whole family, which grows by one row per rotation.
    if outcome == Rotation::Reissued {
        revoke_beyond_the_cap(conn, row, now)?;
    }
    Ok(outcome)
}

/// The common rotation on PostgreSQL, a live token of a live user, in one statement and so one
/// round trip instead of five (begin, hold the user, spend, store, commit): the user's row is held
/// `FOR SHARE` and the old token spent by its conditional update, exactly as in `rotate`, and the
/// successor stored only if both held. It answers one inserted row or none; none means nothing was
/// written, and `rotate` then decides the rest (a reissue, a replay, a refusal) in its transaction.
struct RotateLive<'a>(&'a Rotate);

/// `RotateLive`'s SQL does not depend on its values, so it is prepared once per connection.
struct RotateLiveKey;

impl QueryId for RotateLive<'_> {
    type QueryId = RotateLiveKey;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for RotateLive<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let Rotate {
            old_hash, row, now, ..
        } = self.0;
        out.push_sql("WITH live AS (SELECT 1 FROM users WHERE id = ");
        out.push_bind_param::<Text, _>(&row.user_id)?;
        out.push_sql(" AND token_version = ");
        out.push_bind_param::<BigInt, _>(&row.token_version)?;
        out.push_sql(
            " AND is_active AND deleted_at IS NULL FOR SHARE), \
             spent AS (UPDATE refresh_tokens SET spent_at = ",
        );
        out.push_bind_param::<Timestamp, _>(now)?;
        out.push_sql(" WHERE token_hash = ");
        out.push_bind_param::<Text, _>(old_hash)?;
        out.push_sql(" AND family_id = ");
        out.push_bind_param::<Text, _>(&row.family_id)?;
        out.push_sql(" AND user_id = ");
        out.push_bind_param::<Text, _>(&row.user_id)?;
        out.push_sql(" AND token_version = ");
        out.push_bind_param::<BigInt, _>(&row.token_version)?;
        out.push_sql(" AND revoked_at IS NULL AND expires_at > ");
        out.push_bind_param::<Timestamp, _>(now)?;
        out.push_sql(
            " AND spent_at IS NULL AND EXISTS (SELECT 1 FROM live) RETURNING 1) \
             INSERT INTO refresh_tokens (token_hash, family_id, user_id, namespace, issued_at, \
             expires_at, spent_at, revoked_at, token_version) SELECT ",
        );
        out.push_bind_param::<Text, _>(&row.token_hash)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.family_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.user_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.namespace)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&row.issued_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&row.expires_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&row.spent_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&row.revoked_at)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&row.token_version)?;
        out.push_sql(" FROM spent");
        Ok(())
    }
}

impl RunQueryDsl<PgConnection> for RotateLive<'_> {}

#[derive(Debug, Clone)]
pub struct DieselRefreshTokens {
    db: Database,
    rotations: Arc<GroupCommit<(), Rotate>>,
}

impl DieselRefreshTokens {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            rotations: Arc::default(),
        }
    }
}
#[async_trait]
impl RefreshTokenRepository for DieselRefreshTokens {
    async fn insert(&self, token: &RefreshToken) -> DomainResult<()> {
        let row = RefreshTokenRow::new(token);
        self.db
            .run(move |conn| {
                diesel::insert_into(refresh_tokens::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(errors::refresh_token_write)?;
                Ok(())
            })
            .await
    }

    async fn find(&self, token_hash: &str) -> DomainResult<Option<RefreshToken>> {
        // A lookup by primary key, first on every refresh and logout.
        let by_hash = refresh_tokens::table.find(token_hash.to_owned());
        first_hot!(&self.db, by_hash, RefreshTokenRow)?
            .map(RefreshTokenRow::into_token)
            .transpose()
    }

    async fn rotate(
        &self,
        old_hash: &str,
        new: &RefreshToken,
        reuse_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DomainResult<Rotation> {
        let job = Rotate {
            old_hash: old_hash.to_owned(),
            row: RefreshTokenRow::new(new),
            reuse_since: to_db_time(reuse_since),
            now: to_db_time(now),
        };
        match self.db.backend() {
            Backend::Sqlite => self.rotations.submit(&self.db, (), job).await,
            Backend::Postgres => {
                self.db
                    .run(move |conn| {
                        if let DbConnection::Pg(pg) = conn
                            && RotateLive(&job)
                                .execute(pg)
                                .map_err(errors::refresh_token_write)?
                                == 1
                        {
                            return Ok(Rotation::Rotated);
                        }
                        write_transaction(conn, |conn| rotate(conn, &job))
                            .map_err(errors::refresh_token_write)
                    })
                    .await
            }
        }
    }

    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
        let family = family_id.to_string();
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let owner = refresh_tokens::table
                        .filter(refresh_tokens::family_id.eq(&family))
                        .select(refresh_tokens::user_id)
                        .first::<String>(conn)
                        .optional()?;
                    let Some(owner) = owner else {
                        return Ok(());
                    };
                    // Waits for a rotation of this user in flight; the revocation below is a new
                    // statement, so on PostgreSQL it sees the successor that rotation stored.
                    diesel::update(users::table.find(&owner))
                        .set(users::token_version.eq(users::token_version))
                        .execute(conn)?;
                    diesel::update(
                        refresh_tokens::table
                            .filter(refresh_tokens::family_id.eq(&family))
                            .filter(refresh_tokens::revoked_at.is_null()),
                    )
                    .set(refresh_tokens::revoked_at.eq(now))
                    .execute(conn)?;
                    Ok(())
                })
                .map_err(errors::db)
            })
            .await
    }

    async fn revoke_all_for_user(&self, user_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
        self.db
            .run(move |conn| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::user_id.eq(user_id.to_string()))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(to_db_time(now)))
                .execute(conn)
                .map_err(errors::db)?;
                Ok(())
            })
            .await
    }
}
