//! A real SMTP server for the mail tests: Python's `aiosmtpd` (from PyPI) on 127.0.0.1, run by
//! `tests/python/smtp_sink.py`, writing every accepted message to a directory the test reads.
//!
//! The package is installed by the tests themselves, once, into a virtual environment outside the
//! repository (`$XDG_CACHE_HOME/user-service/aiosmtpd-<version>`, or `USER_SERVICE_SMTP_VENV`), so a
//! fresh clone needs nothing but `python3` with its `venv` module.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const AIOSMTPD: &str = "1.4.6";

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("user-service")
}

fn has_aiosmtpd(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut std::process::Command) {
    let out = cmd.output().expect("run an installer command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Python interpreter of a virtual environment with aiosmtpd, made on first use. Test
/// processes running at once never share a half-made environment: each builds its own beside the
/// final one and renames it into place; the loser of that race uses the winner's.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let venv = std::env::var_os("USER_SERVICE_SMTP_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| cache_dir().join(format!("aiosmtpd-{AIOSMTPD}")));
        let python = venv.join("bin").join("python");
        if has_aiosmtpd(&python) {
            return python;
        }
        let parent = venv.parent().expect("the venv has a parent directory");
        std::fs::create_dir_all(parent).expect("create the cache directory");
        let building = parent.join(format!(
            ".building-aiosmtpd-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        eprintln!("installing aiosmtpd {AIOSMTPD} into {}", venv.display());
        run(std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&building));
        run(
            std::process::Command::new(building.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg(format!("aiosmtpd=={AIOSMTPD}")),
        );
        if std::fs::rename(&building, &venv).is_err() {
            // Another process finished first (or an old broken one is in the way).
            if !has_aiosmtpd(&python) {
                let _ = std::fs::remove_dir_all(&venv);
                std::fs::rename(&building, &venv).expect("move the new venv into place");
            } else {
                let _ = std::fs::remove_dir_all(&building);
            }
        }
        assert!(
            has_aiosmtpd(&python),
            "aiosmtpd importable from {}",
            venv.display()
        );
        python
    })
}

/// A free TCP port on 127.0.0.1 (free when asked: an SMTP server may be started on it later).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// An SMTP server that may be stopped and started again on the same port, keeping what it received.
pub struct SmtpSink {
    pub port: u16,
    login: Option<(String, String)>,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpSink {
    /// A server on `port` that is not running yet (the mail server is down).
    pub fn down(port: u16) -> Self {
        python();
        Self {
            port,
            login: None,
            dir: tempfile::tempdir().expect("temp mail dir"),
            child: None,
        }
    }

    /// A running server on a free port.
    pub async fn start() -> Self {
        let mut sink = Self::down(free_port());
        sink.up().await;
        sink
    }

    /// A running server that requires this login.
    pub async fn start_with_login(user: &str, password: &str) -> Self {
        let mut sink = Self::down(free_port());
        sink.login = Some((user.to_owned(), password.to_owned()));
        sink.up().await;
        sink
    }

    /// `smtp://[user:pass@]127.0.0.1:port`, as `SMTP_URL`.
    pub fn url(&self) -> String {
        match &self.login {
            Some((u, p)) => format!("smtp://{u}:{p}@127.0.0.1:{}", self.port),
            None => format!("smtp://127.0.0.1:{}", self.port),
        }
    }

    /// Starts the server (again), once it accepts connections.
    pub async fn up(&mut self) {
        assert!(self.child.is_none(), "the SMTP server is running already");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/smtp_sink.py");
        let mut cmd = Command::new(python());
        cmd.arg(script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some((u, p)) = &self.login {
            cmd.env("SMTP_SINK_USER", u).env("SMTP_SINK_PASSWORD", p);
        }
        let mut child = cmd.spawn().expect("start the SMTP server");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim() == "ready" {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready.ok(), Some(true), "the SMTP server started");
        self.child = Some(child);
    }

    /// Stops the server at once (the mail server goes down); what it received stays readable.
    pub async fn down_now(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Every message received so far, oldest first.
    pub fn received(&self) -> Vec<ReceivedMail> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .map(|p| ReceivedMail::parse(&std::fs::read(p).expect("read a received mail")))
            .collect()
    }

    /// Waits until at least `n` messages were received, and answers them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} mails within {within:?}; got {}: {:?}",
                got.len(),
                got.iter().map(|m| &m.to).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a mail to `to` and answers it.
    pub async fn wait_for_mail_to(&self, to: &str, within: Duration) -> ReceivedMail {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(m) = self.received().into_iter().find(|m| m.to == to) {
                return m;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a mail to {to} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// One received message, with what the tests read of it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope recipient.
    pub to: String,
    pub raw: String,
    /// Header name (lowercase) and value of the top-level header, unfolded.
    pub headers: Vec<(String, String)>,
    /// The decoded text/plain part.
    pub text: String,
    /// The decoded text/html part.
    pub html: String,
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first link of the text body that carries a token.
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.contains("token="))
            .unwrap_or_else(|| panic!("a link with a token in:\n{}", self.text))
            .to_owned()
    }

    fn parse(bytes: &[u8]) -> Self {
        let raw = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
        let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
        let headers = parse_headers(head);
        let to = headers
            .iter()
            .find(|(n, _)| n == "x-sink-rcpt-to")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let content_type = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut text = String::new();
        let mut html = String::new();
        if let Some(boundary) = param(&content_type, "boundary") {
            for part in body.split(&format!("--{boundary}")).skip(1) {
                let part = part.trim_start_matches('\n');
                let (h, b) = part.split_once("\n\n").unwrap_or((part, ""));
                let h = parse_headers(h);
                let get = |name: &str| {
                    h.iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.to_ascii_lowercase())
                        .unwrap_or_default()
                };
                let decoded = decode(b, &get("content-transfer-encoding"));
                if get("content-type").starts_with("text/plain") {
                    text = decoded;
                } else if get("content-type").starts_with("text/html") {
                    html = decoded;
                }
            }
        } else {
            text = body.to_owned();
        }
        Self {
            to,
            raw,
            headers,
            text,
            html,
        }
    }
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((n, v)) = line.split_once(':') {
            out.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    out
}

fn param(value: &str, name: &str) -> Option<String> {
    value.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.eq_ignore_ascii_case(name)).then(|| v.trim_matches('"').to_owned())
    })
}

fn decode(body: &str, encoding: &str) -> String {
    match encoding {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.trim_end_matches('-'))
                .unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        "quoted-printable" => {
            let joined = body.replace("=\n", "");
            let mut bytes = Vec::new();
            let mut rest = joined.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                if b == b'='
                    && tail.len() >= 2
                    && let Ok(v) = u8::from_str_radix(&String::from_utf8_lossy(&tail[..2]), 16)
                {
                    bytes.push(v);
                    rest = &tail[2..];
                    continue;
                }
                bytes.push(b);
                rest = tail;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        _ => body.to_owned(),
    }
}
