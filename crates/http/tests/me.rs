//! `/users/me`: read, partial update with every profile rule, soft delete.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::Harness;
use serde_json::{Value, json};

const PW: &str = "supersecret123";

fn patch(token: &str, body: Value) -> TestRequest {
    TestRequest::patch()
        .uri("/users/me")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .set_json(body)
}

async fn setup(h: &Harness) -> String {
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    reg["access_token"].as_str().unwrap_or_default().to_owned()
}

async fn get_me_needs_a_valid_token(h: Harness) {
    let token = setup(&h).await;
    let me = h.get_auth("/users/me", &token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["data"]["username"], "alice");
    assert_eq!(me.body["data"]["extra"], json!({}));
    let none = h.send(TestRequest::get().uri("/users/me")).await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let junk = h.get_auth("/users/me", "junk").await;
    assert_eq!(
        (junk.status, junk.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    let basic = h
        .send(
            TestRequest::get()
                .uri("/users/me")
                .insert_header(("Authorization", "Basic abc")),
        )
        .await;
    assert_eq!(
        (basic.status, basic.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    let tenant = h
        .send(
            TestRequest::get()
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("X-Tenant-ID", "other")),
        )
        .await;
    assert_eq!(
        (tenant.status, tenant.code()),
        (StatusCode::FORBIDDEN, "FORBIDDEN")
    );
    let same = h
        .send(
            TestRequest::get()
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("X-Tenant-ID", "shop")),
        )
        .await;
    assert_eq!(same.status, StatusCode::OK);
}

async fn patch_sets_clears_and_merges(h: Harness) {
    let token = setup(&h).await;
    let r = h
        .send(patch(&token, json!({"email": "a@b.co", "full_name": "Alice Liddell", "first_name": "Alice", "last_name": "Liddell",
                                   "phone": "+447700900123", "extra": {"tz": "UTC", "lang": "en"}})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["email"].clone(),
            d["full_name"].clone(),
            d["phone"].clone()
        ),
        (
            json!("a@b.co"),
            json!("Alice Liddell"),
            json!("+447700900123")
        )
    );
    assert_eq!(d["extra"], json!({"tz": "UTC", "lang": "en"}));
    assert!(d["updated_at"].as_str() >= d["created_at"].as_str());

    let r = h
        .send(patch(
            &token,
            json!({"phone": null, "extra": {"tz": null, "theme": "dark"}}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["phone"], Value::Null);
    assert_eq!(r.body["data"]["email"], "a@b.co");
    assert_eq!(
        r.body["data"]["extra"],
        json!({"lang": "en", "theme": "dark"})
    );

    let r = h.send(patch(&token, json!({"extra": null}))).await;
    assert_eq!(r.body["data"]["extra"], json!({}));
    // What was written is what is read back.
    let me = h.get_auth("/users/me", &token).await;
    assert_eq!(me.body["data"]["full_name"], "Alice Liddell");
    assert_eq!(me.body["data"]["extra"], json!({}));
}

async fn patch_refuses_what_breaks_a_rule_and_changes_nothing(h: Harness) {
    let token = setup(&h).await;
    h.post(
        "/auth/register",
        json!({"namespace": "shop", "username": "bob", "password": PW, "email": "bob@x.io"}),
    )
    .await;
    let too_many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let cases = [
        (
            json!({"username": "mallory"}),
            "VALIDATION_ERROR",
            "username",
        ),
        (json!({"roles": ["admin"]}), "VALIDATION_ERROR", "roles"),
        (
            json!({"namespace": "other"}),
            "VALIDATION_ERROR",
            "namespace",
        ),
        (json!({"phone": "0123"}), "VALIDATION_ERROR", "phone"),
        (
            json!({"email": "not-an-email"}),
            "VALIDATION_ERROR",
            "email",
        ),
        (
            json!({"first_name": "R2D2"}),
            "VALIDATION_ERROR",
            "first_name",
        ),
        (json!({"first_name": ""}), "VALIDATION_ERROR", "first_name"),
        (
            json!({"full_name": "x".repeat(201)}),
            "VALIDATION_ERROR",
            "full_name",
        ),
        (json!({"extra": too_many}), "VALIDATION_ERROR", "extra"),
        (
            json!({"extra": {"k": "v".repeat(1025)}}),
            "VALIDATION_ERROR",
            "extra",
        ),
        (
            json!({"avatar_url": "http://evil"}),
            "VALIDATION_ERROR",
            "avatar_url",
        ),
    ];
    for (body, code, field) in cases {
        let r = h.send(patch(&token, body.clone())).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, code),
            "{body}"
        );
        assert_eq!(r.body["error"]["details"][0]["field"], field, "{body}");
    }
    let taken = h
        .send(patch(
            &token,
            json!({"email": "BOB@x.io", "full_name": "Not Saved"}),
        ))
        .await;
    assert_eq!(
        (taken.status, taken.code()),
        (StatusCode::BAD_REQUEST, "EMAIL_TAKEN")
    );
    let me = h.get_auth("/users/me", &token).await;
    assert_eq!(
        (
            me.body["data"]["email"].clone(),
            me.body["data"]["full_name"].clone()
        ),
        (Value::Null, Value::Null)
    );
    // 50 keys merged in is the limit, not more.
    let fifty: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(
        h.send(patch(&token, json!({"extra": fifty}))).await.status,
        StatusCode::OK
    );
    let one_more = h.send(patch(&token, json!({"extra": {"k50": "v"}}))).await;
    assert_eq!(
        (one_more.status, one_more.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
}

async fn delete_me_confirms_the_password_then_frees_the_name(h: Harness) {
    let token = setup(&h).await;
    let del = |pw: &str| {
        TestRequest::delete()
            .uri("/users/me")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_json(json!({"password": pw}))
    };
    let wrong = h.send(del("wrong-password")).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::BAD_REQUEST, "WRONG_PASSWORD")
    );
    let ok = h.send(del(PW)).await;
    assert_eq!(
        (ok.status, ok.body.clone()),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let stale = h.get_auth("/users/me", &token).await;
    assert_eq!(
        (stale.status, stale.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
    let login = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );
    // The username is free again; the new alice is another user.
    let again = h.register("shop", "alice", PW).await;
    assert_eq!(again["user"]["username"], "alice");
}

on_both!(
    get_me_needs_a_valid_token,
    patch_sets_clears_and_merges,
    patch_refuses_what_breaks_a_rule_and_changes_nothing,
    delete_me_confirms_the_password_then_frees_the_name,
);
