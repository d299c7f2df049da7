//! `Idempotency-Key` against the real binary: a client that goes away in the middle of a keyed
//! request never leaves its retry answered 409 in use for long. actix finishes a handler whose
//! client left, so the retry is the kept response once it ends, applied exactly once. (A request
//! whose future is dropped frees its key at once: crates/http/tests/idempotency.rs.)

use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use user_service_e2e::{Backend, StatusCode, Store, on_both, text};

async fn a_client_gone_mid_request_frees_its_key(backend: Backend) {
    let store = Store::new(backend).await;
    // A slow hash keeps the first request inside its handler long enough to walk away from it.
    let s = store
        .start(&[("USER_SERVICE__AUTH__BCRYPT_COST", "15")])
        .await;
    let (st, ns) = s.post("/userspaces", &json!({"namespace": "shop"})).await;
    assert_eq!(st, StatusCode::CREATED, "{ns}");
    let key = text(&ns["data"]["api_key"]);
    let body =
        json!({"username": "dora", "email": "dora@example.com", "password": "supersecret123"})
            .to_string();

    let addr = s.base.trim_start_matches("http://").to_owned();
    let mut conn = TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {key}\r\n\
         Idempotency-Key: create-dora\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(body.as_bytes()).await.expect("body");
    // The whole request is in and its hash has started; the client gives up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(conn);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Retried the way a client retries: 409 in use only while the abandoned request still runs.
    let started = std::time::Instant::now();
    let answer = loop {
        let res = s
            .client
            .post(s.url("/api/v1/users"))
            .header("X-API-Key", &key)
            .header("Idempotency-Key", "create-dora")
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("retry answered");
        let status = res.status();
        let answer: serde_json::Value = res.json().await.expect("json");
        if status != StatusCode::CONFLICT {
            assert_eq!(status, StatusCode::CREATED, "{answer}");
            break answer;
        }
        assert_eq!(
            answer["error"]["code"], "IDEMPOTENCY_KEY_IN_USE",
            "{answer}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "in use for too long"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(answer["data"]["username"], "dora");

    // Applied exactly once: the same retry now replays, and the user exists once.
    let again = s
        .client
        .post(s.url("/api/v1/users"))
        .header("X-API-Key", &key)
        .header("Idempotency-Key", "create-dora")
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answered");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(again.headers().get("idempotent-replayed").is_some());
    let list = s
        .client
        .get(s.url("/api/v1/users"))
        .header("X-API-Key", &key)
        .send()
        .await
        .expect("list");
    let list: serde_json::Value = list.json().await.expect("json");
    assert_eq!(list["data"]["total"], 1, "{list}");
    s.stop().await;
}

on_both!(a_client_gone_mid_request_frees_its_key,);
