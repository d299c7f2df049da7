//! `IdempotencyStore` on Diesel. The primary key `(namespace, idempotency_key)` decides which of
//! several concurrent requests claims a key: the insert either succeeds or violates it.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{Claim, IdempotencyRecord, StoredResponse};
use user_service_domain::ports::IdempotencyStore;

use crate::database::Database;
use crate::errors;
use crate::models::{from_db_time, to_db_time};
use crate::schema::idempotency_keys as keys;

/// A claim that keeps losing to a holder that vanishes right after is given up on after this many tries.
const CLAIM_ATTEMPTS: usize = 3;

#[derive(Debug, Clone)]
pub struct DieselIdempotencyStore {
    db: Database,
}

impl DieselIdempotencyStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable)]
struct KeyRow {
    namespace: String,
    idempotency_key: String,
    request_hash: String,
    response_status: Option<i32>,
    response_type: Option<String>,
    response_body: Option<Vec<u8>>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
}

impl KeyRow {
    fn into_record(self) -> IdempotencyRecord {
        let response = match (self.response_status, self.response_body) {
            (Some(status), Some(body)) => Some(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                content_type: self.response_type,
                body,
            }),
            _ => None,
        };
        IdempotencyRecord {
            namespace: self.namespace,
            key: self.idempotency_key,
            request_hash: self.request_hash,
            response,
            created_at: from_db_time(self.created_at),
            expires_at: from_db_time(self.expires_at),
        }
    }
}

#[async_trait]
impl IdempotencyStore for DieselIdempotencyStore {
    async fn claim(
        &self,
        namespace: &str,
        key: &str,
        request_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> DomainResult<Claim> {
        let (namespace, key, hash) = (
            namespace.to_owned(),
            key.to_owned(),
            request_hash.to_owned(),
        );
        let (now, expires_at) = (to_db_time(now), to_db_time(expires_at));
        self.db
            .run(move |conn| {
                let this = || {
                    keys::table
                        .filter(keys::namespace.eq(&namespace))
                        .filter(keys::idempotency_key.eq(&key))
                };
                for _ in 0..CLAIM_ATTEMPTS {
                    // An expired record counts as absent: out of the way before the insert.
                    diesel::delete(this().filter(keys::expires_at.le(now)))
                        .execute(conn)
                        .map_err(errors::db)?;
                    let inserted = diesel::insert_into(keys::table)
                        .values((
                            keys::namespace.eq(&namespace),
                            keys::idempotency_key.eq(&key),
                            keys::request_hash.eq(&hash),
                            keys::created_at.eq(now),
                            keys::expires_at.eq(expires_at),
                        ))
                        .execute(conn);
                    match inserted {
                        Ok(_) => return Ok(Claim::Claimed),
                        Err(e) if errors::is_unique_violation(&e) => {}
                        Err(e) => return Err(errors::db(e)),
                    }
                    // Held by someone; it may have been released since, in which case try again.
                    if let Some(row) = this()
                        .first::<KeyRow>(conn)
                        .optional()
                        .map_err(errors::db)?
                    {
                        return Ok(Claim::Taken(row.into_record()));
                    }
                }
                Err(DomainError::IdempotencyKeyInUse)
            })
            .await
    }

    async fn complete(
        &self,
        namespace: &str,
        key: &str,
        response: &StoredResponse,
        expires_at: DateTime<Utc>,
    ) -> DomainResult<()> {
        let (namespace, key, response) = (namespace.to_owned(), key.to_owned(), response.clone());
        let expires_at = to_db_time(expires_at);
        self.db
            .run(move |conn| {
                diesel::update(
                    keys::table
                        .filter(keys::namespace.eq(namespace))
                        .filter(keys::idempotency_key.eq(key)),
                )
                .set((
                    keys::response_status.eq(i32::from(response.status)),
                    keys::response_type.eq(response.content_type),
                    keys::response_body.eq(response.body),
                    keys::expires_at.eq(expires_at),
                ))
                .execute(conn)
                .map_err(errors::db)?;
                Ok(())
            })
            .await
    }

    async fn release(&self, namespace: &str, key: &str) -> DomainResult<()> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.db
            .run(move |conn| {
                // Only a claim still in flight: a kept response is never thrown away by a release.
                diesel::delete(
                    keys::table
                        .filter(keys::namespace.eq(namespace))
                        .filter(keys::idempotency_key.eq(key))
                        .filter(keys::response_status.is_null()),
                )
                .execute(conn)
                .map_err(errors::db)?;
                Ok(())
            })
            .await
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> DomainResult<u64> {
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                let n = diesel::delete(keys::table.filter(keys::expires_at.le(now)))
                    .execute(conn)
                    .map_err(errors::db)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }
}
