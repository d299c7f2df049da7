//! A real S3-compatible server for tests: moto's server from PyPI, installed with pip on first use,
//! started on a free port of 127.0.0.1 and killed when dropped (also when the test panics).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::S3Config;

pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Installs moto with pip unless `python3` can already import its server. Tests of one binary run in
/// parallel; one pip at a time.
fn ensure_installed() {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let importable = Command::new("python3")
        .args(["-c", "import moto.server, flask, flask_cors"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if importable {
        return;
    }
    let installed = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "moto[server]"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        installed,
        "installing moto[server] with pip failed: the S3 tests need it"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl MotoServer {
    pub async fn start() -> Self {
        ensure_installed();
        let port = free_port();
        // `python3 -m moto.server` works wherever pip put the package, script on PATH or not.
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto's server with python3");
        let server = Self { child, port };
        for _ in 0..600 {
            if server.request("GET", "/").await.is_some() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto's server did not answer on port {port} within 60 s");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests) and returns a config that reaches it.
    pub async fn bucket(&self, name: &str) -> S3Config {
        let status = self.request("PUT", &format!("/{name}")).await;
        assert_eq!(status, Some(200), "creating bucket {name}");
        S3Config {
            bucket: name.into(),
            region: "us-east-1".into(),
            endpoint: self.endpoint(),
            // Any credentials do for moto; real servers want signed requests, and these are signed.
            access_key_id: "test-access-key".into(),
            secret_access_key: "test-secret-key".into(),
            allow_http: true,
        }
    }

    /// One bodiless HTTP/1.1 request; the status code, or `None` when the server is not reachable.
    async fn request(&self, method: &str, path: &str) -> Option<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let status_line = String::from_utf8_lossy(&response);
        status_line.split(' ').nth(1)?.parse().ok()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
