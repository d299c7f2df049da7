//! `/api/v1/users/{id}/credits/*`: statuses and bodies of every route, the access rule, money.

mod accounts;
mod common;

use accounts::{Accounts, Auth, call, setup};
use actix_web::http::StatusCode;
use common::Harness;
use serde_json::{Value, json};

fn path(a: &Accounts, rest: &str) -> String {
    format!("/api/v1/users/{}/credits/{rest}", a.alice_id)
}

async fn recharge(h: &Harness, a: &Accounts, body: Value) -> common::Reply {
    call(h, "POST", &path(a, "recharge"), a.service(), Some(body)).await
}

async fn consume_recharge_and_balance_print_exact_money(h: Harness) {
    let a = setup(&h).await;
    let r = call(&h, "GET", &path(&a, "balance"), a.alice(), None).await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, json!({"data": 0}))
    );

    let r = recharge(&h, &a, json!({"amount": 100.0, "description": "Monthly subscription refill", "reference_id": "stripe_payment_123"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["transaction_type"], "recharge");
    assert_eq!(d["amount"], json!(100));
    assert_eq!(d["balance_before"], json!(0));
    assert_eq!(d["balance_after"], json!(100));
    assert_eq!(d["user_id"], a.alice_id.as_str());
    assert_eq!(d["reference_id"], "stripe_payment_123");
    assert_eq!(d["usage_record_id"], Value::Null);
    assert!(d["transaction_id"].as_str().is_some_and(|t| t.len() == 36));
    assert!(d["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));

    let usage = format!("/api/v1/users/{}/usage", a.alice_id);
    let r = call(
        &h,
        "POST",
        &usage,
        a.alice(),
        Some(json!({"event_type": "chat"})),
    )
    .await;
    let record = r.body["data"]["id"].clone();
    let r = call(
        &h,
        "POST",
        &path(&a, "consume"),
        a.alice(),
        Some(
            json!({"amount": 10.5, "description": "AI chat completion", "usage_record_id": record}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["transaction_type"].clone(),
            d["amount"].clone(),
            d["balance_before"].clone(),
            d["balance_after"].clone()
        ),
        (json!("consume"), json!(10.5), json!(100), json!(89.5))
    );
    assert_eq!(d["description"], "AI chat completion");
    assert_eq!(d["usage_record_id"], record);

    // 0.1 + 0.2 is 0.3 here; 57 * 0.01 arrives as 0.5700000000000001 and means 0.57.
    for amount in ["0.1", "0.2", "0.5700000000000001"] {
        let body = format!(r#"{{"amount": {amount}}}"#);
        let r = h
            .send(
                actix_web::test::TestRequest::post()
                    .uri(&path(&a, "consume"))
                    .insert_header(("Authorization", format!("Bearer {}", a.alice)))
                    .insert_header(("Content-Type", "application/json"))
                    .set_payload(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = call(&h, "GET", &path(&a, "balance"), a.alice(), None).await;
    assert_eq!(r.body, json!({"data": 88.63}));
    let raw = r.body.to_string();
    assert_eq!(raw, r#"{"data":88.63}"#);
}

async fn insufficient_credits_is_400_and_changes_nothing(h: Harness) {
    let a = setup(&h).await;
    recharge(&h, &a, json!({"amount": 5})).await;
    let r = call(
        &h,
        "POST",
        &path(&a, "consume"),
        a.alice(),
        Some(json!({"amount": 5.000001})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "INSUFFICIENT_CREDITS")
    );
    let r = call(&h, "GET", &path(&a, "balance"), a.alice(), None).await;
    assert_eq!(r.body, json!({"data": 5}));
    let r = call(&h, "GET", &path(&a, "transactions"), a.alice(), None).await;
    assert_eq!(r.body["data"]["total"], 1);
    // Exactly the balance is fine and leaves zero.
    let r = call(
        &h,
        "POST",
        &path(&a, "consume"),
        a.alice(),
        Some(json!({"amount": 5})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["balance_after"].clone()),
        (StatusCode::OK, json!(0))
    );
}

async fn amounts_are_validated(h: Harness) {
    let a = setup(&h).await;
    for bad in [
        json!({"amount": 0}),
        json!({"amount": -1}),
        json!({"amount": 0.0000004}),
        json!({"amount": "10"}),
        json!({}),
        json!({"amount": null}),
        json!({"amount": 1, "surprise": true}),
    ] {
        let r = recharge(&h, &a, bad.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{bad}"
        );
        let r = call(
            &h,
            "POST",
            &path(&a, "consume"),
            a.alice(),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{bad}"
        );
    }
    // Read from the number's exact text: one millionth above the maximum is refused.
    let over = h
        .send(
            actix_web::test::TestRequest::post()
                .uri(&path(&a, "recharge"))
                .insert_header(("X-API-Key", a.key.clone()))
                .insert_header(("Content-Type", "application/json"))
                .set_payload(r#"{"amount": 1000000000000.000001}"#),
        )
        .await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = recharge(&h, &a, json!({"amount": 1000000000000u64})).await;
    assert_eq!(
        (r.status, r.body["data"]["amount"].clone()),
        (StatusCode::OK, json!(1000000000000u64))
    );
    let r = call(&h, "GET", &path(&a, "balance"), a.alice(), None).await;
    assert_eq!(r.body, json!({"data": 1000000000000u64}));
}

async fn recharge_reference_ids_apply_once(h: Harness) {
    let a = setup(&h).await;
    let first = recharge(&h, &a, json!({"amount": 50, "reference_id": "pay-1"})).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = recharge(
        &h,
        &a,
        json!({"amount": 999, "reference_id": "pay-1", "description": "other"}),
    )
    .await;
    assert_eq!(
        (again.status, again.body.clone()),
        (StatusCode::OK, first.body.clone())
    );
    let r = call(&h, "GET", &path(&a, "balance"), a.alice(), None).await;
    assert_eq!(r.body, json!({"data": 50}));
    // The same reference id for another user is another payment.
    let bob = call(
        &h,
        "POST",
        &format!("/api/v1/users/{}/credits/recharge", a.bob_id),
        a.admin(),
        Some(json!({"amount": 7, "reference_id": "pay-1"})),
    )
    .await;
    assert_eq!(
        (bob.status, bob.body["data"]["balance_after"].clone()),
        (StatusCode::OK, json!(7))
    );
}

async fn who_may_do_what(h: Harness) {
    let a = setup(&h).await;
    // A plain user may not recharge, not even itself.
    let r = call(
        &h,
        "POST",
        &path(&a, "recharge"),
        a.alice(),
        Some(json!({"amount": 1})),
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    // The admin and the service key may.
    let r = call(
        &h,
        "POST",
        &path(&a, "recharge"),
        a.admin(),
        Some(json!({"amount": 1})),
    )
    .await;
    assert_eq!(
        (r.status, r.body["data"]["balance_after"].clone()),
        (StatusCode::OK, json!(1))
    );
    // Another user, another namespace's key or user: as if alice did not exist.
    for who in [a.bob(), a.other_service(), a.mallory()] {
        for (method, route, body) in [
            ("GET", "balance", None),
            ("GET", "transactions", None),
            ("POST", "consume", Some(json!({"amount": 1}))),
            ("POST", "recharge", Some(json!({"amount": 1}))),
        ] {
            let r = call(&h, method, &path(&a, route), who, body).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "USER_NOT_FOUND"),
                "{route}"
            );
        }
    }
    // A made-up id answers the same, to the service key too.
    let ghost = "/api/v1/users/0190a000-0000-7000-8000-000000000000/credits/balance";
    let r = call(&h, "GET", ghost, a.service(), None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, "USER_NOT_FOUND")
    );
    let r = call(
        &h,
        "GET",
        "/api/v1/users/not-a-uuid/credits/balance",
        a.service(),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let r = call(&h, "GET", &path(&a, "balance"), Auth::Anonymous, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
    // Credits are served under /api/v1 only.
    let r = call(
        &h,
        "GET",
        &format!("/users/{}/credits/balance", a.alice_id),
        a.service(),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
}

async fn transactions_are_newest_first_filtered_and_paged(h: Harness) {
    let a = setup(&h).await;
    recharge(&h, &a, json!({"amount": 10})).await;
    for amount in [1, 2, 3] {
        let r = call(
            &h,
            "POST",
            &path(&a, "consume"),
            a.service(),
            Some(json!({"amount": amount})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = call(&h, "GET", &path(&a, "transactions"), a.alice(), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let d = &r.body["data"];
    assert_eq!(
        (
            d["total"].clone(),
            d["page"].clone(),
            d["page_size"].clone()
        ),
        (json!(4), json!(1), json!(20))
    );
    let amounts: Vec<Value> = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["amount"].clone())
        .collect();
    assert_eq!(amounts, vec![json!(3), json!(2), json!(1), json!(10)]);
    let balances: Vec<Value> = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["balance_after"].clone())
        .collect();
    assert_eq!(balances, vec![json!(4), json!(7), json!(9), json!(10)]);

    let r = call(
        &h,
        "GET",
        &(path(&a, "transactions") + "?transaction_type=consume&limit=2&offset=1"),
        a.alice(),
        None,
    )
    .await;
    let d = &r.body["data"];
    assert_eq!(
        (
            d["total"].clone(),
            d["page"].clone(),
            d["page_size"].clone()
        ),
        (json!(3), json!(1), json!(2))
    );
    let amounts: Vec<Value> = d["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["amount"].clone())
        .collect();
    assert_eq!(amounts, vec![json!(2), json!(1)]);
    let r = call(
        &h,
        "GET",
        &(path(&a, "transactions") + "?transaction_type=recharge&page=1&page_size=5"),
        a.alice(),
        None,
    )
    .await;
    assert_eq!(
        (
            r.body["data"]["total"].clone(),
            r.body["data"]["items"][0]["amount"].clone()
        ),
        (json!(1), json!(10))
    );
    for bad in ["?transaction_type=refund", "?page=1&limit=2", "?limit=101"] {
        let r = call(
            &h,
            "GET",
            &(path(&a, "transactions") + bad),
            a.alice(),
            None,
        )
        .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            "{bad}"
        );
    }
}

async fn consumes_are_counted_in_metrics(h: Harness) {
    let a = setup(&h).await;
    recharge(&h, &a, json!({"amount": 10})).await;
    call(
        &h,
        "POST",
        &path(&a, "consume"),
        a.alice(),
        Some(json!({"amount": 2.5})),
    )
    .await;
    let r = h
        .send(actix_web::test::TestRequest::get().uri("/metrics"))
        .await;
    let text = r.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("credits_consumed_total 2.5"), "{text}");
}

async fn the_openapi_document_lists_every_new_route(h: Harness) {
    let r = h
        .send(actix_web::test::TestRequest::get().uri("/openapi.json"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for (path, method) in [
        ("/api/v1/users/{user_id}/credits/consume", "post"),
        ("/api/v1/users/{user_id}/credits/recharge", "post"),
        ("/api/v1/users/{user_id}/credits/balance", "get"),
        ("/api/v1/users/{user_id}/credits/transactions", "get"),
        ("/api/v1/users/{user_id}/usage", "post"),
        ("/api/v1/users/{user_id}/usage", "get"),
        ("/api/v1/users/{user_id}/usage/batch", "post"),
        ("/api/v1/users/{user_id}/usage/stats", "get"),
        ("/api/v1/users/{user_id}/sessions", "post"),
        ("/api/v1/users/{user_id}/sessions", "get"),
        ("/api/v1/sessions/{session_id}", "get"),
        ("/api/v1/sessions/{session_id}/status", "put"),
        ("/api/v1/sessions/{session_id}/messages", "post"),
        ("/api/v1/sessions/{session_id}/messages", "get"),
    ] {
        assert!(r.body["paths"][path][method].is_object(), "{method} {path}");
    }
}

on_both!(
    the_openapi_document_lists_every_new_route,
    consume_recharge_and_balance_print_exact_money,
    insufficient_credits_is_400_and_changes_nothing,
    amounts_are_validated,
    recharge_reference_ids_apply_once,
    who_may_do_what,
    transactions_are_newest_first_filtered_and_paged,
    consumes_are_counted_in_metrics,
);
