//! `UsageRepository` on Diesel. History and stats of a user in a window read one range of the
//! `(user_id, created_at, id)` index.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{
    Credits, DateRange, JsonObject, NewUsageRecord, PageRequest, Paged, UsageEvent, UsageRecord,
    UsageStats,
};
use user_service_domain::ports::UsageRepository;
use uuid::Uuid;

use crate::connection::write_transaction;
use crate::database::Database;
use crate::errors;
use crate::models::{from_db_time, from_json, parse_uuid, to_db_time, to_json};
use crate::schema::usage_records;

#[derive(Debug, Clone)]
pub struct DieselUsage {
    db: Database,
}

impl DieselUsage {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Every column of `usage_records`, in table order.
#[derive(Debug, Queryable)]
struct UsageRow {
    id: i64,
    user_id: String,
    namespace: String,
    session_id: Option<String>,
    endpoint: Option<String>,
    event_type: String,
    credits_charged: i64,
    cost_usd: i64,
    tokens_used: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    model_name: Option<String>,
    provider: Option<String>,
    tool_name: Option<String>,
    operation_name: Option<String>,
    metadata: Option<String>,
    created_at: NaiveDateTime,
}

impl UsageRow {
    fn into_record(self) -> DomainResult<UsageRecord> {
        let metadata = match self.metadata {
            Some(raw) => Some(JsonObject::from_map(from_json(
                "usage_records.metadata",
                &raw,
            )?)),
            None => None,
        };
        Ok(UsageRecord {
            id: self.id,
            user_id: parse_uuid("usage_records.user_id", &self.user_id)?,
            namespace: self.namespace,
            event: UsageEvent {
                session_id: self.session_id,
                endpoint: self.endpoint,
                event_type: self.event_type,
                credits_charged: Credits::from_millionths(self.credits_charged),
                cost_usd: Credits::from_millionths(self.cost_usd),
                tokens_used: self.tokens_used,
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.completion_tokens,
                model_name: self.model_name,
                provider: self.provider,
                tool_name: self.tool_name,
                operation_name: self.operation_name,
                metadata,
            },
            created_at: from_db_time(self.created_at),
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = usage_records)]
struct NewUsageRow {
    user_id: String,
    namespace: String,
    session_id: Option<String>,
    endpoint: Option<String>,
    event_type: String,
    credits_charged: i64,
    cost_usd: i64,
    tokens_used: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    model_name: Option<String>,
    provider: Option<String>,
    tool_name: Option<String>,
    operation_name: Option<String>,
    metadata: Option<String>,
    created_at: NaiveDateTime,
}

impl NewUsageRow {
    fn new(r: &NewUsageRecord) -> DomainResult<Self> {
        let e = &r.event;
        Ok(Self {
            user_id: r.user_id.to_string(),
            namespace: r.namespace.clone(),
            session_id: e.session_id.clone(),
            endpoint: e.endpoint.clone(),
            event_type: e.event_type.clone(),
            credits_charged: e.credits_charged.millionths(),
            cost_usd: e.cost_usd.millionths(),
            tokens_used: e.tokens_used,
            prompt_tokens: e.prompt_tokens,
            completion_tokens: e.completion_tokens,
            model_name: e.model_name.clone(),
            provider: e.provider.clone(),
            tool_name: e.tool_name.clone(),
            operation_name: e.operation_name.clone(),
            metadata: match &e.metadata {
                Some(m) => Some(to_json("usage_records.metadata", m.as_map())?),
                None => None,
            },
            created_at: to_db_time(r.created_at),
        })
    }
}

/// An open end of a window, as a bound every stored time lies within.
fn bounds(range: DateRange) -> (NaiveDateTime, NaiveDateTime) {
    let far = |y| {
        Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    (
        to_db_time(range.start.unwrap_or_else(|| far(1))),
        to_db_time(range.end.unwrap_or_else(|| far(9999))),
    )
}

fn insert_one(conn: &mut crate::DbConnection, row: &NewUsageRow) -> QueryResult<UsageRow> {
    diesel::insert_into(usage_records::table)
        .values(row)
        .returning(usage_records::all_columns)
        .get_result::<UsageRow>(conn)
}

#[async_trait]
impl UsageRepository for DieselUsage {
    async fn insert(&self, record: &NewUsageRecord) -> DomainResult<UsageRecord> {
        let row = NewUsageRow::new(record)?;
        self.db
            .run(move |conn| insert_one(conn, &row).map_err(errors::db)?.into_record())
            .await
    }

    async fn insert_batch(&self, records: &[NewUsageRecord]) -> DomainResult<Vec<UsageRecord>> {
        let rows = records
            .iter()
            .map(NewUsageRow::new)
            .collect::<DomainResult<Vec<_>>>()?;
        self.db
            .run(move |conn| {
                // PostgreSQL takes the batch as one multi-row INSERT: one round trip instead of a
                // thousand, and atomic on its own. Diesel cannot build that statement for SQLite
                // through the common connection type; there, one transaction of single-row inserts
                // costs no round trips (the database is in process).
                let stored = match conn {
                    crate::DbConnection::Pg(pg) => diesel::insert_into(usage_records::table)
                        .values(&rows)
                        .returning(usage_records::all_columns)
                        .get_results::<UsageRow>(pg),
                    sqlite => write_transaction(sqlite, |conn| {
                        rows.iter()
                            .map(|row| insert_one(conn, row))
                            .collect::<QueryResult<Vec<_>>>()
                    }),
                }
                .map_err(errors::db)?;
                stored.into_iter().map(UsageRow::into_record).collect()
            })
            .await
    }

    async fn history(
        &self,
        user_id: Uuid,
        range: DateRange,
        page: PageRequest,
    ) -> DomainResult<Paged<UsageRecord>> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(page.offset).unwrap_or(i64::MAX);
        let (start, end) = bounds(range);
        self.db
            .run(move |conn| {
                let mine = || {
                    usage_records::table
                        .filter(usage_records::user_id.eq(user_id.to_string()))
                        .filter(usage_records::created_at.between(start, end))
                };
                let (total, rows) = conn
                    .transaction(|conn| {
                        let total: i64 = mine().count().get_result(conn)?;
                        let rows: Vec<UsageRow> = mine()
                            .order((usage_records::created_at.desc(), usage_records::id.desc()))
                            .limit(limit)
                            .offset(offset)
                            .load(conn)?;
                        Ok::<_, diesel::result::Error>((total, rows))
                    })
                    .map_err(errors::db)?;
                Ok(Paged {
                    items: rows
                        .into_iter()
                        .map(UsageRow::into_record)
                        .collect::<DomainResult<_>>()?,
                    total: u64::try_from(total).unwrap_or(0),
                    request: page,
                })
            })
            .await
    }

    async fn stats(&self, user_id: Uuid, range: DateRange) -> DomainResult<UsageStats> {
        let (start, end) = bounds(range);
        self.db
            .run(move |conn| {
                let mine = || {
                    usage_records::table
                        .filter(usage_records::user_id.eq(user_id.to_string()))
                        .filter(usage_records::created_at.between(start, end))
                };
                conn.transaction(|conn| {
                    // PostgreSQL sums BIGINT into NUMERIC, which one query for both backends cannot
                    // read; the cast brings it back to BIGINT (exact: millionths are integers).
                    let (records, credits, cost, tokens) = mine()
                        .select(sql::<(BigInt, BigInt, BigInt, BigInt)>(
                            "COUNT(*), CAST(COALESCE(SUM(credits_charged), 0) AS BIGINT), \
                             CAST(COALESCE(SUM(cost_usd), 0) AS BIGINT), \
                             CAST(COALESCE(SUM(tokens_used), 0) AS BIGINT)",
                        ))
                        .get_result::<(i64, i64, i64, i64)>(conn)?;
                    let by_event_type: Vec<(String, i64)> = mine()
                        .group_by(usage_records::event_type)
                        .select((usage_records::event_type, count_star()))
                        .load(conn)?;
                    let by_model: Vec<(Option<String>, i64)> = mine()
                        .filter(usage_records::model_name.is_not_null())
                        .group_by(usage_records::model_name)
                        .select((usage_records::model_name, count_star()))
                        .load(conn)?;
                    let count = |n: i64| u64::try_from(n).unwrap_or(0);
                    Ok::<_, diesel::result::Error>(UsageStats {
                        total_records: count(records),
                        total_credits_charged: Credits::from_millionths(credits),
                        total_cost_usd: Credits::from_millionths(cost),
                        total_tokens_used: tokens,
                        by_event_type: by_event_type
                            .into_iter()
                            .map(|(k, n)| (k, count(n)))
                            .collect::<BTreeMap<_, _>>(),
                        by_model: by_model
                            .into_iter()
                            .filter_map(|(k, n)| Some((k?, count(n))))
                            .collect(),
                    })
                })
                .map_err(errors::db)
            })
            .await
    }
}
