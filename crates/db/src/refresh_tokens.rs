//! `RefreshTokenRepository` on Diesel.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{RefreshToken, Rotation};
use user_service_domain::ports::RefreshTokenRepository;
use uuid::Uuid;

use crate::connection::{DbConnection, write_transaction};
use crate::database::Database;
use crate::errors;
use crate::models::{RefreshTokenRow, to_db_time};
use crate::schema::{refresh_tokens, users};

/// Revokes the oldest live tokens of `new`'s family beyond `RefreshToken::MAX_LIVE_PER_FAMILY`,
/// `new` (just stored) counted first whatever its timestamp.
fn revoke_beyond_the_cap(
    conn: &mut DbConnection,
    new: &RefreshTokenRow,
    now: NaiveDateTime,
) -> Result<(), diesel::result::Error> {
    let others: Vec<String> = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(&new.family_id))
        .filter(refresh_tokens::token_hash.ne(&new.token_hash))
        .filter(refresh_tokens::spent_at.is_null())
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::expires_at.gt(now))
        .order((
            refresh_tokens::issued_at.desc(),
            refresh_tokens::token_hash.desc(),
        ))
        .select(refresh_tokens::token_hash)
        .load(conn)?;
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

#[derive(Debug, Clone)]
pub struct DieselRefreshTokens {
    db: Database,
}

impl DieselRefreshTokens {
    pub fn new(db: Database) -> Self {
        Self { db }
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
        let hash = token_hash.to_owned();
        self.db
            .run(move |conn| {
                refresh_tokens::table
                    .find(hash)
                    .first::<RefreshTokenRow>(conn)
                    .optional()
                    .map_err(errors::db)?
                    .map(RefreshTokenRow::into_token)
                    .transpose()
            })
            .await
    }

    async fn rotate(
        &self,
        old_hash: &str,
        new: &RefreshToken,
        reuse_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DomainResult<Rotation> {
        let old_hash = old_hash.to_owned();
        let row = RefreshTokenRow::new(new);
        let (reuse_since, now) = (to_db_time(reuse_since), to_db_time(now));
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // The user's row lock orders this against every ending of its sessions; the
                    // condition refuses a user that was ended (or moved to a new version) before.
                    let user_live = diesel::update(
                        users::table
                            .find(&row.user_id)
                            .filter(users::token_version.eq(row.token_version))
                            .filter(users::is_active.eq(true))
                            .filter(users::deleted_at.is_null()),
                    )
                    .set(users::token_version.eq(users::token_version))
                    .execute(conn)?;
                    if user_live != 1 {
                        return Ok(Rotation::Refused);
                    }
                    let old = refresh_tokens::table
                        .find(&old_hash)
                        .filter(refresh_tokens::family_id.eq(&row.family_id))
                        .filter(refresh_tokens::user_id.eq(&row.user_id))
                        .filter(refresh_tokens::token_version.eq(row.token_version))
                        .filter(refresh_tokens::revoked_at.is_null())
                        .filter(refresh_tokens::expires_at.gt(now));
                    // The conditional update decides between concurrent refreshes of one live token:
                    // whoever comes second sees it spent.
                    let spent = diesel::update(old.filter(refresh_tokens::spent_at.is_null()))
                        .set(refresh_tokens::spent_at.eq(now))
                        .execute(conn)?;
                    let outcome = if spent == 1 {
                        Rotation::Rotated
                    } else {
                        match old
                            .select(refresh_tokens::spent_at)
                            .first::<Option<NaiveDateTime>>(conn)
                            .optional()?
                        {
                            Some(Some(at)) if at >= reuse_since => Rotation::Reissued,
                            Some(Some(_)) => return Ok(Rotation::Replayed),
                            _ => return Ok(Rotation::Refused),
                        }
                    };
                    diesel::insert_into(refresh_tokens::table)
                        .values(&row)
                        .execute(conn)?;
                    revoke_beyond_the_cap(conn, &row, now)?;
                    Ok(outcome)
                })
                .map_err(errors::refresh_token_write)
            })
            .await
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
