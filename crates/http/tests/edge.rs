//! The HTTP edge (issue 15): bounded metric labels, validation errors that echo nothing, HEAD and
//! OPTIONS on every route, at most 32 roles.

mod accounts;
mod common;

use std::collections::BTreeSet;

use accounts::{call, setup};
use actix_web::http::{Method, StatusCode};
use actix_web::test::TestRequest;
use common::Harness;
use serde_json::json;

/// Every series of /metrics: name and labels, without the value.
async fn series(h: &Harness) -> BTreeSet<String> {
    let r = h.send(TestRequest::get().uri("/metrics")).await;
    assert_eq!(r.status, StatusCode::OK);
    String::from_utf8_lossy(&r.raw)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_owned()))
        .collect()
}

async fn unknown_methods_and_routes_do_not_grow_the_metrics(h: Harness) {
    let odd = |i: usize| {
        Method::from_bytes(format!("X{}{i}", "Q".repeat(500)).as_bytes()).expect("a token")
    };
    // One of each kind first, so the `other` series exist.
    h.send(TestRequest::default().method(odd(0)).uri("/health"))
        .await;
    h.send(TestRequest::default().method(odd(0)).uri("/x/0"))
        .await;
    h.send(TestRequest::get().uri("/no/such/route/0")).await;
    // The scrape itself is a request, counted from the second scrape on.
    series(&h).await;
    let before = series(&h).await;
    assert!(
        before
            .iter()
            .any(|s| s.contains(r#"method="other""#) && s.contains(r#"route="other""#)),
        "{before:?}"
    );
    for i in 1..40 {
        let r = h
            .send(
                TestRequest::default()
                    .method(odd(i))
                    .uri(&format!("/x/{i}")),
            )
            .await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
        let r = h
            .send(TestRequest::default().method(odd(i)).uri("/health"))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
        );
        h.send(TestRequest::get().uri(&format!("/no/such/route/{i}")))
            .await;
    }
    assert_eq!(series(&h).await, before);
}

async fn validation_errors_name_the_field_and_echo_nothing(h: Harness) {
    h.namespace("shop").await;
    let r = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "u", "password": 12345678}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(
        r.body["error"]["details"],
        json!([{"field": "password", "message": "must be a string"}])
    );
    for (body, field) in [
        (
            json!({"namespace": "shop", "username": "u", "password": 12345678}),
            "password",
        ),
        (
            json!({"namespace": "shop", "username": ["s3cr3t-value"], "password": "x"}),
            "username",
        ),
        (
            json!({"namespace": "shop", "username": "u", "password": "p", "extra": {"k": 987654}}),
            "extra.k",
        ),
        (
            json!({"namespace": "shop", "username": "u", "password": "p", "extra": "s3cr3t-value"}),
            "extra",
        ),
    ] {
        let r = h.post("/auth/register", body).await;
        r.assert_invalid(field, "a value of the wrong type");
        let text = r.body.to_string();
        for leak in [
            "12345678",
            "987654",
            "s3cr3t",
            "invalid type",
            "Body",
            "struct",
            "BTreeMap",
            "String",
        ] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
    }
}

async fn head_and_options_answer_on_every_route(h: Harness) {
    let a = setup(&h).await;
    let r = h
        .send(TestRequest::default().method(Method::HEAD).uri("/health"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = h
        .send(
            TestRequest::default()
                .method(Method::HEAD)
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {}", a.alice))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(
            TestRequest::default()
                .method(Method::HEAD)
                .uri("/auth/login"),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.header("allow"), Some("POST, OPTIONS"));

    for (path, allow) in [
        ("/auth/login", "POST, OPTIONS"),
        ("/health", "GET, HEAD, OPTIONS"),
        (
            "/api/v1/users/0190c0de-0000-7000-8000-000000000000",
            "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
        ),
    ] {
        let r = h
            .send(TestRequest::default().method(Method::OPTIONS).uri(path))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(r.header("allow"), Some(allow), "{path}");
        assert!(r.raw.is_empty());
        assert!(r.header("x-request-id").is_some());
    }
    let r = h
        .send(
            TestRequest::default()
                .method(Method::OPTIONS)
                .uri("/no/such"),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    // 405 says what is allowed.
    let r = h.send(TestRequest::delete().uri("/health")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );
    assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
}

async fn a_user_has_at_most_32_roles(h: Harness) {
    let a = setup(&h).await;
    let path = format!("/api/v1/users/{}", a.bob_id);
    let names = |n: usize| (0..n).map(|i| format!("role-{i}")).collect::<Vec<_>>();
    let r = call(
        &h,
        "PUT",
        &path,
        a.service(),
        Some(json!({"roles": names(33)})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(
        r.body["error"]["details"],
        json!([{"field": "roles", "message": "at most 32 roles"}])
    );
    let r = call(
        &h,
        "POST",
        "/api/v1/users",
        a.service(),
        Some(json!({"email": "many@example.com", "roles": names(3000)})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    // Repeats count once.
    let mut roles = names(32);
    roles.extend(names(32));
    let r = call(&h, "PUT", &path, a.service(), Some(json!({"roles": roles}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["roles"], json!(names(32)));
}

on_both!(
    unknown_methods_and_routes_do_not_grow_the_metrics,
    validation_errors_name_the_field_and_echo_nothing,
    head_and_options_answer_on_every_route,
    a_user_has_at_most_32_roles,
);
