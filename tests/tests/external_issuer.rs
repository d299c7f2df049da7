//! Seed 003's services, unchanged, against the real binary (API.md 7): an identity provider that
//! the test starts on 127.0.0.1 (`jose/token_issuer.py`: a key set served locally, tokens signed
//! by PyJWT with RS256, ES256 and EdDSA) is a trusted external issuer of namespace `shop`. Its
//! tokens are users of `shop`, created at first sight; paths name them by the provider's subject;
//! seed 003's own Python functions run as written; bad tokens are 401 in the contract's envelope;
//! a key rotation at the provider is picked up, and while its key set is down the keys held keep
//! working and new ones are refused.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::join_all;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use user_service_e2e::jose::tools;
use user_service_e2e::tokens::post_as_operator;
use user_service_e2e::{
    Backend, Server, StatusCode, Store, free_port, on_both, run_seed003_clients, text,
};

const OPERATOR: &str = "operator-key-for-the-external-issuer-e2e";
const AUDIENCE: &str = "https://api.seed003.example";
const SUB: &str = "auth0|123456";
/// `SUB` as a path segment.
const SUB_IN_PATH: &str = "auth0%7C123456";
/// An unknown `kid` refetches the provider's key set at most this often (user-service-verify).
const REFETCH_PAUSE: Duration = Duration::from_millis(5_500);

/// The identity provider, a child process.
struct Provider {
    child: Child,
    url: String,
    client: reqwest::Client,
}

