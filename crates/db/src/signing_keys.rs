//! `SigningKeyRepository` on Diesel. The partial unique index `signing_keys_one_active_uq` keeps
//! one active key whatever the number of instances racing; losing that race is `false`, not an error.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{SigningAlgorithm, SigningKeyRecord};
use user_service_domain::ports::SigningKeyRepository;

use crate::connection::write_transaction;
use crate::database::Database;
use crate::errors;
use crate::models::{from_db_time, to_db_time};
use crate::schema::signing_keys;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct SigningKeyRow {
    kid: String,
    algorithm: String,
    public_jwk: String,
    sealed_private_key: Vec<u8>,
    created_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
}

impl SigningKeyRow {
    fn new(key: &SigningKeyRecord) -> Self {
        Self {
            kid: key.kid.clone(),
            algorithm: key.algorithm.jws_name().to_owned(),
            public_jwk: key.public_jwk.clone(),
            sealed_private_key: key.sealed_private_key.clone(),
            created_at: to_db_time(key.created_at),
            retired_at: key.retired_at.map(to_db_time),
        }
    }

    fn into_record(self) -> DomainResult<SigningKeyRecord> {
        let algorithm = SigningAlgorithm::from_jws_name(&self.algorithm).ok_or_else(|| {
            errors::corrupt(
                "signing_keys.algorithm",
                UnknownAlgorithm(self.algorithm.clone()),
            )
        })?;
        Ok(SigningKeyRecord {
            kid: self.kid,
            algorithm,
            public_jwk: self.public_jwk,
            sealed_private_key: self.sealed_private_key,
            created_at: from_db_time(self.created_at),
            retired_at: self.retired_at.map(from_db_time),
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown signing algorithm '{0}'")]
struct UnknownAlgorithm(String);

/// The signing keys on either backend.
#[derive(Debug, Clone)]
pub struct DieselSigningKeys {
    db: Database,
}

impl DieselSigningKeys {
    /// The adapter over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl SigningKeyRepository for DieselSigningKeys {
    async fn list(&self, retired_after: DateTime<Utc>) -> DomainResult<Vec<SigningKeyRecord>> {
        let since = to_db_time(retired_after);
        self.db
            .run(move |conn| {
                let rows = signing_keys::table
                    .filter(
                        signing_keys::retired_at
                            .is_null()
                            .or(signing_keys::retired_at.gt(since)),
                    )
                    .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
                    .select(SigningKeyRow::as_select())
                    .load(conn)
                    .map_err(errors::db)?;
                rows.into_iter().map(SigningKeyRow::into_record).collect()
            })
            .await
    }

    async fn insert_first(&self, key: &SigningKeyRecord) -> DomainResult<bool> {
        let row = SigningKeyRow::new(key);
        self.db
            .run(move |conn| {
                match diesel::insert_into(signing_keys::table)
                    .values(&row)
                    .execute(conn)
                {
                    Ok(_) => Ok(true),
                    Err(e) if errors::is_unique_violation(&e) => Ok(false),
                    Err(e) => Err(errors::db(e)),
                }
            })
            .await
    }

    async fn rotate(&self, key: &SigningKeyRecord, now: DateTime<Utc>) -> DomainResult<bool> {
        let row = SigningKeyRow::new(key);
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                let stored = write_transaction(conn, |conn| {
                    diesel::update(signing_keys::table.filter(signing_keys::retired_at.is_null()))
                        .set(signing_keys::retired_at.eq(now))
                        .execute(conn)?;
                    diesel::insert_into(signing_keys::table)
                        .values(&row)
                        .execute(conn)
                });
                match stored {
                    Ok(_) => Ok(true),
                    Err(e) if errors::is_unique_violation(&e) => Ok(false),
                    Err(e) => Err(errors::db(e)),
                }
            })
            .await
    }
}
