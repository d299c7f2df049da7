//! `RefreshTokenRepository` on Diesel.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::RefreshToken;
use user_service_domain::ports::RefreshTokenRepository;
use uuid::Uuid;

use crate::connection::write_transaction;
use crate::database::Database;
use crate::errors;
use crate::models::{RefreshTokenRow, to_db_time};
use crate::schema::refresh_tokens;

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
        now: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let old_hash = old_hash.to_owned();
        let row = RefreshTokenRow::new(new);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // The row lock this update takes decides between concurrent refreshes of one token:
                    // whoever comes second sees it spent and changes nothing.
                    let spent = diesel::update(
                        refresh_tokens::table
                            .find(old_hash)
                            .filter(refresh_tokens::spent_at.is_null())
                            .filter(refresh_tokens::revoked_at.is_null()),
                    )
                    .set(refresh_tokens::spent_at.eq(to_db_time(now)))
                    .execute(conn)?;
                    if spent != 1 {
                        return Ok(false);
                    }
                    diesel::insert_into(refresh_tokens::table)
                        .values(&row)
                        .execute(conn)?;
                    Ok(true)
                })
                .map_err(errors::refresh_token_write)
            })
            .await
    }

    async fn revoke_family(&self, family_id: Uuid, now: DateTime<Utc>) -> DomainResult<()> {
        self.db
            .run(move |conn| {
                diesel::update(
                    refresh_tokens::table
                        .filter(refresh_tokens::family_id.eq(family_id.to_string()))
                        .filter(refresh_tokens::revoked_at.is_null()),
                )
                .set(refresh_tokens::revoked_at.eq(to_db_time(now)))
                .execute(conn)
                .map_err(errors::db)?;
                Ok(())
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
