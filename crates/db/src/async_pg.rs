//! The principal read's connections on PostgreSQL (issue 14), also used by a refresh token's lookup
//! by hash: one `AsyncPgConnection` per database and thread, on which a read is a socket write and
//! an await instead of a hand-off to the blocking pool and back, which was most of the CPU of an
//! authenticated request. Concurrent reads of a thread share its connection: tokio-postgres
//! pipelines them.
//!
//! A connection's socket is driven by a task diesel-async spawns on the runtime that connected it. On
//! an actix worker (one single-threaded runtime per thread) that is the worker's own runtime; on a
//! multi-threaded runtime any of its threads drives it. A connection is used only on the runtime it
//! was made on: a thread found on another runtime (a test's, after the first one was shut down)
//! connects anew.
//!
//! Whenever there is no connection to use (outside a runtime, while connecting, after a failure) the
//! caller reads through the pool, which answers as before: this only makes reads cheaper.
//!
//! tokio-postgres is built here without TLS. A URL that asks for TLS, or may get it from libpq
//! (`sslmode=prefer`, libpq's default, with a host that is not local), keeps its reads on the pool,
//! so no read leaves the machine in clear text that did not before; so does one whose environment
//! (`PGSSLMODE`, `PGOPTIONS`, `PGSERVICE`) changes libpq's session in ways tokio-postgres ignores.
//! On a local host the pool's connections are in clear text too (`pool_url`).

use std::cell::RefCell;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection};
use thread_local::ThreadLocal;
use tokio::runtime::{Handle, Id as RuntimeId};
use tokio::task::JoinHandle;
use tokio_postgres::config::{Config, Host, SslMode};

/// How long a thread whose connection failed, or could not be made, reads through the pool before
/// it connects again: after a database restart the pool serves meanwhile, and a database that stays
/// unreachable costs one attempt (and one warning) per thread per period, not one per request.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The async connections to one database, one per thread that reads. Cloning shares them; they are
/// closed when the last clone goes.
#[derive(Clone)]
pub(crate) struct AsyncPg(Arc<Shared>);

struct Shared {
    url: String,
    slots: ThreadLocal<RefCell<Slot>>,
    /// The pool's count of dead connections (`connection::Manager`): a dead async connection means
    /// the pool's are suspect too, so the read that falls back to the pool pings its connection first.
    losses: Arc<AtomicU64>,
    retry_after: Duration,
}

/// One thread's connection.
enum Slot {
    Idle {
        /// Until when the thread reads through the pool without trying to connect.
        retry_at: Option<Instant>,
    },
    Connecting {
        runtime: RuntimeId,
        done: Arc<Outcome>,
    },
    Ready(Arc<Live>),
}

/// A connection attempt's result, set by the task that connects: the connection, or `None`.
type Outcome = OnceLock<Option<Arc<Live>>>;

struct Live {
    conn: AsyncPgConnection,
    /// The runtime that drives the connection's socket.
    runtime: RuntimeId,
    /// A read on it failed: it is not used again.
    broken: AtomicBool,
    losses: Arc<AtomicU64>,
}

/// What a thread's slot says to do with a read.
enum Claim {
    Use(Arc<Live>),
    Pool,
    /// This read started the thread's connection attempt.
    Wait(JoinHandle<()>, Arc<Outcome>),
}

impl AsyncPg {
    /// Async connections to the database of `url`, a PostgreSQL URL, or `None` when tokio-postgres
    /// without TLS would not connect as libpq does (see the module's documentation).
    pub(crate) fn new(url: &str, losses: Arc<AtomicU64>) -> Option<Self> {
        Self::with_retry(url, losses, RETRY_AFTER)
    }

    fn with_retry(url: &str, losses: Arc<AtomicU64>, retry_after: Duration) -> Option<Self> {
        if let Err(reason) = plain_as_libpq(url, |name| std::env::var_os(name).is_some()) {
            tracing::info!(reason, "PostgreSQL reads of users go through the pool");
            return None;
        }
        Some(Self(Arc::new(Shared {
            url: url.to_owned(),
            slots: ThreadLocal::new(),
            losses,
            retry_after,
        })))
    }

