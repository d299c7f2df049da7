//! Conversation sessions and messages: create, list with `active_only`, get, status, messages.

mod accounts;
mod common;

use accounts::{Accounts, call, setup};
use actix_web::http::StatusCode;
use common::Harness;
use serde_json::{Value, json};

fn sessions(a: &Accounts) -> String {
    format!("/api/v1/users/{}/sessions", a.alice_id)
}

async fn create(h: &Harness, a: &Accounts, title: &str) -> Value {
    let r = call(
        h,
        "POST",
        &sessions(a),
        a.alice(),
        Some(json!({"title": title})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["data"].clone()
}

async fn create_returns_the_documented_shape(h: Harness) {
    let a = setup(&h).await;
    let body = json!({"user_id": a.alice_id, "title": "Chat about AI development",
                      "metadata": {"source": "web_app", "type": "chat_session"}});
    let r = call(&h, "POST", &sessions(&a), a.service(), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let d = &r.body["data"];
    assert!(d["id"].as_i64().is_some());
    assert!(uuid::Uuid::parse_str(d["session_id"].as_str().unwrap_or_default()).is_ok());
    assert_eq!(d["user_id"], a.alice_id.as_str());
    assert_eq!(d["title"], "Chat about AI development");
    assert_eq!(
        d["metadata"],
        json!({"source": "web_app", "type": "chat_session"})
    );
    assert_eq!(d["status"], "active");
    assert_eq!(d["created_at"], d["updated_at"]);
    let sid = d["session_id"].as_str().unwrap_or_default();
    let got = call(
        &h,
        "GET",
        &format!("/api/v1/sessions/{sid}"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!((got.status, &got.body["data"]), (StatusCode::OK, d));
    let r = call(&h, "POST", &sessions(&a), a.alice(), Some(json!({}))).await;
    assert_eq!(
        (
            r.status,
            r.body["data"]["title"].clone(),
            r.body["data"]["metadata"].clone()
        ),
        (StatusCode::CREATED, Value::Null, json!({}))
    );
}

async fn create_validates(h: Harness) {
    let a = setup(&h).await;
    let big = "x".repeat(16 * 1024);
    for (body, field) in [
        (json!({"user_id": a.bob_id}), "user_id"),
        (json!({"metadata": "x"}), "metadata"),
        (json!({"metadata": {"k": big}}), "metadata"),
        (json!({"title": "t", "status": "x"}), "status"),
    ] {
        let r = call(&h, "POST", &sessions(&a), a.alice(), Some(body)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
        );
        assert_eq!(r.body["error"]["details"][0]["field"], field);
    }
    let r = call(&h, "POST", &sessions(&a), a.bob(), Some(json!({}))).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
}

async fn list_is_newest_first_with_active_only(h: Harness) {
    let a = setup(&h).await;
    let s1 = create(&h, &a, "one").await;
    create(&h, &a, "two").await;
    create(&h, &a, "three").await;
    let sid = s1["session_id"].as_str().unwrap_or_default();
    let r = call(
        &h,
        "PUT",
        &format!("/api/v1/sessions/{sid}/status"),
        a.alice(),
        Some(json!({"status": "completed"})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["status"].clone()),
        (StatusCode::OK, json!("completed"))
    );
    let r = call(&h, "GET", &sessions(&a), a.admin(), None).await;
    let titles: Vec<Value> = r.body["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["title"].clone())
        .collect();
    assert_eq!(titles, vec![json!("three"), json!("two"), json!("one")]);
    assert_eq!(r.body["data"]["total"], 3);
    let r = call(
        &h,
        "GET",
        &(sessions(&a) + "?active_only=true&limit=1"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["items"][0]["title"].clone()
        ),
        (json!(2), json!("three"))
    );
    let r = call(
        &h,
        "GET",
        &(sessions(&a) + "?active_only=maybe"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
}

async fn status_and_messages(h: Harness) {
    let a = setup(&h).await;
    let s = create(&h, &a, "chat").await;
    let sid = s["session_id"].as_str().unwrap_or_default().to_owned();
    let status = format!("/api/v1/sessions/{sid}/status");
    let msgs = format!("/api/v1/sessions/{sid}/messages");
    // Later than the session's creation, so the touch below is visible in `updated_at`.
    h.advance(1);
    for bad in ["Active", "closed"] {
        let r = call(&h, "PUT", &status, a.alice(), Some(json!({"status": bad}))).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
        );
    }
    for st in ["archived", "error", "active"] {
        let r = call(&h, "PUT", &status, a.service(), Some(json!({"status": st}))).await;
        assert_eq!(
            (r.status, r.body["data"]["status"].clone()),
            (StatusCode::OK, json!(st))
        );
    }
    let r = call(
        &h,
        "POST",
        &msgs,
        a.alice(),
        Some(
            json!({"role": "user", "content": "Hello, how can AI help with coding?",
        "message_type": "chat", "tokens_used": 10, "cost_usd": 0.001}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["role"].clone(),
            d["content"].clone(),
            d["tokens_used"].clone(),
            d["cost_usd"].clone(),
            d["session_id"].clone()
        ),
        (
            json!("user"),
            json!("Hello, how can AI help with coding?"),
            json!(10),
            json!(0.001),
            json!(sid)
        )
    );
    for role in ["assistant", "system", "tool"] {
        let r = call(
            &h,
            "POST",
            &msgs,
            a.admin(),
            Some(json!({"role": role, "content": role})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = call(
        &h,
        "POST",
        &msgs,
        a.alice(),
        Some(json!({"role": "bot", "content": "x"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let huge = "x".repeat(1024 * 1024 + 1);
    let r = call(
        &h,
        "POST",
        &msgs,
        a.alice(),
        Some(json!({"role": "user", "content": huge})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = call(&h, "GET", &msgs, a.alice(), None).await;
    let roles: Vec<Value> = r.body["data"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["role"].clone())
        .collect();
    assert_eq!(
        roles,
        vec![
            json!("user"),
            json!("assistant"),
            json!("system"),
            json!("tool")
        ]
    );
    let r = call(
        &h,
        "GET",
        &(msgs.clone() + "?page=2&page_size=3"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["page"].clone(),
            r.body["data"]["items"][0]["role"].clone()
        ),
        (json!(4), json!(2), json!("tool"))
    );
    // Adding a message touches the session.
    let got = call(
        &h,
        "GET",
        &format!("/api/v1/sessions/{sid}"),
        a.alice(),
        None,
    )
    .await;
    assert!(got.body["data"]["updated_at"].as_str() > s["updated_at"].as_str());
}

async fn others_get_404_session_not_found(h: Harness) {
    let a = setup(&h).await;
    let s = create(&h, &a, "private").await;
    let sid = s["session_id"].as_str().unwrap_or_default().to_owned();
    for who in [a.bob(), a.mallory(), a.other_service()] {
        for (method, p, body) in [
            ("GET", format!("/api/v1/sessions/{sid}"), None),
            (
                "PUT",
                format!("/api/v1/sessions/{sid}/status"),
                Some(json!({"status": "archived"})),
            ),
            (
                "POST",
                format!("/api/v1/sessions/{sid}/messages"),
                Some(json!({"role": "user", "content": "x"})),
            ),
            ("GET", format!("/api/v1/sessions/{sid}/messages"), None),
        ] {
            let r = call(&h, method, &p, who, body).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND"),
                "{p}"
            );
        }
    }
    for ghost in ["0190a000-0000-7000-8000-000000000000", "not-a-uuid"] {
        let r = call(
            &h,
            "GET",
            &format!("/api/v1/sessions/{ghost}"),
            a.service(),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "SESSION_NOT_FOUND")
        );
    }
    let got = call(
        &h,
        "GET",
        &format!("/api/v1/sessions/{sid}"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!(got.body["data"]["status"], "active");
}

on_both!(
    create_returns_the_documented_shape,
    create_validates,
    list_is_newest_first_with_active_only,
    status_and_messages,
    others_get_404_session_not_found,
);