impl Provider {
    async fn start() -> Self {
        let python = &tools().await.python;
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/jose/token_issuer.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the token issuer");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref l))) if l == "ready"),
            "the token issuer did not start: {ready:?}"
        );
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let res = self
            .client
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("the token issuer answers");
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("JSON")
    }

    /// A new key pair of `alg`; in the key set when `publish`.
    async fn key(&self, alg: &str, publish: bool) -> String {
        text(
            &self
                .post("/keys", json!({"alg": alg, "publish": publish}))
                .await["kid"],
        )
    }

    async fn sign(&self, kid: &str, claims: Value) -> String {
        text(
            &self
                .post("/token", json!({"kid": kid, "claims": claims}))
                .await["token"],
        )
    }

    /// A token as the provider issues it to `sub`, with a verified email.
    async fn token(&self, kid: &str, sub: &str) -> String {
        self.sign(kid, self.claims(sub)).await
    }

    fn claims(&self, sub: &str) -> Value {
        let now = unix_now();
        json!({"iss": self.url, "sub": sub, "aud": AUDIENCE, "iat": now, "exp": now + 600,
               "email": "dev@example.com", "email_verified": true})
    }

    async fn stop(mut self) {
        self.child.kill().await.expect("stop the token issuer");
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A request with a bearer token: status, headers and body.
async fn call(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut req = s.client.request(method, s.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.bytes().await.expect("body");
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn me(s: &Server, token: &str) -> (StatusCode, Value) {
    let (status, _, body) = call(s, reqwest::Method::GET, "/users/me", token, None).await;
    (status, body)
}

/// 401 with `code`, `WWW-Authenticate: Bearer` and the envelope of API.md 1.4.
async fn refused(s: &Server, token: &str, code: &str, why: &str) {
    let (status, headers, body) = call(s, reqwest::Method::GET, "/users/me", token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}: {body}");
    assert_eq!(body["error"]["code"], code, "{why}: {body}");
    assert_eq!(body["error"]["status_code"], 401, "{why}: {body}");
    assert_eq!(
        headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "{why}"
    );
    assert_eq!(
        headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        body["error"]["request_id"].as_str(),
        "{why}"
    );
}

/// A request with the service key of a namespace.
async fn as_service(
    s: &Server,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .client
        .request(method, s.url(path))
        .header("X-API-Key", key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn create_namespace(s: &Server, slug: &str) -> String {
    let (status, body) = post_as_operator(
        s,
        OPERATOR,
        "/userspaces",
        Some(&json!({"namespace": slug})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    text(&body["data"]["api_key"])
}

/// The value of `external_token_verifications_total{outcome=...}` in `/metrics`.
async fn verifications(s: &Server, outcome: &str) -> i64 {
    s.metric(&format!(
        "external_token_verifications_total{{outcome=\"{outcome}\"}}"
    ))
    .await
    .expect("every outcome is in /metrics from the start")
}

fn unsigned(header: Value, claims: &Value) -> String {
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", enc(&header), enc(claims))
}

async fn an_identity_providers_users(backend: Backend) {
    let idp = Provider::start().await;
    let rsa = idp.key("RS256", true).await;
    let issuers =
        json!([{"issuer": idp.url, "audience": AUDIENCE, "namespace": "shop"}]).to_string();
    let store = Store::new(backend).await;
    let s = store
        .start(&[
            ("ADMIN_API_KEY", OPERATOR),
            ("USER_SERVICE__AUTH__EXTERNAL_ISSUERS", issuers.as_str()),
        ])
        .await;
    let shop = create_namespace(&s, "shop").await;
    let blog = create_namespace(&s, "blog").await;

    // Every outcome is counted from zero, a bounded set of labels.
    for outcome in [
        "accepted",
        "provisioned",
        "unknown_issuer",
        "expired",
        "unknown_key",
        "invalid",
        "issuer_unavailable",
    ] {
        assert_eq!(verifications(&s, outcome).await, 0, "{outcome}");
    }

    // The first call creates the user, the second finds it.
    let token = idp.token(&rsa, SUB).await;
    let (status, first) = me(&s, &token).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let user = &first["data"];
    assert_eq!(
        (
            &user["namespace"],
            &user["username"],
            &user["email"],
            &user["email_verified"]
        ),
        (
            &json!("shop"),
            &json!("auth0_123456"),
            &json!("dev@example.com"),
            &json!(true)
        ),
        "{user}"
    );
    let id = text(&user["id"]);
    let (status, second) = me(&s, &token).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["data"]["id"], json!(id));
    assert_eq!(verifications(&s, "provisioned").await, 1);
    assert_eq!(verifications(&s, "accepted").await, 1);

    // Paths name the user by our id or by the provider's subject, only within its namespace.
    for path in [
        format!("/api/v1/users/{SUB_IN_PATH}"),
        format!("/api/v1/users/{id}"),
    ] {
        let (status, body) = as_service(&s, &shop, reqwest::Method::GET, &path, None).await;
        assert_eq!(
            (status, &body["data"]["id"]),
            (StatusCode::OK, &json!(id)),
            "{body}"
        );
    }
    let (status, body) = as_service(
        &s,
        &blog,
        reqwest::Method::GET,
        &format!("/api/v1/users/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "USER_NOT_FOUND");
    let (status, body) = as_service(
        &s,
        &shop,
        reqwest::Method::GET,
        "/api/v1/users/auth0%7C999999",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "USER_NOT_FOUND");
    // A namespace without external issuers still wants our ids: a subject there is no user id.
    let (status, body) = as_service(
        &s,
        &blog,
        reqwest::Method::GET,
        "/api/v1/users/not-a-uuid/credits/balance",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "user_id", "{body}");

    // Seed 003's clients, as written, with the provider's token and user id.
    let (status, body) = as_service(
        &s,
        &shop,
        reqwest::Method::POST,
        &format!("/api/v1/users/{SUB_IN_PATH}/credits/recharge"),
        Some(json!({"amount": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user_id"], json!(id));
    let (status, _, session) = call(
        &s,
        reqwest::Method::POST,
        &format!("/api/v1/users/{SUB_IN_PATH}/sessions"),
        &token,
        Some(json!({"user_id": SUB, "title": "first"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["data"]["user_id"], json!(id));
    let session_id = text(&session["data"]["session_id"]);
    let r = run_seed003_clients(&s, &token, SUB, &session_id).await;
    let usage = &r["usage"]["data"];
    assert_eq!(
        (
            &usage["user_id"],
            &usage["event_type"],
            &usage["credits_charged"],
            &usage["tokens_used"]
        ),
        (
            &json!(id),
            &json!("memory_storage"),
            &json!(0.57),
            &json!(57)
        ),
        "{r}"
    );
    let created = &r["session"]["data"];
    assert_eq!(
        (&created["user_id"], &created["title"], &created["status"]),
        (&json!(id), &json!("Terminal on host-1"), &json!("active")),
        "{r}"
    );
    let consume = &r["consume"]["data"];
    assert_eq!(
        (
            &consume["amount"],
            &consume["balance_after"],
            &consume["usage_record_id"]
        ),
        (&json!(0.3), &json!(9.7), &usage["id"]),
        "{r}"
    );
    assert_eq!(r["insufficient"], "Need 1000.0, have 9.7");

    // No password, so no password routes.
    for (method, path, body, field) in [
        (
            reqwest::Method::POST,
            "/auth/change-password",
            json!({"current_password": "anything-at-all", "new_password": "a-new-password"}),
            "current_password",
        ),
        (
            reqwest::Method::DELETE,
            "/users/me",
            json!({"password": "anything-at-all"}),
            "password",
        ),
    ] {
        let (status, _, body) = call(&s, method, path, &token, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{path}: {body}");
        assert_eq!(
            body["error"]["details"][0]["field"], field,
            "{path}: {body}"
        );
    }
    assert_eq!(me(&s, &token).await.0, StatusCode::OK);

    // Refused: expired, another audience, an issuer not configured, a key not in the set, no
    // signature at all, an HMAC "signed" with a public value.
    for (claim, value, code) in [
        ("exp", json!(unix_now() - 60), "TOKEN_EXPIRED"),
        ("aud", json!("https://another.example"), "TOKEN_INVALID"),
        (
            "iss",
            json!("https://stranger.example.com/"),
            "TOKEN_INVALID",
        ),
    ] {
        let mut claims = idp.claims(SUB);
        claims[claim] = value;
        refused(&s, &idp.sign(&rsa, claims).await, code, claim).await;
    }
    let unpublished = idp.key("RS256", false).await;
    refused(
        &s,
        &idp.token(&unpublished, SUB).await,
        "TOKEN_INVALID",
        "unknown kid",
    )
    .await;
    let none = unsigned(
        json!({"alg": "none", "typ": "JWT", "kid": rsa}),
        &idp.claims(SUB),
    );
    refused(&s, &none, "TOKEN_INVALID", "alg none").await;
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header {
            kid: Some(rsa.clone()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        },
        &idp.claims(SUB),
        &jsonwebtoken::EncodingKey::from_secret(rsa.as_bytes()),
    )
    .expect("an HS256 token");
    refused(&s, &hmac, "TOKEN_INVALID", "HS256").await;
    assert_eq!(verifications(&s, "expired").await, 1);
    assert_eq!(verifications(&s, "unknown_issuer").await, 1);
    assert_eq!(verifications(&s, "unknown_key").await, 1);
    assert_eq!(verifications(&s, "invalid").await, 3);

    // Eight first sights of one new identity at once: one user.
    let fresh = idp.token(&rsa, "google-oauth2|777").await;
    let answers = join_all((0..8).map(|_| me(&s, &fresh))).await;
    let ids: Vec<Value> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            body["data"]["id"].clone()
        })
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_ne!(ids[0], json!(id));
    // Its email is taken by the first user: the second goes without one.
    assert_eq!(answers[0].1["data"]["email"], Value::Null);
    let (status, listed) = as_service(&s, &shop, reqwest::Method::GET, "/api/v1/users", None).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["data"]["total"], 2, "{listed}");
    assert_eq!(verifications(&s, "provisioned").await, 2);

    // A rotation at the provider: its new key (ES256) is fetched when a token names it.
    let ec = idp.key("ES256", true).await;
    tokio::time::sleep(REFETCH_PAUSE).await;
    let (status, body) = me(&s, &idp.token(&ec, SUB).await).await;
    assert_eq!(
        (status, &body["data"]["id"]),
        (StatusCode::OK, &json!(id)),
        "{body}"
    );

    // The provider's key set goes down: the keys held keep working, a new one (EdDSA, published
    // just before) cannot be fetched and is refused.
    let ed = idp.key("EdDSA", true).await;
    let ed_token = idp.token(&ed, SUB).await;
    let ec_token = idp.token(&ec, SUB).await;
    idp.stop().await;
    tokio::time::sleep(REFETCH_PAUSE).await;
    refused(
        &s,
        &ed_token,
        "TOKEN_INVALID",
        "a new key while the provider is down",
    )
    .await;
    for held in [&token, &ec_token] {
        let (status, body) = me(&s, held).await;
        assert_eq!(
            (status, &body["data"]["id"]),
            (StatusCode::OK, &json!(id)),
            "{body}"
        );
    }
    assert_eq!(verifications(&s, "unknown_key").await, 2);
    s.stop().await;
}

on_both!(an_identity_providers_users);