    /// This thread's connection, made first if this thread has none; `None` when the read is to go
    /// through the pool. The first read of a thread waits for the connection: that costs about what
    /// the pool's hand-off does, once. Reads that arrive meanwhile go through the pool.
    pub(crate) async fn connection(&self) -> Option<Lease> {
        let runtime = Handle::try_current().ok()?.id();
        match self.claim(runtime) {
            Claim::Use(live) => Some(Lease(live)),
            Claim::Pool => None,
            Claim::Wait(task, done) => {
                task.await.ok()?;
                done.get()?.clone().map(Lease)
            }
        }
    }

    fn claim(&self, runtime: RuntimeId) -> Claim {
        let Shared {
            slots, retry_after, ..
        } = &*self.0;
        let mut slot = slots
            .get_or(|| RefCell::new(Slot::Idle { retry_at: None }))
            .borrow_mut();
        let retry_at = || Some(Instant::now() + *retry_after);
        // A finished attempt becomes the slot's state.
        if let Slot::Connecting { done, .. } = &*slot
            && let Some(outcome) = done.get()
        {
            let next = match outcome {
                Some(live) => Slot::Ready(Arc::clone(live)),
                None => Slot::Idle {
                    retry_at: retry_at(),
                },
            };
            *slot = next;
        }
        match &*slot {
            Slot::Ready(live) if live.runtime == runtime => {
                if !live.broken.load(Ordering::Relaxed) {
                    return Claim::Use(Arc::clone(live));
                }
                *slot = Slot::Idle {
                    retry_at: retry_at(),
                };
                return Claim::Pool;
            }
            Slot::Connecting { runtime: r, .. } if *r == runtime => return Claim::Pool,
            Slot::Idle { retry_at: Some(at) } if Instant::now() < *at => return Claim::Pool,
            // Idle and due, or left by another runtime, whose tasks may never run again.
            _ => {}
        }
        let (task, done) = self.connect(runtime);
        *slot = Slot::Connecting {
            runtime,
            done: Arc::clone(&done),
        };
        Claim::Wait(task, done)
    }

    /// Connects in a task of its own, so that a read cancelled while it waits does not leave the
    /// thread connecting for ever.
    fn connect(&self, runtime: RuntimeId) -> (JoinHandle<()>, Arc<Outcome>) {
        let done = Arc::new(Outcome::new());
        let url = self.0.url.clone();
        let losses = Arc::clone(&self.0.losses);
        let outcome = Arc::clone(&done);
        let task = tokio::spawn(async move {
            let live = match AsyncPgConnection::establish(&url).await {
                Ok(conn) => Some(Arc::new(Live {
                    conn,
                    runtime,
                    broken: AtomicBool::new(false),
                    losses,
                })),
                Err(error) => {
                    tracing::warn!(%error, "cannot open an async PostgreSQL connection; reads use the pool");
                    None
                }
            };
            // Only this task sets it.
            let _ = outcome.set(live);
        });
        (task, done)
    }
}

impl std::fmt::Debug for AsyncPg {
    // Not the URL: it may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPg").finish_non_exhaustive()
    }
}

/// A thread's connection, for one read.
pub(crate) struct Lease(Arc<Live>);

impl Lease {
    pub(crate) fn connection(&self) -> &AsyncPgConnection {
        &self.0.conn
    }

    /// The read failed, which a read by key does only when its connection does: the connection is
    /// dropped, the pool's are pinged before their next use, and the read is to go through the pool.
    pub(crate) fn failed(self, error: &diesel::result::Error) {
        // Reads pipelined on a dead connection all fail at once; one warning says it.
        if !self.0.broken.swap(true, Ordering::Relaxed) {
            self.0.losses.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "async PostgreSQL connection failed; reads use the pool until it is replaced");
        }
    }
}

