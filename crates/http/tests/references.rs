//! API.md 1.3: a field that refers to another object (`session_id` of a usage record,
//! `usage_record_id` of a consume) names an existing object of the same user, else 400.

mod accounts;
mod common;

use accounts::{call, setup};
use actix_web::http::StatusCode;
use common::Harness;
use serde_json::json;

fn refused(r: &common::Reply, field: &str) {
    r.assert_invalid(field, "a reference to another user's object");
}

async fn references_must_name_an_object_of_the_same_user(h: Harness) {
    let a = setup(&h).await;
    let alice = |rest: &str| format!("/api/v1/users/{}/{rest}", a.alice_id);
    let bob = |rest: &str| format!("/api/v1/users/{}/{rest}", a.bob_id);
    let session_of = |r: common::Reply| {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["data"]["session_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let alices_session =
        session_of(call(&h, "POST", &alice("sessions"), a.alice(), Some(json!({}))).await);
    let bobs_session =
        session_of(call(&h, "POST", &bob("sessions"), a.bob(), Some(json!({}))).await);
    let mallory_id = h.get_auth("/users/me", &a.mallory).await.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mallorys_session = session_of(
        call(
            &h,
            "POST",
            &format!("/api/v1/users/{mallory_id}/sessions"),
            a.mallory(),
            Some(json!({})),
        )
        .await,
    );

    // Usage: another user's session, another namespace's, a made-up one, junk.
    for sid in [
        bobs_session.as_str(),
        mallorys_session.as_str(),
        "0190c0de-0000-7000-8000-000000000000",
        "junk",
    ] {
        let body = json!({"event_type": "chat", "session_id": sid});
        for who in [a.alice(), a.service()] {
            let r = call(&h, "POST", &alice("usage"), who, Some(body.clone())).await;
            refused(&r, "session_id");
        }
        let batch = json!({"records": [{"event_type": "chat", "session_id": alices_session},
                                       {"event_type": "chat", "session_id": sid}]});
        let r = call(&h, "POST", &alice("usage/batch"), a.alice(), Some(batch)).await;
        refused(&r, "records[1].session_id");
    }
    // Nothing was written.
    let r = call(&h, "GET", &alice("usage"), a.alice(), None).await;
    assert_eq!(r.body["data"]["total"], 0, "{}", r.body);
    let r = call(
        &h,
        "POST",
        &alice("usage"),
        a.alice(),
        Some(json!({"event_type": "chat", "session_id": alices_session.to_uppercase()})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["session_id"], alices_session.as_str());
    let alices_record = r.body["data"]["id"].as_i64().unwrap_or_default();
    let r = call(
        &h,
        "POST",
        &bob("usage"),
        a.bob(),
        Some(json!({"event_type": "chat"})),
    )
    .await;
    let bobs_record = r.body["data"]["id"].as_i64().unwrap_or_default();

    // Consume: another user's record, a made-up one.
    for who in [a.service(), a.alice()] {
        if matches!(who, accounts::Auth::Key(_)) {
            let r = call(
                &h,
                "POST",
                &alice("credits/recharge"),
                who,
                Some(json!({"amount": 10})),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        for id in [bobs_record, alices_record + bobs_record + 1000] {
            let r = call(
                &h,
                "POST",
                &alice("credits/consume"),
                who,
                Some(json!({"amount": 1, "usage_record_id": id})),
            )
            .await;
            refused(&r, "usage_record_id");
        }
    }
    let r = call(&h, "GET", &alice("credits/balance"), a.alice(), None).await;
    assert_eq!(r.body["data"], json!(10));
    let r = call(
        &h,
        "POST",
        &alice("credits/consume"),
        a.alice(),
        Some(json!({"amount": 1, "usage_record_id": alices_record})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["usage_record_id"], alices_record);
}

on_both!(references_must_name_an_object_of_the_same_user);
