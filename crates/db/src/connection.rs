//! One connection type for both databases, and the pool's connection manager that picks the backend
//! from the URL scheme.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::backend::Backend;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::expression::TypedExpressionType;
use diesel::expression::{AppearsOnTable, AsExpression};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sql_types::{BoolOrNullableBool, SqlType};

use crate::async_pg::pool_url;
use crate::errors::DbError;

/// A connection to either backend. Queries written against it run unchanged on both, as long as
/// they stick to the common column types.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the backend's own connection (`PgConnection` or
/// `SqliteConnection`), for statements on a hot path: through the `MultiConnection` wrapper diesel
/// renders a statement's SQL on every call to find it in its statement cache (a fifth of the
/// instructions of a `GET /users/me`, by callgrind), where on the backend's connection the query's
/// type is the key. Inside a transaction of the wrapper this is the same connection and transaction.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::connection::DbConnection::Pg($c) => $body,
            $crate::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// `UPDATE table SET column = value WHERE predicate`, rendered as diesel renders its own update but
/// kept in the connection's statement cache like a select. Diesel never caches an `UpdateStatement`
/// (a changeset of `Option`s renders differently per value), so a hot update was parsed again on
/// every call on SQLite and prepared unnamed, one more round trip, on PostgreSQL (callgrind, issue
/// 14). The statement's type is its cache key: `value` and `predicate` must render the same SQL
/// whatever their values (binds and comparisons, no `eq_any`, no raw SQL).
pub(crate) struct CachedUpdate<T: Table, C, V, W> {
    from: T::FromClause,
    column: PhantomData<C>,
    value: V,
    predicate: W,
}

/// A `CachedUpdate` of `table`.
pub(crate) fn cached_update<T, C, V, W>(
    table: T,
    _column: C,
    value: V,
    predicate: W,
) -> CachedUpdate<T, C, V::Expression, W>
where
    T: Table,
    C: Column<Table = T>,
    C::SqlType: SqlType + TypedExpressionType,
    V: AsExpression<C::SqlType>,
    V::Expression: AppearsOnTable<T>,
    W: AppearsOnTable<T>,
    W::SqlType: BoolOrNullableBool,
{
    CachedUpdate {
        from: table.from_clause(),
        column: PhantomData,
        value: value.as_expression(),
        predicate,
    }
}

/// The cache key of a `CachedUpdate`: what its SQL depends on.
pub(crate) struct CachedUpdateKey<T, C, V, W>(PhantomData<(T, C, V, W)>);

impl<T, C, V, W> QueryId for CachedUpdate<T, C, V, W>
where
    T: Table + QueryId,
    C: QueryId,
    V: QueryId,
    W: QueryId,
{
    type QueryId = CachedUpdateKey<T::QueryId, C::QueryId, V::QueryId, W::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = T::HAS_STATIC_QUERY_ID
        && C::HAS_STATIC_QUERY_ID
        && V::HAS_STATIC_QUERY_ID
        && W::HAS_STATIC_QUERY_ID;
}

impl<T, C, V, W, DB> QueryFragment<DB> for CachedUpdate<T, C, V, W>
where
    DB: Backend,
    T: Table,
    T::FromClause: QueryFragment<DB>,
    C: Column,
    V: QueryFragment<DB>,
    W: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        out.push_identifier(C::NAME)?;
        out.push_sql(" = ");
        self.value.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.predicate.walk_ast(out.reborrow())
    }
}

impl<T: Table, C, V, W, Conn> RunQueryDsl<Conn> for CachedUpdate<T, C, V, W> {}

/// Where the connections go. Parsed from the URL by its scheme alone: `SqliteConnection::establish`
/// accepts any string as a file name, so letting Diesel guess would turn a mistyped PostgreSQL URL
/// into a new, empty SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Postgres(String),
    /// A file path, relative to the working directory unless it starts with `/`.
    Sqlite(String),
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::UnsupportedUrl("sqlite (without a path)".into()));
            }
            return Ok(Self::Sqlite(path.to_owned()));
        }
        let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
        Err(DbError::UnsupportedUrl(scheme.to_owned()))
    }
}

/// Runs on every new SQLite connection. The busy timeout comes first because switching to WAL needs a
/// lock another connection may hold. WAL lets readers run beside the one writer; `synchronous=NORMAL`
/// is durable across process crashes in WAL mode; SQLite leaves foreign keys off unless asked.
const SQLITE_SETUP: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                            PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

