//! `/userspaces`: creation, visibility across namespaces, key rotation, operator-only routes.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Backend, Harness};
use serde_json::json;

async fn create_shows_the_key_once_and_refuses_duplicates_and_bad_slugs(h: Harness) {
    let r = h.post("/userspaces", json!({"namespace": "my-new-site", "name": "My New Site", "description": "Auth tenant"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["namespace"].as_str(),
            d["name"].as_str(),
            d["description"].as_str()
        ),
        (
            Some("my-new-site"),
            Some("My New Site"),
            Some("Auth tenant")
        )
    );
    assert!(
        d["api_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("usk_") && k.len() > 40)
    );
    assert!(d["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let dup = h
        .post("/userspaces", json!({"namespace": "my-new-site"}))
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "NAMESPACE_EXISTS")
    );

    let bad = h
        .post("/userspaces", json!({"namespace": "Bad Slug"}))
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(bad.body["error"]["details"][0]["field"], "namespace");

    // The service key shows its own namespace, without the key.
    let key = d["api_key"].as_str().unwrap_or_default();
    let own = h
        .send(
            TestRequest::get()
                .uri("/userspaces/my-new-site")
                .insert_header(("X-API-Key", key)),
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["data"]["namespace"], "my-new-site");
    assert!(own.body["data"].get("api_key").is_none());
}

async fn a_key_of_another_namespace_sees_nothing_and_rotation_kills_the_old_key(h: Harness) {
    let a = h.namespace("ns-a").await;
    h.namespace("ns-b").await;
    let other = h
        .send(
            TestRequest::get()
                .uri("/userspaces/ns-b")
                .insert_header(("X-API-Key", a.as_str())),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::NOT_FOUND, "NAMESPACE_NOT_FOUND")
    );
    let wrong = h
        .send(
            TestRequest::get()
                .uri("/userspaces/ns-a")
                .insert_header(("X-API-Key", "usk_nope")),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );
    assert_eq!(wrong.header("www-authenticate"), Some("Bearer"));

    // Without an operator key configured, rotation still needs the operator: a service key is 403.
    let r = h
        .send(
            TestRequest::post()
                .uri("/userspaces/ns-a/api-key")
                .insert_header(("X-API-Key", a.as_str())),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
}

on_both!(
    create_shows_the_key_once_and_refuses_duplicates_and_bad_slugs,
    a_key_of_another_namespace_sees_nothing_and_rotation_kills_the_old_key,
);

const OPERATOR: &str = "operator-secret-key";

async fn operator_harness() -> Harness {
    Harness::new(Backend::Sqlite, &[("ADMIN_API_KEY", OPERATOR)]).await
}

#[actix_web::test]
async fn with_an_operator_key_creation_listing_and_rotation_are_the_operators() {
    let h = operator_harness().await;
    let open = h.post("/userspaces", json!({"namespace": "shop"})).await;
    assert_eq!(
        (open.status, open.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );
    let wrong = h
        .send(
            TestRequest::post()
                .uri("/userspaces")
                .insert_header(("X-Admin-Key", "nope"))
                .set_json(json!({"namespace": "shop"})),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );

    let created = h
        .send(
            TestRequest::post()
                .uri("/userspaces")
                .insert_header(("X-Admin-Key", OPERATOR))
                .set_json(json!({"namespace": "shop"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let key = created.body["data"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let list = h
        .send(
            TestRequest::get()
                .uri("/userspaces")
                .insert_header(("X-Admin-Key", OPERATOR)),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        (
            list.body["data"]["total"].as_u64(),
            list.body["data"]["page"].as_u64(),
            list.body["data"]["page_size"].as_u64()
        ),
        (Some(1), Some(1), Some(20))
    );
    assert_eq!(list.body["data"]["items"][0]["namespace"], "shop");

    let as_service = h
        .send(
            TestRequest::get()
                .uri("/userspaces")
                .insert_header(("X-API-Key", key.as_str())),
        )
        .await;
    assert_eq!(
        (as_service.status, as_service.code()),
        (StatusCode::FORBIDDEN, "FORBIDDEN")
    );

    let rotated = h
        .send(
            TestRequest::post()
                .uri("/userspaces/shop/api-key")
                .insert_header(("X-Admin-Key", OPERATOR)),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_eq!(rotated.body["data"]["namespace"], "shop");
    let new_key = rotated.body["data"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(new_key, key);
    let old = h
        .send(
            TestRequest::get()
                .uri("/userspaces/shop")
                .insert_header(("X-API-Key", key.as_str())),
        )
        .await;
    assert_eq!(
        (old.status, old.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );
    let new = h
        .send(
            TestRequest::get()
                .uri("/userspaces/shop")
                .insert_header(("X-API-Key", new_key.as_str())),
        )
        .await;
    assert_eq!(new.status, StatusCode::OK);

    let missing = h
        .send(
            TestRequest::post()
                .uri("/userspaces/nope/api-key")
                .insert_header(("X-Admin-Key", OPERATOR)),
        )
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "NAMESPACE_NOT_FOUND")
    );
}

#[actix_web::test]
async fn listing_pages_with_either_style_and_refuses_mixing() {
    let h = operator_harness().await;
    for i in 0..3 {
        let r = h
            .send(
                TestRequest::post()
                    .uri("/api/v1/userspaces")
                    .insert_header(("X-Admin-Key", OPERATOR))
                    .set_json(json!({"namespace": format!("ns-{i}")})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let page2 = h
        .send(
            TestRequest::get()
                .uri("/userspaces?page=2&page_size=2")
                .insert_header(("X-Admin-Key", OPERATOR)),
        )
        .await;
    assert_eq!(
        page2.body["data"]["items"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        (
            page2.body["data"]["total"].as_u64(),
            page2.body["data"]["page"].as_u64()
        ),
        (Some(3), Some(2))
    );
    let window = h
        .send(
            TestRequest::get()
                .uri("/userspaces?limit=2&offset=1")
                .insert_header(("X-Admin-Key", OPERATOR)),
        )
        .await;
    assert_eq!(window.body["data"]["items"][0]["namespace"], "ns-1");
    for bad in [
        "/userspaces?page=1&limit=2",
        "/userspaces?page_size=101",
        "/userspaces?page=0",
        "/userspaces?limit=x",
    ] {
        let r = h
            .send(
                TestRequest::get()
                    .uri(bad)
                    .insert_header(("X-Admin-Key", OPERATOR)),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{bad}"
        );
    }
}
