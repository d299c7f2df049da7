//! `EmailTokenRepository` and `MailOutbox` on Diesel: a token and its mail are written in one
//! transaction; senders claim due mails so that no two take the same one.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{
    EmailPurpose, EmailToken, Issued, MailQuota, OutboxCounts, OutboxMail, OutboxStatus,
};
use user_service_domain::ports::{EmailTokenRepository, MailOutbox};
use uuid::Uuid;

use crate::connection::{DbConnection, write_transaction};
use crate::database::Database;
use crate::errors;
use crate::models::{EmailTokenRow, OutboxRow, to_db_time};
use crate::schema::{email_tokens, outbox, users};

/// Stored errors are for an operator's eyes; a server's whole answer need not be kept.
const MAX_ERROR_CHARS: usize = 1000;

#[derive(Debug, Clone)]
pub struct DieselEmailTokens {
    db: Database,
}

impl DieselEmailTokens {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl EmailTokenRepository for DieselEmailTokens {
    async fn issue(
        &self,
        token: &EmailToken,
        mail: &OutboxMail,
        quota: MailQuota,
    ) -> DomainResult<Issued> {
        let token = EmailTokenRow::new(token);
        let mail = OutboxRow::new(mail);
        let since = to_db_time(quota.since);
        let max = i64::from(quota.max);
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    // The user's row lock puts concurrent issues for one account (and so for its
                    // address) in a line: each counts what the one before it stored.
                    diesel::update(users::table.find(&token.user_id))
                        .set(users::token_version.eq(users::token_version))
                        .execute(conn)?;
                    let sent: i64 = email_tokens::table
                        .filter(email_tokens::namespace.eq(&token.namespace))
                        .filter(email_tokens::email_fold.eq(&token.email_fold))
                        .filter(email_tokens::purpose.eq(&token.purpose))
                        .filter(email_tokens::created_at.gt(since))
                        .count()
                        .get_result(conn)?;
                    if sent >= max {
                        return Ok(Issued::OverQuota);
                    }
                    diesel::update(
                        email_tokens::table
                            .filter(email_tokens::user_id.eq(&token.user_id))
                            .filter(email_tokens::purpose.eq(&token.purpose))
                            .filter(email_tokens::used_at.is_null()),
                    )
                    .set(email_tokens::used_at.eq(token.created_at))
                    .execute(conn)?;
                    diesel::insert_into(email_tokens::table)
                        .values(&token)
                        .execute(conn)?;
                    diesel::insert_into(outbox::table)
                        .values(&mail)
                        .execute(conn)?;
                    Ok(Issued::Queued)
                })
                .map_err(errors::db)
            })
            .await
    }

    async fn consume(
        &self,
        token_hash: &str,
        purpose: EmailPurpose,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<EmailToken>> {
        let hash = token_hash.to_owned();
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                // One conditional write: of two uses racing, the second finds it used.
                diesel::update(
                    email_tokens::table
                        .find(hash)
                        .filter(email_tokens::purpose.eq(purpose.as_str()))
                        .filter(email_tokens::used_at.is_null())
                        .filter(email_tokens::expires_at.gt(now)),
                )
                .set(email_tokens::used_at.eq(now))
                .returning(email_tokens::all_columns)
                .get_result::<EmailTokenRow>(conn)
                .optional()
                .map_err(errors::db)?
                .map(EmailTokenRow::into_token)
                .transpose()
            })
            .await
    }
}

#[derive(Debug, Clone)]
pub struct DieselOutbox {
    db: Database,
}