#[derive(Debug)]
pub(crate) struct Manager {
    target: Target,
    /// Raised each time a connection is found dead: the database went away, so every connection
    /// verified before is suspect until pinged (see `Pooled`).
    losses: Arc<AtomicU64>,
}

impl Manager {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
            losses: Arc::default(),
        }
    }

    /// The count of connections found dead, which makes every connection verified before suspect.
    pub(crate) fn losses(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.losses)
    }

    /// The SQLite file is created on first connection, but its directory is not.
    pub(crate) fn prepare(&self) -> Result<(), DbError> {
        if let Target::Sqlite(path) = &self.target
            && let Some(dir) = Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|cause| DbError::CreateDir {
                path: dir.display().to_string(),
                cause,
            })?;
        }
        Ok(())
    }
}

/// A connection idle longer than this is pinged before it is used: a database restarted during a
/// quiet spell has closed it, and the request should get a new one rather than the error.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(15);

/// A pooled connection and what the pool needs to know about it. Connections are not pinged on
/// every checkout (r2d2's `SELECT 1` per checkout was a round trip per query under load); instead a
/// failed query is followed by one ping, a connection that fails it leaves the pool, and from then
/// on every other connection is pinged before its next use, as is one idle for a while.
pub(crate) struct Pooled {
    conn: DbConnection,
    last_used: Instant,
    broken: bool,
    /// The pool's count of dead connections when this one last answered.
    verified_at: u64,
    losses: Arc<AtomicU64>,
}

impl Pooled {
    /// Whether the connection may be dead: idle long enough for the server to have dropped it, or
    /// older than the last connection found dead.
    pub(crate) fn suspect(&self) -> bool {
        self.last_used.elapsed() >= IDLE_BEFORE_PING
            || self.verified_at < self.losses.load(Ordering::Relaxed)
    }

    /// Pings the connection, marking it broken (to be closed by the pool) when it does not answer.
    pub(crate) fn check(&mut self) -> bool {
        let losses = self.losses.load(Ordering::Relaxed);
        self.broken = self.conn.ping().is_err();
        if self.broken {
            self.losses.fetch_add(1, Ordering::Relaxed);
        } else {
            self.verified_at = losses;
        }
        !self.broken
    }

    pub(crate) fn used(&mut self) {
        self.last_used = Instant::now();
    }
}

impl Deref for Pooled {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<Pooled, r2d2::Error> {
        let conn = match &self.target {
            Target::Postgres(url) => DbConnection::Pg(PgConnection::establish(&pool_url(url))?),
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_SETUP)?;
                DbConnection::Sqlite(conn)
            }
        };
        Ok(Pooled {
            conn,
            last_used: Instant::now(),
            broken: false,
            verified_at: self.losses.load(Ordering::Relaxed),
            losses: Arc::clone(&self.losses),
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), r2d2::Error> {
        conn.conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        std::thread::panicking() || conn.broken || conn.conn.is_broken()
    }
}

