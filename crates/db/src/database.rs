//! The pool and the one way to use it from async code.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{self, HandleError, ManageConnection, Pool};
use user_service_domain::DomainError;

use crate::async_pg::{AsyncPg, Lease};
use crate::connection::{DbConnection, Manager, Target};
use crate::errors::{self, DbError};
use crate::read_batch::{BatchRead, ReadBatch};

/// How long a request waits for a pooled connection before it is answered `Unavailable`.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pool's occupancy, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now, idle or in use.
    pub connections: u32,
    pub idle_connections: u32,
    pub max_size: u32,
}

/// A pool of connections to one database. Cloning is cheap and shares the pool.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool<Manager>,
    backend: Backend,
    async_pg: Option<AsyncPg>,
}

impl Database {
    /// Opens a pool on `url` (`postgres://…`, `postgresql://…` or `sqlite://PATH`), creating the SQLite
    /// file's directory if needed. Fails when the first connection cannot be made; later outages only
    /// make requests wait for the pool and fail with `Unavailable`.
    pub fn connect(url: &str, max_connections: u32) -> Result<Self, DbError> {
        let target = Target::parse(url)?;
        let backend = match target {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite(_) => Backend::Sqlite,
        };
        let manager = Manager::new(target.clone());
        manager.prepare()?;
        // Made here rather than by the pool so that a wrong URL or a database that is down fails
        // start-up with the driver's own message, not with a pool timeout.
        manager
            .connect()
            .map_err(|e| DbError::Connect(e.to_string()))?;
        let async_pg = match target {
            Target::Postgres(url) => AsyncPg::new(&url, manager.losses()),
            Target::Sqlite(_) => None,
        };
        // Connections open on demand; one stays open so a health check or the first request after a
        // quiet spell does not pay for a connect. r2d2's `SELECT 1` on every checkout is off: it
        // cost a round trip per query. `checkout` pings only connections idle long enough for the
        // server to have dropped them, and a failed query pings its connection (see `Pooled`).
        let pool = Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(1))
            .test_on_check_out(false)
            .connection_timeout(CONNECTION_TIMEOUT)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(manager);
        Ok(Self {
            pool,
            backend,
            async_pg,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool_status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            connections: state.connections,
            idle_connections: state.idle_connections,
            max_size: self.pool.max_size(),
        }
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, so no Diesel call ever blocks an
    /// async worker. No connection within the pool's timeout is `Unavailable`.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, DomainError> {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || with_connection(&pool, f))
            .await
            .map_err(DomainError::unexpected)?
    }

    /// Runs a short read. On SQLite, when a pooled connection is free at once, it runs on the calling
    /// worker thread: under WAL a reader never waits for a lock, and the read (a few µs for a row by
    /// its key) costs less than the hand-off to the blocking pool and back, which was most of the CPU
    /// of an authenticated request (docs/BENCHMARKS.md). Otherwise, and on PostgreSQL (a network round
    /// trip must not stall the worker), it is `run`. Only for reads: a write may wait for the lock.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DomainError> + Send + 'static,
    ) -> Result<T, DomainError> {
        if self.backend == Backend::Sqlite
            && let Some(conn) = self.pool.try_get()
            && !conn.suspect()
        {
            return finish(conn, f);
        }
        self.run(f).await
    }

    /// This thread's async connection (PostgreSQL only, see `async_pg`) for a read, if it has one now.
    pub(crate) async fn async_connection(&self) -> Option<Lease> {
        self.async_pg.as_ref()?.connection().await
    }

    /// Reads of `Q` batched on the async connections (PostgreSQL only, see `read_batch`).
    pub(crate) fn read_batch<Q: BatchRead>(&self) -> Option<ReadBatch<Q>> {
        self.async_pg.clone().map(ReadBatch::new)
    }

    /// Runs `f` with a pooled connection on the calling thread, which may block: for code already on
    /// the blocking pool (the ledger's writers).
    pub(crate) fn run_here<T>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        with_connection(&self.pool, f)
    }

    /// Whether the database answers a trivial query now.
    pub async fn ping(&self) -> bool {
        self.run(|conn| conn.batch_execute("SELECT 1").map_err(errors::db))
            .await
            .is_ok()
    }

    /// A connection outside `run`, for start-up work such as migrations.
    pub(crate) fn get_blocking(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool.get().map_err(|e| DbError::Connect(e.to_string()))
    }
}

/// The first row of `$query` (an owned diesel query) as `$row`, by the cheapest path there is, for
/// the reads every request makes (its principal, its service key): on PostgreSQL the thread's async
/// connection, a socket write and an await; otherwise, or when that connection fails, `read` (inline
/// on SQLite, the pool on PostgreSQL). `DomainResult<Option<$row>>`.
macro_rules! first_hot {
    ($db:expr, $query:expr, $row:ty) => {{
        use diesel::OptionalExtension as _;
        let db: &$crate::database::Database = $db;
        let query = $query;
        let mut answer = None;
        if let Some(lease) = db.async_connection().await {
            let mut conn = lease.connection();
            match diesel_async::RunQueryDsl::first::<$row>(query.clone(), &mut conn)
                .await
                .optional()
            {
                Ok(row) => answer = Some(Ok(row)),
                Err(error) => lease.failed(&error),
            }
        }
        match answer {
            Some(answer) => answer,
            None => {
                db.read(move |conn| {
                    $crate::connection::on_backend!(conn, |c| {
                        diesel::RunQueryDsl::first::<$row>(query, c)
                    })
                    .optional()
                    .map_err($crate::errors::db)
                })
                .await
            }
        }
    }};
}
pub(crate) use first_hot;

/// Runs `f` on a pooled connection. A connection whose query failed for a reason of the database's
/// (not a rule of the domain) is pinged, and closed by the pool if it no longer answers, so a
/// database restart costs each pooled connection at most one failed request.
fn with_connection<T>(
    pool: &Pool<Manager>,
    f: impl FnOnce(&mut DbConnection) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    finish(checkout(pool)?, f)
}

/// Runs `f` on a checked-out connection and keeps the pool's bookkeeping (see `with_connection`).
fn finish<T>(
    mut conn: r2d2::PooledConnection<Manager>,
    f: impl FnOnce(&mut DbConnection) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    let result = f(&mut conn);
    if matches!(
        result,
        Err(DomainError::Unavailable { .. } | DomainError::Unexpected(_))
    ) {
        conn.check();
    }
    conn.used();
    result
}

/// A connection from the pool; a suspect one (see `Pooled`) is pinged first and replaced if dead.
fn checkout(pool: &Pool<Manager>) -> Result<r2d2::PooledConnection<Manager>, DomainError> {
    let attempts = pool.max_size();
    for _ in 0..attempts {
        let mut conn = pool.get().map_err(errors::pool)?;
        if !conn.suspect() || conn.check() {
            return Ok(conn);
        }
    }
    Err(errors::pool_exhausted())
}

/// Routes the pool's background connection failures to the service's log instead of the `log` crate.
#[derive(Debug)]
struct LogErrors;

impl HandleError<r2d2::Error> for LogErrors {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::warn!(%error, "database connection failed");
    }
}

#[async_trait::async_trait]
impl user_service_domain::ports::DatabaseHealth for Database {
    async fn ping(&self) -> bool {
        Database::ping(self).await
    }
}
