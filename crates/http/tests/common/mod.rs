//! Test harness: the real `App` the binary builds, with real adapters on a fresh database.

#![allow(dead_code)]

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};
use user_service::{Settings, Wiring};
use user_service_db::DieselOutbox;
use user_service_db::testing::{TestDatabase, fresh_postgres, fresh_sqlite};
use user_service_domain::model::OutboxMail;
use user_service_domain::ports::ManualClock;
use user_service_domain::ports::{Clock, MailOutbox};
use user_service_http::{AppState, build_app};

pub struct Harness {
    pub state: AppState,
    /// The application's clock: tests move it instead of waiting.
    pub clock: std::sync::Arc<ManualClock>,
    pub db: TestDatabase,
    /// The local avatar store's root, so tests write nothing into the source tree.
    pub uploads: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body as received, for bodies that are not JSON (images).
    pub raw: Vec<u8>,
}

impl Reply {
    /// The error code of an error envelope, after checking the envelope is whole.
    pub fn code(&self) -> &str {
        let e = &self.body["error"];
        assert_eq!(
            e["status_code"],
            self.status.as_u16(),
            "envelope status of {}",
            self.body
        );
        let rid = self
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(!rid.is_empty(), "X-Request-ID missing");
        assert_eq!(e["request_id"], rid, "request_id equals X-Request-ID");
        e["code"].as_str().unwrap_or_default()
    }

    /// A 400 `VALIDATION_ERROR` whose first detail names `field`.
    pub fn assert_invalid(&self, field: &str, context: &str) {
        assert_eq!(
            (self.status, self.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{context}: {}",
            self.body
        );
        assert_eq!(
            self.body["error"]["details"][0]["field"], field,
            "{context}: {}",
            self.body
        );
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub enum Backend {
    Sqlite,
    Postgres,
}

impl Harness {
    pub async fn new(backend: Backend, env: &[(&str, &str)]) -> Self {
        let db = match backend {
            Backend::Sqlite => fresh_sqlite().await,
            Backend::Postgres => fresh_postgres().await,
        };
        let uploads = tempfile::tempdir().expect("temp uploads dir");
        let settings = Settings::for_tests(uploads.path(), env).expect("test settings load");
        let clock = std::sync::Arc::new(ManualClock::new());
        let state = Wiring::build_with_clock(settings, db.database().clone(), clock.clone())
            .expect("state builds")
            .http;
        state.signing_keys.start().await.expect("signing keys load");
        Self {
            state,
            clock,
            db,
            uploads,
        }
    }

    /// Moves the application's clock forward.
    pub fn advance(&self, secs: i64) {
        self.clock.advance(chrono::Duration::seconds(secs));
    }

    pub async fn send(&self, req: TestRequest) -> Reply {
        self.send_request(req.to_request()).await
    }

    /// Sends a request built by hand, e.g. one whose body is a stream.
    pub async fn send_request(&self, req: actix_http::Request) -> Reply {
        let app = test::init_service(build_app(self.state.clone())).await;
        let res = test::call_service(&app, req).await;
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = test::read_body(res).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            body,
            raw: bytes.to_vec(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(TestRequest::post().uri(path).set_json(body))
            .await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Reply {
        self.send(
            TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await
    }

    /// Every mail queued since the last call (claimed and marked sent, so each is read once).
    pub async fn mails(&self) -> Vec<OutboxMail> {
        let now = self.clock.now();
        let outbox = DieselOutbox::new(self.db.database().clone());
        let claim = uuid::Uuid::now_v7();
        let claimed = outbox
            .claim(claim, now, now + chrono::Duration::minutes(5), 100)
            .await
            .expect("claim");
        for m in &claimed {
            outbox.record_sent(m.id, claim, now).await.expect("record");
        }
        claimed
    }

    /// Creates a namespace (creation is open without an operator key) and returns its service key.
    pub async fn namespace(&self, slug: &str) -> String {
        let r = self.post("/userspaces", json!({"namespace": slug})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["data"]["api_key"]
            .as_str()
            .expect("api key")
            .to_owned()
    }

    /// Registers a user and returns the token response (with `user`).
    pub async fn register(&self, ns: &str, username: &str, password: &str) -> Value {
        let r = self
            .post(
                "/auth/register",
                json!({"namespace": ns, "username": username, "password": password}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

/// Instantiates each named test (an `async fn(Harness)` in scope) on SQLite and on PostgreSQL,
/// optionally with settings (`env: &[(name, value)]; tests...`) on top of the test defaults: the
/// project's one both-backends macro, on actix's test runtime.
#[macro_export]
macro_rules! on_both {
    (env: $env:expr; $($name:ident),* $(,)?) => {
        user_service_db::on_both!(#[actix_web::test] env: $env; $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        user_service_db::on_both!(#[actix_web::test] $($name),*);
    };
}