/// Runs `f` in a transaction meant to write. On SQLite it starts with `BEGIN IMMEDIATE`, taking the
/// write lock up front: a deferred transaction that reads first and then writes cannot upgrade its
/// lock while another connection writes, and fails with SQLITE_BUSY without waiting for the busy timeout.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Transactions = <DbConnection as Connection>::TransactionManager;
    match conn {
        DbConnection::Pg(_) => conn.transaction(f),
        DbConnection::Sqlite(inner) => {
            // `immediate_transaction` would hand `f` the inner connection, so this opens the same
            // transaction on it and commits or rolls back through the outer one, which delegates.
            match AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE") {
                Ok(()) => {}
                // Nested: the outermost transaction decided the locking; this one is a savepoint in it.
                Err(diesel::result::Error::AlreadyInTransaction) => return conn.transaction(f),
                Err(e) => return Err(e.into()),
            }
            match f(conn) {
                Ok(value) => {
                    Transactions::commit_transaction(conn)?;
                    Ok(value)
                }
                Err(err) => match Transactions::rollback_transaction(conn) {
                    // A broken transaction manager is the effect of `err`; `err` says more.
                    Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(err),
                    Err(rollback) => Err(rollback.into()),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::NaiveDateTime;
    use diesel::connection::{Instrumentation, InstrumentationEvent};
    use diesel::pg::Pg;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::schema::refresh_tokens;

    /// The SQL of every statement `conn` prepares into its cache, from now on.
    fn cached_sql(conn: &mut SqliteConnection) -> Arc<Mutex<Vec<String>>> {
        let cached = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&cached);
        let watch = move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event
                && let Ok(mut seen) = seen.lock()
            {
                seen.push(sql.to_owned());
            }
        };
        conn.set_instrumentation(Box::new(watch) as Box<dyn Instrumentation>);
        cached
    }

    fn taken(cached: &Mutex<Vec<String>>) -> Vec<String> {
        cached.lock().map(|sql| sql.clone()).unwrap_or_default()
    }

    #[test]
    fn a_cached_update_is_diesels_update_prepared_once() -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = SqliteConnection::establish(":memory:")?;
        conn.batch_execute(
            "CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, \
             user_id TEXT NOT NULL, namespace TEXT NOT NULL, issued_at TIMESTAMP NOT NULL, \
             expires_at TIMESTAMP NOT NULL, spent_at TIMESTAMP, revoked_at TIMESTAMP, \
             token_version BIGINT NOT NULL); \
             INSERT INTO refresh_tokens VALUES ('a', 'f', 'u', 'ns', '2026-01-01 00:00:00', \
             '2027-01-01 00:00:00', NULL, NULL, 0), ('b', 'f', 'u', 'ns', '2026-01-01 00:00:00', \
             '2027-01-01 00:00:00', NULL, NULL, 0);",
        )?;
        let now = NaiveDateTime::parse_from_str("2026-06-01 00:00:00", "%Y-%m-%d %H:%M:%S")?;
        let spend = |hash: &'static str| {
            let live = refresh_tokens::token_hash
                .eq(hash)
                .and(refresh_tokens::spent_at.is_null());
            (
                cached_update(refresh_tokens::table, refresh_tokens::spent_at, now, live),
                diesel::update(refresh_tokens::table.filter(live))
                    .set(refresh_tokens::spent_at.eq(now)),
            )
        };
        let (ours, diesels) = spend("a");
        assert_eq!(
            diesel::debug_query::<Sqlite, _>(&ours).to_string(),
            diesel::debug_query::<Sqlite, _>(&diesels).to_string()
        );
        assert_eq!(
            diesel::debug_query::<Pg, _>(&ours).to_string(),
            diesel::debug_query::<Pg, _>(&diesels).to_string()
        );

        let cached = cached_sql(&mut conn);
        // Diesel's own update is prepared anew each time: nothing enters the cache.
        assert_eq!(diesels.execute(&mut conn), Ok(1));
        assert_eq!(spend("a").1.execute(&mut conn), Ok(0));
        assert_eq!(taken(&cached), Vec::<String>::new());
        // Ours enters it once, and the second run (another token) is served from it.
        assert_eq!(spend("b").0.execute(&mut conn), Ok(1));
        assert_eq!(spend("b").0.execute(&mut conn), Ok(0));
        let sql = taken(&cached);
        assert_eq!(sql.len(), 1, "{sql:?}");
        assert!(
            sql[0].starts_with("UPDATE `refresh_tokens` SET `spent_at` = ?"),
            "{sql:?}"
        );
        let spent: Vec<Option<NaiveDateTime>> = refresh_tokens::table
            .order(refresh_tokens::token_hash)
            .select(refresh_tokens::spent_at)
            .load(&mut conn)?;
        assert_eq!(spent, vec![Some(now), Some(now)]);
        Ok(())
    }

    #[test]
    fn the_scheme_alone_picks_the_backend() {
        let parse = |url: &str| Target::parse(url).ok();
        assert_eq!(
            parse("postgres://u:p@h:5432/db"),
            Some(Target::Postgres("postgres://u:p@h:5432/db".into()))
        );
        assert_eq!(
            parse("postgresql://h/db"),
            Some(Target::Postgres("postgresql://h/db".into()))
        );
        assert_eq!(
            parse("sqlite://data/user-service.db"),
            Some(Target::Sqlite("data/user-service.db".into()))
        );
        assert_eq!(
            parse("sqlite:///var/lib/us.db"),
            Some(Target::Sqlite("/var/lib/us.db".into()))
        );
        for bad in ["sqlite://", "mysql://h/db", "data/user-service.db", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn unsupported_urls_do_not_echo_credentials() {
        let message = Target::parse("mysql://user:secret@h/db")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains("'mysql'"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
