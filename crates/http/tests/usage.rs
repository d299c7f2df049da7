//! `/api/v1/users/{id}/usage*`: record, batch (all or nothing), history with a date range, stats.

mod accounts;
mod common;

use accounts::{Accounts, call, setup};
use actix_web::http::StatusCode;
use common::Harness;
use serde_json::{Value, json};

fn path(a: &Accounts, rest: &str) -> String {
    format!("/api/v1/users/{}/usage{rest}", a.alice_id)
}

async fn record_returns_the_stored_record(h: Harness) {
    let a = setup(&h).await;
    let sessions = format!("/api/v1/users/{}/sessions", a.alice_id);
    let r = call(&h, "POST", &sessions, a.alice(), Some(json!({}))).await;
    let sid = r.body["data"]["session_id"].clone();
    let body = json!({
        "user_id": a.alice_id, "session_id": sid, "endpoint": "/api/chat/completion",
        "event_type": "ai_chat", "credits_charged": 5.0, "cost_usd": 0.01, "tokens_used": 1500,
        "prompt_tokens": 1000, "completion_tokens": 500, "model_name": "gpt-4", "provider": "openai",
        "tool_name": "chat_service", "operation_name": "generate_response", "metadata": {"k": [1, 2]}
    });
    let r = call(&h, "POST", &path(&a, ""), a.alice(), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let d = &r.body["data"];
    assert!(d["id"].as_i64().is_some_and(|id| id > 0));
    assert!(d["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let mut d = d.clone();
    if let Some(o) = d.as_object_mut() {
        o.remove("id");
        o.remove("created_at");
    }
    assert_eq!(
        d,
        json!({
            "user_id": a.alice_id, "session_id": sid, "endpoint": "/api/chat/completion",
            "event_type": "ai_chat", "credits_charged": 5, "cost_usd": 0.01, "tokens_used": 1500,
            "prompt_tokens": 1000, "completion_tokens": 500, "model_name": "gpt-4", "provider": "openai",
            "tool_name": "chat_service", "operation_name": "generate_response", "metadata": {"k": [1, 2]}
        })
    );
    // `tokens * 0.01` in floating point is rounded to the exact decimal it means.
    let r = call(
        &h,
        "POST",
        &path(&a, ""),
        a.service(),
        Some(json!({"event_type": "memory_storage", "credits_charged": 57.0 * 0.01})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["credits_charged"].clone()),
        (StatusCode::CREATED, json!(0.57))
    );
}

async fn record_validates_every_field(h: Harness) {
    let a = setup(&h).await;
    let r = call(
        &h,
        "POST",
        &path(&a, ""),
        a.alice(),
        Some(
            json!({"user_id": a.bob_id, "credits_charged": -1, "tokens_used": -5, "metadata": [1]}),
        ),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let fields: Vec<Value> = r.body["error"]["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["field"].clone())
        .collect();
    assert_eq!(
        fields,
        vec![
            json!("user_id"),
            json!("event_type"),
            json!("credits_charged"),
            json!("tokens_used"),
            json!("metadata")
        ]
    );
    let r = call(
        &h,
        "POST",
        &path(&a, ""),
        a.alice(),
        Some(json!({"event_type": "x", "colour": 1})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = call(
        &h,
        "POST",
        &path(&a, ""),
        a.bob(),
        Some(json!({"event_type": "x"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    let r = call(
        &h,
        "POST",
        &path(&a, ""),
        a.other_service(),
        Some(json!({"event_type": "x"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    let r = call(&h, "GET", &path(&a, ""), a.alice(), None).await;
    assert_eq!(r.body["data"]["total"], 0);
}

async fn batches_are_all_or_nothing(h: Harness) {
    let a = setup(&h).await;
    let ok = json!({"event_type": "api_call", "credits_charged": 0.1});
    let r = call(
        &h,
        "POST",
        &path(&a, "/batch"),
        a.admin(),
        Some(json!({"records": [ok, ok, {"event_type": "ai_chat", "model_name": "gpt-4"}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["total"], 3);
    let items = r.body["data"]["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items[2]["model_name"], "gpt-4");
    assert!(items[0]["id"].as_i64() < items[1]["id"].as_i64());

    let r = call(
        &h,
        "POST",
        &path(&a, "/batch"),
        a.admin(),
        Some(json!({"records": [ok, {"event_type": ""}, ok]})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(
        r.body["error"]["details"][0]["field"],
        "records[1].event_type"
    );
    let too_many: Vec<Value> = (0..1001).map(|_| ok.clone()).collect();
    let r = call(
        &h,
        "POST",
        &path(&a, "/batch"),
        a.admin(),
        Some(json!({"records": too_many})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = call(
        &h,
        "POST",
        &path(&a, "/batch"),
        a.admin(),
        Some(json!({"records": []})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let thousand: Vec<Value> = (0..1000).map(|_| ok.clone()).collect();
    let r = call(
        &h,
        "POST",
        &path(&a, "/batch"),
        a.admin(),
        Some(json!({"records": thousand})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["total"].clone()),
        (StatusCode::CREATED, json!(1000))
    );
    let r = call(&h, "GET", &path(&a, ""), a.alice(), None).await;
    assert_eq!(r.body["data"]["total"], 1003);
}

async fn history_is_newest_first_within_an_inclusive_range(h: Harness) {
    let a = setup(&h).await;
    let mut times = Vec::new();
    for i in 0..3 {
        let r = call(
            &h,
            "POST",
            &path(&a, ""),
            a.alice(),
            Some(json!({"event_type": format!("e{i}")})),
        )
        .await;
        times.push(
            r.body["data"]["created_at"]
                .as_str()
                .expect("time")
                .to_owned(),
        );
        h.advance(1);
    }
    let r = call(&h, "GET", &path(&a, ""), a.alice(), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let types: Vec<Value> = r.body["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["event_type"].clone())
        .collect();
    assert_eq!(types, vec![json!("e2"), json!("e1"), json!("e0")]);
    let q = format!("?start_date={}&end_date={}", times[1], times[1]);
    let r = call(&h, "GET", &path(&a, &q), a.alice(), None).await;
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["items"][0]["event_type"].clone()
        ),
        (json!(1), json!("e1"))
    );
    let q = format!("?start_date={}&limit=1&offset=1", times[1]);
    let r = call(&h, "GET", &path(&a, &q), a.alice(), None).await;
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["items"][0]["event_type"].clone()
        ),
        (json!(2), json!("e1"))
    );
    for bad in [
        "?start_date=yesterday",
        "?start_date=2025-02-01T00:00:00Z&end_date=2025-01-01T00:00:00Z",
        "?page=0",
    ] {
        let r = call(&h, "GET", &path(&a, bad), a.alice(), None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{bad}"
        );
    }
}

async fn stats_sum_exactly(h: Harness) {
    let a = setup(&h).await;
    let records = json!({"records": [
        {"event_type": "ai_chat", "credits_charged": 0.1, "cost_usd": 0.005, "tokens_used": 100, "model_name": "gpt-4"},
        {"event_type": "ai_chat", "credits_charged": 0.2, "cost_usd": 0.005, "tokens_used": 50, "model_name": "gpt-3.5-turbo"},
        {"event_type": "api_call", "credits_charged": 1, "tokens_used": 0}
    ]});
    let r = call(&h, "POST", &path(&a, "/batch"), a.service(), Some(records)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = call(&h, "GET", &path(&a, "/stats"), a.alice(), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::OK,
            json!({"data": {
                "total_records": 3, "total_credits_charged": 1.3, "total_cost_usd": 0.01, "total_tokens_used": 150,
                "by_event_type": {"ai_chat": 2, "api_call": 1}, "by_model": {"gpt-4": 1, "gpt-3.5-turbo": 1}
            }})
        )
    );
    let r = call(
        &h,
        "GET",
        &path(&a, "/stats?end_date=2000-01-01T00:00:00Z"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!(
        r.body,
        json!({"data": {"total_records": 0, "total_credits_charged": 0, "total_cost_usd": 0,
        "total_tokens_used": 0, "by_event_type": {}, "by_model": {}}})
    );
    let r = call(&h, "GET", &path(&a, "/stats"), a.mallory(), None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
}

on_both!(
    record_returns_the_stored_record,
    record_validates_every_field,
    batches_are_all_or_nothing,
    history_is_newest_first_within_an_inclusive_range,
    stats_sum_exactly,
);
