//! Starts the real `user-service` binary on a free port against a fresh database, and drives it
//! over HTTP. The binary is the one `cargo test --workspace` builds next to this test.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use user_service_db::testing::{TestDatabase, fresh_postgres, fresh_sqlite};

pub use reqwest::StatusCode;

pub mod browser;
pub mod jose;
pub mod smtp;
pub mod tokens;

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh database that outlives the server processes started on it.
pub struct Store {
    db: TestDatabase,
    /// The servers' local avatar root, so a test run writes nothing into the source tree.
    uploads: tempfile::TempDir,
}

impl Store {
    pub async fn new(backend: Backend) -> Self {
        let db = match backend {
            Backend::Sqlite => fresh_sqlite().await,
            Backend::Postgres => fresh_postgres().await,
        };
        let uploads = tempfile::tempdir().expect("temp uploads dir");
        Self { db, uploads }
    }

    pub fn url(&self) -> &str {
        self.db.url()
    }

    /// Runs a command of the binary (`keys rotate`, `migrate`, ...) on this store with the test
    /// profile and `env` on top, and returns its standard output; panics when it fails.
    pub async fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = Command::new(binary())
            .args(args)
            .env("APP_ENV", "test")
            .env("USER_SERVICE_CONFIG_DIR", config_dir())
            .env("DATABASE_URL", self.url())
            .env("JWT_SECRET_KEY", "e2e-secret-that-is-long-enough")
            .env_remove("DEFAULT_NAMESPACE")
            .envs(env.iter().copied())
            .output()
            .await
            .expect("run user-service");
        assert!(
            out.status.success(),
            "user-service {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a server on this store with the test profile and `env` on top.
    pub async fn start(&self, env: &[(&str, &str)]) -> Server {
        let root = self.uploads.path().display().to_string();
        let mut all = vec![("USER_SERVICE__STORAGE__LOCAL_ROOT", root.as_str())];
        all.extend_from_slice(env);
        Server::start(self.url(), &all).await
    }
}

pub struct Server {
    child: Child,
    pub base: String,
    /// `host:port` of the gRPC API (a free port chosen at start), unless the test turned it off.
    pub grpc: Option<String>,
    pub client: reqwest::Client,
    /// The avatar root used unless `env` names one, so no test writes into the source tree.
    _uploads: tempfile::TempDir,
}

/// The binary cargo built for this workspace: `target/<profile>/user-service`, beside `deps/`.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("USER_SERVICE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile directory");
    let bin = dir.join("user-service");
    assert!(
        bin.exists(),
        "{} not found: run the tests with `cargo test --workspace` (or `cargo build -p user-service` first)",
        bin.display()
    );
    bin
}

fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config")
}

impl Server {
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let uploads = tempfile::tempdir().expect("temp uploads dir");
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .env("APP_ENV", "test")
            .env("USER_SERVICE_CONFIG_DIR", config_dir())
            .env("DATABASE_URL", database_url)
            .env("USER_SERVICE__SERVER__PORT", "0")
            .env("USER_SERVICE__GRPC__PORT", "0")
            .env("USER_SERVICE__SERVER__WORKERS", "2")
            .env("JWT_SECRET_KEY", "e2e-secret-that-is-long-enough")
            .env("USER_SERVICE__STORAGE__LOCAL_ROOT", uploads.path())
            // The `log` mail transport's files go to the temporary directory too.
            .env(
                "USER_SERVICE__EMAIL__OUTBOX_DIR",
                uploads.path().join("outbox"),
            )
            // Only a test that sets it gets seed 002's default namespace, whatever the caller's shell has.
            .env_remove("DEFAULT_NAMESPACE")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("start user-service");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut grpc = None;
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                // Printed before the HTTP line.
                if let Some(addr) = line.strip_prefix("user-service gRPC listening on ") {
                    grpc = Some(addr.to_owned());
                }
                if let Some(addr) = line.strip_prefix("user-service listening on ") {
                    return Some(addr.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the server printed its address within 60 s");
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("http client");
        Self {
            child,
            base: addr,
            grpc,
            client,
            _uploads: uploads,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let res = self
            .client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent");
        read(res).await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        read(res).await
    }

    /// The value of one series of `/metrics` (`name{label="value"}`), when it is there.
    pub async fn metric(&self, series: &str) -> Option<i64> {
        let body = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics body");
        let prefix = format!("{series} ");
        body.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
    }

    /// The server's process id: to signal it, or read its memory use from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill server");
    }

    /// SIGTERM and wait: a graceful shutdown.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
    }
}

/// A TCP port nothing listens on now, for a server whose URL must be known before it starts (its
/// issuer URL). Another process could take it in between; on a test machine that does not happen.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub async fn read(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let bytes = res.bytes().await.expect("response body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    (status, body)
}

/// The system `python3` can import `httpx`, which the seed 003 clients (`python/seed003_clients.py`)
/// need; installed here when missing, so their tests run on a fresh machine.
pub fn ensure_httpx() {
    // Both backends' tests run in this process at once: one pip at a time.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let has = std::process::Command::new("python3")
        .args(["-c", "import httpx"])
        .status()
        .is_ok_and(|s| s.success());
    if !has {
        let installed = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "httpx"])
            .status()
            .expect("python3 -m pip runs");
        assert!(installed.success(), "pip install httpx failed");
    }
}

/// Runs seed 003's three client functions, as written (`python/seed003_clients.py`), against `s`
/// with `token` as their `get_auth_token()`, naming the user `user_id` and the session
/// `session_id`; what each call returned.
pub async fn run_seed003_clients(
    s: &Server,
    token: &str,
    user_id: &str,
    session_id: &str,
) -> Value {
    ensure_httpx();
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/python/seed003_clients.py"
        ))
        .env("USER_SERVICE_URL", &s.base)
        .env("USER_SERVICE_TOKEN", token)
        .env("USER_ID", user_id)
        .env("SESSION_ID", session_id)
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

pub fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// Instantiates each named test (an `async fn(Backend)` in scope) on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name($crate::Backend::Postgres).await })*
        }
    };
}
