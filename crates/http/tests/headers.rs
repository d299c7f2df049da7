//! Response headers of API.md 2.2 and 4: token responses are never cached, no response is
//! content-sniffed, the HTML documentation cannot be framed and leaks no referrer.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Backend, Harness, Reply};
use serde_json::json;

const PW: &str = "supersecret123";

fn not_cached(r: &Reply) {
    assert_eq!(
        (r.header("cache-control"), r.header("pragma")),
        (Some("no-store"), Some("no-cache")),
        "{}",
        r.body
    );
}

fn nosniff(r: &Reply) {
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[actix_web::test]
async fn every_token_response_says_no_store() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    h.namespace("shop").await;
    let reg = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED);
    not_cached(&reg);
    let login = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(
        (login.status, login.body["token_type"].clone()),
        (StatusCode::OK, json!("bearer"))
    );
    not_cached(&login);
    let refreshed = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": login.body["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    not_cached(&refreshed);
    let changed = h
        .send(
            TestRequest::post()
                .uri("/auth/change-password")
                .insert_header((
                    "Authorization",
                    format!(
                        "Bearer {}",
                        refreshed.body["access_token"].as_str().unwrap_or("")
                    ),
                ))
                .set_json(json!({"current_password": PW, "new_password": "another-secret-1"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(changed.body["access_token"].is_string());
    not_cached(&changed);
}

#[actix_web::test]
async fn every_response_says_nosniff_and_html_pages_cannot_be_framed() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let health = h.send(TestRequest::get().uri("/health")).await;
    assert_eq!(
        (health.status, health.body["status"].clone()),
        (StatusCode::OK, json!("healthy"))
    );
    nosniff(&health);
    let missing = h.send(TestRequest::get().uri("/no/such/route")).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    nosniff(&missing);
    let unauthorized = h.send(TestRequest::get().uri("/users/me")).await;
    assert_eq!(
        (unauthorized.status, unauthorized.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
    nosniff(&unauthorized);
    // JSON is not a page: no page policy on it.
    assert_eq!(unauthorized.header("content-security-policy"), None);

    let docs = h.send(TestRequest::get().uri("/docs/")).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(
        docs.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        docs.header("content-type")
    );
    assert!(String::from_utf8_lossy(&docs.raw).contains("swagger"));
    nosniff(&docs);
    let csp = docs.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(docs.header("referrer-policy"), Some("no-referrer"));
}
