//! `UsageRepository` on Diesel. History and stats of a user in a window read one range of the
//! `(user_id, created_at, id)` index.

use async_trait::async_trait;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc};
use diesel::dsl::sql;
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
use crate::paging;
use crate::schema::{usage_hourly, usage_records};

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

/// `(records, credits, cost, tokens)`.
type Sums = (i64, i64, i64, i64);
/// Sums as the database reads them: the record count, then each total split in a high and a low
/// half (see `split_sum`).
type SplitSums = (i64, i64, i64, i64, i64, i64, i64);
/// Sums per (event type, model).
type Groups = Vec<(String, Option<String>, Sums)>;
/// `(user_id, hour, event_type, model_name)` of an hourly totals row.
type HourKey<'a> = (&'a str, NaiveDateTime, &'a str, &'a str);

/// Timestamps are stored to the microsecond, so "before t" is "at or before t - 1 µs".
const MICROSECOND: chrono::TimeDelta = chrono::TimeDelta::microseconds(1);

fn hour_of(t: NaiveDateTime) -> NaiveDateTime {
    t.date().and_time(NaiveTime::MIN) + chrono::TimeDelta::hours(i64::from(t.hour()))
}

/// The hours lying wholly inside the inclusive window `[start, end]`, as `[lo, hi)`; empty when
/// `lo >= hi`. An open end of the window takes every hour on that side.
fn whole_hours(
    range: DateRange,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> (NaiveDateTime, NaiveDateTime) {
    let lo = match range.start {
        None => start,
        Some(_) if hour_of(start) == start => start,
        Some(_) => hour_of(start) + chrono::TimeDelta::hours(1),
    };
    let hi = match range.end {
        None => end,
        // The hour holding `end + 1 µs` is the first not wholly inside.
        Some(_) => hour_of(end + MICROSECOND),
    };
    (lo, hi)
}

/// Adds `rows` to their hours' totals. Rows are grouped first, so a batch touches one totals row per
/// (user, hour, event type, model). A missing totals row is inserted in a savepoint: when a
/// concurrent insert created it meanwhile, the violation must not abort the transaction
/// (PostgreSQL would), and the update then finds it.
fn add_to_hourly(conn: &mut crate::DbConnection, rows: &[NewUsageRow]) -> QueryResult<()> {
    let mut totals: BTreeMap<HourKey<'_>, Sums> = BTreeMap::new();
    for r in rows {
        let key = (
            r.user_id.as_str(),
            hour_of(r.created_at),
            r.event_type.as_str(),
            r.model_name.as_deref().unwrap_or(""),
        );
        let t = totals.entry(key).or_default();
        t.0 = t.0.saturating_add(1);
        t.1 = t.1.saturating_add(r.credits_charged);
        t.2 = t.2.saturating_add(r.cost_usd);
        t.3 = t.3.saturating_add(r.tokens_used);
    }
    for ((user, hour, event_type, model), (n, credits, cost, tokens)) in totals {
        let add = |conn: &mut crate::DbConnection| {
            diesel::update(
                usage_hourly::table
                    .filter(usage_hourly::user_id.eq(user))
                    .filter(usage_hourly::hour.eq(hour))
                    .filter(usage_hourly::event_type.eq(event_type))
                    .filter(usage_hourly::model_name.eq(model)),
            )
            .set((
                usage_hourly::records.eq(capped_plus("records", n)),
                usage_hourly::credits_charged.eq(capped_plus("credits_charged", credits)),
                usage_hourly::cost_usd.eq(capped_plus("cost_usd", cost)),
                usage_hourly::tokens_used.eq(capped_plus("tokens_used", tokens)),
            ))
            .execute(conn)
        };
        if add(conn)? == 1 {
            continue;
        }
        let created = conn.transaction(|conn| {
            diesel::insert_into(usage_hourly::table)
                .values((
                    usage_hourly::user_id.eq(user),
                    usage_hourly::hour.eq(hour),
                    usage_hourly::event_type.eq(event_type),
                    usage_hourly::model_name.eq(model),
                    usage_hourly::records.eq(n),
                    usage_hourly::credits_charged.eq(credits),
                    usage_hourly::cost_usd.eq(cost),
                    usage_hourly::tokens_used.eq(tokens),
                ))
                .execute(conn)
        });
        match created {
            Ok(_) => {}
            Err(e) if errors::is_unique_violation(&e) => {
                add(conn)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `column + n` for a non-negative `n`, stopping at `i64::MAX` instead of overflowing (SQLite
/// would turn the sum into a float, PostgreSQL would fail the statement). Both operands are integers
/// this code computed, never request text.
fn capped_plus(column: &'static str, n: i64) -> diesel::expression::SqlLiteral<BigInt> {
    let room = i64::MAX - n.max(0);
    sql::<BigInt>(&format!(
        "CASE WHEN {column} > {room} THEN {max} ELSE {column} + {n} END",
        max = i64::MAX
    ))
}

/// A SUM of non-negative BIGINTs that cannot overflow on either backend (SQLite's SUM raises an
/// error on overflow, PostgreSQL's NUMERIC does not fit back into BIGINT): each value is split at
/// 2^32, the halves are summed separately (each stays below 2^63 for 2^31 rows), and `join_sum`
/// puts them together in Rust.
macro_rules! split_sum {
    ($column:literal) => {
        concat!(
            "CAST(COALESCE(SUM(",
            $column,
            " / 4294967296), 0) AS BIGINT), CAST(COALESCE(SUM(",
            $column,
            " % 4294967296), 0) AS BIGINT)"
        )
    };
}

const RAW_SUMS: &str = concat!(
    "COUNT(*), ",
    split_sum!("credits_charged"),
    ", ",
    split_sum!("cost_usd"),
    ", ",
    split_sum!("tokens_used")
);
const HOURLY_SUMS: &str = concat!(
    "CAST(COALESCE(SUM(records), 0) AS BIGINT), ",
    split_sum!("credits_charged"),
    ", ",
    split_sum!("cost_usd"),
    ", ",
    split_sum!("tokens_used")
);

/// The total a `split_sum` read, or `i64::MAX` when it passes that.
fn join_sum(high: i64, low: i64) -> i64 {
    let total = (i128::from(high) << 32) + i128::from(low);
    i64::try_from(total.max(0)).unwrap_or(i64::MAX)
}

fn joined(
    (records, credits_high, credits_low, cost_high, cost_low, tokens_high, tokens_low): SplitSums,
) -> Sums {
    (
        records,
        join_sum(credits_high, credits_low),
        join_sum(cost_high, cost_low),
        join_sum(tokens_high, tokens_low),
    )
}

type SplitSumsSql = (BigInt, BigInt, BigInt, BigInt, BigInt, BigInt, BigInt);

/// Records of `user` created in `[from, to]`, summed per (event type, model).
fn raw_groups(
    conn: &mut crate::DbConnection,
    user: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Groups> {
    usage_records::table
        .filter(usage_records::user_id.eq(user))
        .filter(usage_records::created_at.between(from, to))
        .group_by((usage_records::event_type, usage_records::model_name))
        .select((
            usage_records::event_type,
            usage_records::model_name,
            sql::<SplitSumsSql>(RAW_SUMS),
        ))
        .load::<(String, Option<String>, SplitSums)>(conn)
        .map(|rows| {
            rows.into_iter()
                .map(|(e, m, sums)| (e, m, joined(sums)))
                .collect()
        })
}

/// Hourly totals of `user` for the hours in `[lo, hi)`, summed per (event type, model).
fn hourly_groups(
    conn: &mut crate::DbConnection,
    user: &str,
    lo: NaiveDateTime,
    hi: NaiveDateTime,
) -> QueryResult<Groups> {
    let rows: Vec<(String, String, SplitSums)> = usage_hourly::table
        .filter(usage_hourly::user_id.eq(user))
        .filter(usage_hourly::hour.ge(lo))
        .filter(usage_hourly::hour.lt(hi))
        .group_by((usage_hourly::event_type, usage_hourly::model_name))
        .select((
            usage_hourly::event_type,
            usage_hourly::model_name,
            sql::<SplitSumsSql>(HOURLY_SUMS),
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(e, m, sums)| (e, Some(m).filter(|m| !m.is_empty()), joined(sums)))
        .collect())
}

fn fold(stats: &mut UsageStats, groups: Groups) {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    for (event_type, model, (records, credits, cost, tokens)) in groups {
        stats.total_records = stats.total_records.saturating_add(count(records));
        stats.total_credits_charged = Credits::from_millionths(
            stats
                .total_credits_charged
                .millionths()
                .saturating_add(credits),
        );
        stats.total_cost_usd =
            Credits::from_millionths(stats.total_cost_usd.millionths().saturating_add(cost));
        stats.total_tokens_used = stats.total_tokens_used.saturating_add(tokens);
        let by_type = stats.by_event_type.entry(event_type).or_default();
        *by_type = by_type.saturating_add(count(records));
        if let Some(model) = model {
            let by_model = stats.by_model.entry(model).or_default();
            *by_model = by_model.saturating_add(count(records));
        }
    }
}

#[async_trait]
impl UsageRepository for DieselUsage {
    async fn insert(&self, record: &NewUsageRecord) -> DomainResult<UsageRecord> {
        let row = NewUsageRow::new(record)?;
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let stored = insert_one(conn, &row)?;
                    add_to_hourly(conn, std::slice::from_ref(&row))?;
                    Ok::<_, diesel::result::Error>(stored)
                })
                .map_err(errors::db)?
                .into_record()
            })
            .await
    }

    async fn insert_batch(&self, records: &[NewUsageRecord]) -> DomainResult<Vec<UsageRecord>> {
        let rows = records
            .iter()
            .map(NewUsageRow::new)
            .collect::<DomainResult<Vec<_>>>()?;
        self.db
            .run(move |conn| {
                let stored = write_transaction(conn, |conn| {
                    // PostgreSQL takes the batch as one multi-row INSERT: one round trip instead of
                    // a thousand. Diesel cannot build that statement for SQLite through the common
                    // connection type; there, single-row inserts cost no round trips (in process).
                    let stored = match &mut *conn {
                        crate::DbConnection::Pg(pg) => diesel::insert_into(usage_records::table)
                            .values(&rows)
                            .returning(usage_records::all_columns)
                            .get_results::<UsageRow>(pg)?,
                        sqlite => rows
                            .iter()
                            .map(|row| insert_one(sqlite, row))
                            .collect::<QueryResult<Vec<_>>>()?,
                    };
                    add_to_hourly(conn, &rows)?;
                    Ok::<_, diesel::result::Error>(stored)
                })
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
        let (start, end) = bounds(range);
        self.db
            .run(move |conn| {
                let mine = || {
                    usage_records::table
                        .filter(usage_records::user_id.eq(user_id.to_string()))
                        .filter(usage_records::created_at.between(start, end))
                };
                paging::load_page(
                    conn,
                    page,
                    |conn| mine().count().get_result(conn),
                    |conn, limit, offset| {
                        mine()
                            .order((usage_records::created_at.desc(), usage_records::id.desc()))
                            .limit(limit)
                            .offset(offset)
                            .load::<UsageRow>(conn)
                    },
                    UsageRow::into_record,
                )
            })
            .await
    }

    async fn stats(&self, user_id: Uuid, range: DateRange) -> DomainResult<UsageStats> {
        let (start, end) = bounds(range);
        self.db
            .run(move |conn| {
                let user = user_id.to_string();
                let mut stats = UsageStats::default();
                conn.transaction(|conn| {
                    let (lo, hi) = whole_hours(range, start, end);
                    if lo < hi {
                        fold(&mut stats, hourly_groups(conn, &user, lo, hi)?);
                        if range.start.is_some() {
                            fold(
                                &mut stats,
                                raw_groups(conn, &user, start, lo - MICROSECOND)?,
                            );
                        }
                        if range.end.is_some() {
                            fold(&mut stats, raw_groups(conn, &user, hi, end)?);
                        }
                    } else {
                        fold(&mut stats, raw_groups(conn, &user, start, end)?);
                    }
                    Ok::<_, diesel::result::Error>(())
                })
                .map_err(errors::db)?;
                Ok(stats)
            })
            .await
    }

    async fn belongs_to(&self, user_id: Uuid, id: i64) -> DomainResult<bool> {
        self.db
            .run(move |conn| {
                diesel::select(diesel::dsl::exists(
                    usage_records::table
                        .filter(usage_records::id.eq(id))
                        .filter(usage_records::user_id.eq(user_id.to_string())),
                ))
                .get_result(conn)
                .map_err(errors::db)
            })
            .await
    }
}
