//! Section 1 and 4: one error envelope for everything, request ids, body limits, operations routes.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Backend, Harness};
use serde_json::json;

async fn h() -> Harness {
    Harness::new(Backend::Sqlite, &[]).await
}

#[actix_web::test]
async fn unknown_routes_and_methods_get_the_envelope() {
    let h = h().await;
    let r = h.send(TestRequest::get().uri("/no/such/route")).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    let r = h.send(TestRequest::put().uri("/auth/login")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    let r = h
        .send(TestRequest::delete().uri("/api/v1/auth/register"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
}

#[actix_web::test]
async fn malformed_json_wrong_content_type_and_large_bodies() {
    let h = h().await;
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/login")
                .insert_header(("Content-Type", "application/json"))
                .set_payload("{not json"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST")
    );
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/login")
                .insert_header(("Content-Type", "text/plain"))
                .set_payload("{}"),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
    );
    let r = h
        .send(TestRequest::post().uri("/auth/login").set_payload("{}"))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
    );
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/login")
                .insert_header(("Content-Type", "application/json; charset=utf-8"))
                .set_payload(r#"{"namespace":1}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let big = format!(r#"{{"namespace":"{}"}}"#, "x".repeat(2 * 1024 * 1024 + 1));
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/login")
                .insert_header(("Content-Type", "application/json"))
                .set_payload(big),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );
}

#[actix_web::test]
async fn request_ids_are_echoed_or_generated() {
    let h = h().await;
    let r = h
        .send(
            TestRequest::get()
                .uri("/health")
                .insert_header(("X-Request-ID", "req-123")),
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("req-123"));
    let r = h
        .send(
            TestRequest::get()
                .uri("/nope")
                .insert_header(("X-Request-ID", "req-456")),
        )
        .await;
    assert_eq!(r.body["error"]["request_id"], "req-456");
    let r = h.send(TestRequest::get().uri("/health")).await;
    assert!(
        r.header("x-request-id")
            .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok())
    );
}

#[actix_web::test]
async fn health_ready_metrics_and_docs() {
    let h = h().await;
    let r = h.send(TestRequest::get().uri("/health")).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::OK,
            json!({"status": "healthy", "database": "ok"})
        )
    );
    let r = h.send(TestRequest::get().uri("/ready")).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"status": "ready"}))
    );

    h.namespace("shop").await;
    h.post(
        "/auth/login",
        json!({"namespace": "shop", "username": "x", "password": "wrong-password"}),
    )
    .await;
    let r = h.send(TestRequest::get().uri("/metrics")).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.body.as_str().unwrap_or_default();
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/userspaces",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"logins_total{result="failure"} 1"#),
        "{text}"
    );
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections"));

    let r = h.send(TestRequest::get().uri("/openapi.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    for path in [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/users/me",
        "/userspaces",
        "/userspaces/{namespace}/api-key",
        "/health",
    ] {
        assert!(
            r.body["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let r = h.send(TestRequest::get().uri("/docs/")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_str().is_some_and(|html| html.contains("swagger")));
}

#[actix_web::test]
async fn cors_allows_listed_origins_with_credentials_and_no_others() {
    let h = Harness::new(
        Backend::Sqlite,
        &[("USER_SERVICE__CORS__ALLOWED_ORIGINS", "https://app.example")],
    )
    .await;
    let preflight = |origin: &str| {
        TestRequest::default()
            .method(actix_web::http::Method::OPTIONS)
            .uri("/auth/login")
            .insert_header(("Origin", origin.to_owned()))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", "content-type"))
    };
    let ok = h.send(preflight("https://app.example")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(ok.header("access-control-allow-credentials"), Some("true"));

    let other = h.send(preflight("https://evil.example")).await;
    assert!(other.header("access-control-allow-origin").is_none());
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::BAD_REQUEST, "BAD_REQUEST")
    );

    let simple = h
        .send(
            TestRequest::get()
                .uri("/health")
                .insert_header(("Origin", "https://app.example")),
        )
        .await;
    assert_eq!(
        simple.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert!(
        simple
            .header("access-control-expose-headers")
            .is_some_and(|v| v.contains("x-request-id"))
    );
}