/// Whether a connection by tokio-postgres without TLS to `url` is the session libpq would open, in
/// clear text only where libpq's would be; `Err` says why not. `env_set` tells whether an
/// environment variable is set.
fn plain_as_libpq(url: &str, env_set: impl Fn(&str) -> bool) -> Result<(), &'static str> {
    let config = Config::from_str(url)
        .map_err(|_| "the URL has options that tokio-postgres does not read")?;
    if ["PGSSLMODE", "PGOPTIONS", "PGSERVICE"]
        .iter()
        .any(|name| env_set(name))
    {
        return Err("PGSSLMODE, PGOPTIONS or PGSERVICE is set for libpq");
    }
    let local = !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(|host| match host {
            Host::Tcp(name) => name == "localhost" || is_loopback(name),
            // libpq never uses TLS on a Unix socket.
            #[cfg(unix)]
            Host::Unix(_) => true,
        })
        && config.get_hostaddrs().iter().all(IpAddr::is_loopback);
    match config.get_ssl_mode() {
        SslMode::Disable => Ok(()),
        SslMode::Prefer if local => Ok(()),
        SslMode::Prefer => {
            Err("libpq may use TLS with this host (sslmode=prefer); this build has none")
        }
        _ => Err("the URL requires TLS; this build has none"),
    }
}

/// The URL the pool's libpq connections use: on a local host where libpq would only prefer TLS, in
/// clear text like the async connections, as `sslmode=disable` says (libpq takes the last value of a
/// repeated option). TLS over loopback hides nothing from anyone who could read it, and it cost the
/// service and the server a tenth of their CPU per statement (`perf`, issue 14). Any URL or
/// environment that asks for TLS is left as it is.
pub(crate) fn pool_url(url: &str) -> String {
    if plain_as_libpq(url, |name| std::env::var_os(name).is_some()).is_err() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

fn is_loopback(name: &str) -> bool {
    // An IPv6 host comes bracketed in a URL.
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::{plain_as_libpq, pool_url};

    #[test]
    fn only_urls_that_libpq_would_not_encrypt_go_async() {
        let plain = |url: &str| plain_as_libpq(url, |_| false).is_ok();
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgresql://u:p@localhost/db",
            "postgres://u@[::1]:5432/db",
            "postgres://u@db.example.com/db?sslmode=disable",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/db",
        ] {
            assert!(plain(url), "{url}");
        }
        for url in [
            // libpq's default, sslmode=prefer, encrypts when the server can.
            "postgres://u@db.example.com/db",
            "postgres://u@10.0.0.5/db?sslmode=prefer",
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgres://u@127.0.0.1/db?sslmode=verify-full",
            // An option tokio-postgres does not know.
            "postgres://u@127.0.0.1/db?sslrootcert=/etc/ca.pem",
            // No host: libpq and tokio-postgres would look in different places.
            "postgres:///db",
        ] {
            assert!(!plain(url), "{url}");
        }
        let with_env = |name: &'static str| {
            plain_as_libpq("postgres://u@127.0.0.1/db", move |n| n == name).is_ok()
        };
        assert!(!with_env("PGSSLMODE"));
        assert!(!with_env("PGOPTIONS"));
        assert!(!with_env("PGSERVICE"));
        assert!(with_env("PGAPPNAME"));
    }

    #[test]
    fn the_pool_drops_tls_only_where_libpq_would_merely_prefer_it_locally() {
        assert_eq!(
            pool_url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        );
        assert_eq!(
            pool_url("postgres://u@localhost/db?sslmode=prefer"),
            "postgres://u@localhost/db?sslmode=prefer&sslmode=disable"
        );
        for url in [
            "postgres://u@db.example.com/db",
            "postgres://u@127.0.0.1/db?sslmode=require",
            "postgres://u@127.0.0.1/db?sslrootcert=/etc/ca.pem",
        ] {
            assert_eq!(pool_url(url), url);
        }
    }
}

/// The connections themselves, on a real PostgreSQL (`TEST_POSTGRES_URL`).
#[cfg(all(test, feature = "testing"))]
mod connections {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use diesel::sql_types::Integer;

    use super::{AsyncPg, Lease};
    use crate::testing::{TestDatabase, fresh_postgres};

    const RETRY: Duration = Duration::from_millis(200);

    fn async_pg(db: &TestDatabase) -> (AsyncPg, Arc<AtomicU64>) {
        let losses = Arc::new(AtomicU64::new(0));
        let pg = AsyncPg::with_retry(db.url(), Arc::clone(&losses), RETRY)
            .expect("a local URL without TLS goes async");
        (pg, losses)
    }

    async fn lease(pg: &AsyncPg) -> Lease {
        pg.connection().await.expect("a connection on this thread")
    }