impl DieselOutbox {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The ids of up to `limit` due mails, oldest first. On PostgreSQL the rows are locked and rows
/// another sender's claim has locked are skipped (`FOR UPDATE SKIP LOCKED`), so concurrent claims
/// split the due mails between them instead of waiting for each other; this is the second place
/// (after full-text search) where the adapter branches on the backend, because the clause has no
/// SQLite form. SQLite needs none: its write transaction holds the database's only write lock.
fn due_ids(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<String>, diesel::result::Error> {
    let due = outbox::table
        .filter(outbox::status.eq(OutboxStatus::Queued.as_str()))
        .filter(outbox::next_attempt_at.le(now))
        .order((outbox::next_attempt_at.asc(), outbox::created_at.asc()))
        .select(outbox::id)
        .limit(limit);
    match conn {
        DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg),
        DbConnection::Sqlite(sqlite) => due.load(sqlite),
    }
}

fn truncated(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

#[async_trait]
impl MailOutbox for DieselOutbox {
    async fn claim(
        &self,
        claim: Uuid,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DomainResult<Vec<OutboxMail>> {
        let (now, lease_until) = (to_db_time(now), to_db_time(lease_until));
        self.db
            .run(move |conn| {
                let rows = write_transaction(conn, |conn| {
                    let ids = due_ids(conn, now, i64::from(limit))?;
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                        .set((
                            outbox::claim_id.eq(claim.to_string()),
                            outbox::attempts.eq(outbox::attempts + 1),
                            outbox::next_attempt_at.eq(lease_until),
                        ))
                        .returning(outbox::all_columns)
                        .get_results::<OutboxRow>(conn)
                })
                .map_err(errors::db)?;
                let mut mails = rows
                    .into_iter()
                    .map(OutboxRow::into_mail)
                    .collect::<DomainResult<Vec<_>>>()?;
                mails.sort_by_key(|m| (m.created_at, m.id));
                Ok(mails)
            })
            .await
    }

    async fn record_sent(&self, id: Uuid, claim: Uuid, now: DateTime<Utc>) -> DomainResult<bool> {
        let now = to_db_time(now);
        self.db
            .run(move |conn| {
                let changed = diesel::update(
                    outbox::table
                        .find(id.to_string())
                        .filter(outbox::claim_id.eq(claim.to_string()))
                        .filter(outbox::status.eq(OutboxStatus::Queued.as_str())),
                )
                .set((
                    outbox::status.eq(OutboxStatus::Sent.as_str()),
                    outbox::sent_at.eq(now),
                    outbox::last_error.eq(None::<String>),
                    // The bodies hold the token's secret: kept no longer than needed.
                    outbox::text_body.eq(""),
                    outbox::html_body.eq(""),
                ))
                .execute(conn)
                .map_err(errors::db)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn record_failure(
        &self,
        id: Uuid,
        claim: Uuid,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> DomainResult<bool> {
        let error = truncated(error);
        self.db
            .run(move |conn| {
                let held = outbox::table
                    .find(id.to_string())
                    .filter(outbox::claim_id.eq(claim.to_string()))
                    .filter(outbox::status.eq(OutboxStatus::Queued.as_str()));
                let changed = match retry_at {
                    Some(at) => diesel::update(held)
                        .set((
                            outbox::next_attempt_at.eq(to_db_time(at)),
                            outbox::last_error.eq(error),
                        ))
                        .execute(conn),
                    None => diesel::update(held)
                        .set((
                            outbox::status.eq(OutboxStatus::Failed.as_str()),
                            outbox::last_error.eq(error),
                            outbox::text_body.eq(""),
                            outbox::html_body.eq(""),
                        ))
                        .execute(conn),
                }
                .map_err(errors::db)?;
                Ok(changed == 1)
            })
            .await
    }

    async fn counts(&self) -> DomainResult<OutboxCounts> {
        self.db
            .run(move |conn| {
                let mut count = |status: OutboxStatus| -> DomainResult<u64> {
                    let n: i64 = outbox::table
                        .filter(outbox::status.eq(status.as_str()))
                        .count()
                        .get_result(conn)
                        .map_err(errors::db)?;
                    Ok(n.max(0) as u64)
                };
                Ok(OutboxCounts {
                    queued: count(OutboxStatus::Queued)?,
                    sent: count(OutboxStatus::Sent)?,
                    failed: count(OutboxStatus::Failed)?,
                })
            })
            .await
    }
}
