//! Credentials (API.md 1.2, 1.3): parsed in one place, each credential header at most once,
//! `X-Tenant-ID` honoured on `/auth/refresh` too, and the principal authenticated once per request.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::web;
use common::{Backend, Harness};
use serde_json::json;
use user_service_domain::model::Principal;
use user_service_http::extract::Caller;

const PW: &str = "supersecret123";

#[actix_web::test]
async fn a_credential_header_sent_twice_is_400() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let key = h.namespace("shop").await;
    let token = h.register("shop", "alice", PW).await["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // One header alone is fine.
    let ok = h.get_auth("/users/me", &token).await;
    assert_eq!(ok.status, StatusCode::OK);
    for (name, first, second) in [
        (
            "Authorization",
            format!("Bearer {token}"),
            "Bearer junk".to_owned(),
        ),
        ("X-API-Key", key.clone(), "junk".to_owned()),
        ("X-Admin-Key", "a".to_owned(), "b".to_owned()),
        ("X-Tenant-ID", "shop".to_owned(), "other".to_owned()),
    ] {
        let r = h
            .send(
                TestRequest::get()
                    .uri("/users/me")
                    .append_header(("Authorization", format!("Bearer {token}")))
                    .append_header((name, first))
                    .append_header((name, second)),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
            "{name}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(&name.to_lowercase())),
            "{}",
            r.body
        );
    }
}

#[actix_web::test]
async fn another_namespace_in_x_tenant_id_is_403_on_refresh_and_spends_nothing() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    h.namespace("shop").await;
    h.namespace("other").await;
    let refresh = h.register("shop", "alice", PW).await["refresh_token"].clone();
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/refresh")
                .insert_header(("X-Tenant-ID", "other"))
                .set_json(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/refresh")
                .insert_header(("X-Tenant-ID", "shop"))
                .set_json(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["token_type"].clone()),
        (StatusCode::OK, json!("bearer"))
    );
}

/// Finding 9.9: the principal is looked up once per request; every later reader (the idempotency
/// middleware, then the handler's extractor) gets that answer. Proved by ending the user's tokens
/// between two reads of one request: the second read still sees the first answer.
#[actix_web::test]
async fn the_principal_is_authenticated_once_per_request() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    h.namespace("shop").await;
    let token = h.register("shop", "alice", PW).await["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let req = TestRequest::get()
        .uri("/users/me")
        .app_data(web::Data::new(h.state.clone()))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_http_request();
    let first = Caller::of(&req).await.expect("authenticated");
    let Some(Principal::User(alice)) = first.0 else {
        panic!("a user")
    };
    h.state.auth.logout_all(&alice).await.expect("logout-all");
    let again = Caller::of(&req).await.expect("remembered");
    assert!(matches!(again.0, Some(Principal::User(u)) if u.id == alice.id));
    // A new request authenticates afresh and sees the token is stale now.
    let r = h.get_auth("/users/me", &token).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
}