    /// The integer `sql` evaluates to, on the lease's connection.
    async fn select(lease: &Lease, sql: &str) -> diesel::QueryResult<i32> {
        let query = diesel::select(diesel::dsl::sql::<Integer>(sql));
        diesel_async::RunQueryDsl::get_result(query, &mut lease.connection()).await
    }

    async fn backend_pid(lease: &Lease) -> diesel::QueryResult<i32> {
        select(lease, "pg_backend_pid()").await
    }

    /// Ends the session `pid` from another connection, as a database restart would.
    async fn terminate(db: &TestDatabase, pid: i32) {
        use diesel::RunQueryDsl;
        let killed = db
            .run(move |conn| {
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
                    "pg_terminate_backend({pid})"
                )))
                .get_result::<bool>(conn)
                .map_err(crate::errors::db)
            })
            .await
            .expect("terminate");
        assert!(killed, "backend {pid} was not there to terminate");
    }

    #[tokio::test]
    async fn concurrent_reads_of_a_thread_share_its_one_connection() {
        let db = fresh_postgres().await;
        let (pg, _) = async_pg(&db);
        let first = backend_pid(&lease(&pg).await).await.expect("first read");
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..64 {
            let pg = pg.clone();
            tasks.spawn(async move {
                let lease = lease(&pg).await;
                let pid = backend_pid(&lease).await.expect("read");
                let echoed = select(&lease, &n.to_string()).await.expect("echo");
                (pid, echoed, n)
            });
        }
        let mut answered = 0;
        while let Some(joined) = tasks.join_next().await {
            let (pid, echoed, n) = joined.expect("task");
            assert_eq!(pid, first, "every read of the thread is on its connection");
            assert_eq!(echoed, n);
            answered += 1;
        }
        assert_eq!(answered, 64);
    }

    #[tokio::test]
    async fn a_terminated_connection_is_dropped_and_replaced_after_the_retry_period() {
        let db = fresh_postgres().await;
        let (pg, losses) = async_pg(&db);
        let old = lease(&pg).await;
        let old_pid = backend_pid(&old).await.expect("read");
        terminate(&db, old_pid).await;

        let error = backend_pid(&old).await.expect_err("its session is gone");
        old.failed(&error);
        assert_eq!(losses.load(Ordering::Relaxed), 1, "the pool is told");
        assert!(pg.connection().await.is_none(), "the pool serves meanwhile");

        tokio::time::sleep(RETRY + Duration::from_millis(50)).await;
        let new = lease(&pg).await;
        let new_pid = backend_pid(&new).await.expect("read on the new connection");
        assert_ne!(new_pid, old_pid);
        assert_eq!(backend_pid(&lease(&pg).await).await.ok(), Some(new_pid));
    }

    #[test]
    fn a_runtime_shut_down_leaves_no_connection_behind_for_the_next_one() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        };
        let db = runtime().block_on(fresh_postgres());
        let (pg, losses) = async_pg(&db);
        let first =
            runtime().block_on(async { backend_pid(&lease(&pg).await).await.expect("read") });
        // That runtime, and the task that drove its connection's socket, are gone: the same thread
        // on a new runtime gets a connection of its own, without a failed read.
        let second =
            runtime().block_on(async { backend_pid(&lease(&pg).await).await.expect("read") });
        assert_ne!(first, second);
        assert_eq!(losses.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_on_a_multi_threaded_runtime_answer() {
        let db = fresh_postgres().await;
        let (pg, losses) = async_pg(&db);
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..64_i32 {
            let pg = pg.clone();
            tasks.spawn(async move {
                tokio::task::yield_now().await;
                // A read that finds its thread still connecting is told to use the pool.
                let lease = pg.connection().await?;
                let echoed = select(&lease, &n.to_string()).await.expect("read");
                Some((echoed, n))
            });
        }
        let mut answered = 0;
        while let Some(joined) = tasks.join_next().await {
            if let Some((echoed, n)) = joined.expect("task") {
                assert_eq!(echoed, n);
                answered += 1;
            }
        }
        assert!(answered > 0);
        assert_eq!(losses.load(Ordering::Relaxed), 0);
    }
}
