//! `Idempotency-Key` on the routes that honour it: replay byte for byte, 409s, 400 for long keys.

mod accounts;
mod common;

use accounts::{Accounts, setup};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Harness, Reply};
use serde_json::{Value, json};

fn keyed(a: &Accounts, path: &str, key: &str, body: &Value) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("X-API-Key", a.key.clone()))
        .insert_header(("Idempotency-Key", key.to_owned()))
        .set_json(body)
}

fn credits(a: &Accounts, route: &str) -> String {
    format!("/api/v1/users/{}/credits/{route}", a.alice_id)
}

async fn balance(h: &Harness, a: &Accounts) -> Value {
    h.get_auth(&credits(a, "balance"), &a.alice).await.body["data"].clone()
}

async fn raw(h: &Harness, req: TestRequest) -> (StatusCode, Vec<u8>, Option<String>) {
    let app = actix_web::test::init_service(user_service_http::build_app(h.state.clone())).await;
    let res = actix_web::test::call_service(&app, req.to_request()).await;
    let status = res.status();
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = actix_web::test::read_body(res).await.to_vec();
    (status, body, replayed)
}

async fn a_retry_replays_the_first_response_byte_for_byte(h: Harness) {
    let a = setup(&h).await;
    let body = json!({"amount": 10, "reference_id": "r-1"});
    let (s1, b1, rep1) = raw(&h, keyed(&a, &credits(&a, "recharge"), "k-1", &body)).await;
    assert_eq!((s1, rep1), (StatusCode::OK, None));
    let (s2, b2, rep2) = raw(&h, keyed(&a, &credits(&a, "recharge"), "k-1", &body)).await;
    assert_eq!((s2, rep2.as_deref()), (StatusCode::OK, Some("true")));
    assert_eq!(b1, b2);

    let consume = json!({"amount": 4});
    let (s1, b1, _) = raw(&h, keyed(&a, &credits(&a, "consume"), "k-2", &consume)).await;
    let (s2, b2, rep) = raw(&h, keyed(&a, &credits(&a, "consume"), "k-2", &consume)).await;
    assert_eq!(
        (s1, s2, rep.as_deref()),
        (StatusCode::OK, StatusCode::OK, Some("true"))
    );
    assert_eq!(b1, b2);
    assert_eq!(balance(&h, &a).await, json!(6));
    let txs = h.get_auth(&credits(&a, "transactions"), &a.alice).await;
    assert_eq!(txs.body["data"]["total"], 2);

    // A 4xx is a response too: replayed, not re-run, even after the balance would allow it.
    let big = json!({"amount": 100});
    let first = h
        .send(keyed(&a, &credits(&a, "consume"), "k-3", &big))
        .await;
    assert_eq!(
        (first.status, first.code()),
        (StatusCode::BAD_REQUEST, "INSUFFICIENT_CREDITS")
    );
    h.send(keyed(
        &a,
        &credits(&a, "recharge"),
        "k-4",
        &json!({"amount": 500}),
    ))
    .await;
    let (s, b, rep) = raw(&h, keyed(&a, &credits(&a, "consume"), "k-3", &big)).await;
    assert_eq!((s, rep.as_deref()), (StatusCode::BAD_REQUEST, Some("true")));
    let replayed: Value = serde_json::from_slice(&b).expect("json");
    assert_eq!(replayed, first.body);
    assert_eq!(balance(&h, &a).await, json!(506));
}

async fn another_body_with_the_key_is_409_reused_another_caller_is_free(h: Harness) {
    let a = setup(&h).await;
    let r = h
        .send(keyed(
            &a,
            &credits(&a, "recharge"),
            "k",
            &json!({"amount": 1}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .send(keyed(
            &a,
            &credits(&a, "recharge"),
            "k",
            &json!({"amount": 2}),
        ))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED")
    );
    // Same key, another route.
    let r = h
        .send(keyed(
            &a,
            &credits(&a, "consume"),
            "k",
            &json!({"amount": 1}),
        ))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED")
    );
    // The owner with the service's key: another caller, whose key is its own. It is applied (not
    // refused, not shown the service's response) and, used first, never blocks the service.
    let by_owner = |amount: i64, key: &str| {
        TestRequest::post()
            .uri(&credits(&a, "consume"))
            .insert_header(("Authorization", format!("Bearer {}", a.alice)))
            .insert_header(("Idempotency-Key", key.to_owned()))
            .set_json(json!({"amount": amount}))
    };
    let r = h.send(by_owner(1, "k")).await;
    assert_eq!(
        (r.status, &r.body["data"]["amount"]),
        (StatusCode::OK, &json!(1))
    );
    assert_eq!(balance(&h, &a).await, json!(0));
    let r = h.send(by_owner(1, "owner-first")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "balance 0: {:?}", r.body);
    let r = h
        .send(keyed(
            &a,
            &credits(&a, "recharge"),
            "owner-first",
            &json!({"amount": 5}),
        ))
        .await;
    assert_eq!(
        (r.status, &r.body["data"]["amount"]),
        (StatusCode::OK, &json!(5))
    );
    assert_eq!(balance(&h, &a).await, json!(5));
    // Keys are per namespace: the other namespace's key may use "k" for its own user freely.
}

async fn a_key_in_flight_is_409_in_use(h: Harness) {
    let a = setup(&h).await;
    let body = json!({"amount": 1});
    let path = credits(&a, "recharge");
    let hash = user_service_domain::services::fingerprint(&[
        b"POST",
        path.as_bytes(),
        &serde_json::to_vec(&body).expect("json"),
    ]);
    // Claimed as a request that is still running would have claimed it.
    let key = user_service_domain::model::IdempotencyKey::parse("busy").expect("key");
    let service = user_service_domain::model::Principal::Service {
        namespace: "shop".into(),
    };
    let scoped = user_service_domain::services::ScopedKey::new(&service, &key).expect("scoped");
    let begun = h
        .state
        .idempotency
        .begin(&scoped, &hash)
        .await
        .expect("claim");
    assert_eq!(begun, user_service_domain::services::Begin::Proceed);
    let r = h.send(keyed(&a, &path, "busy", &body)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_USE")
    );
    assert_eq!(balance(&h, &a).await, json!(0));
    // The request that claimed it never finished (the process stopped): once its lease is over the
    // retry is applied as new.
    h.advance(user_service_domain::services::IN_FLIGHT_LEASE_SECS + 1);
    let (s, _, replayed) = raw(&h, keyed(&a, &path, "busy", &body)).await;
    assert_eq!((s, replayed), (StatusCode::OK, None));
    assert_eq!(balance(&h, &a).await, json!(1));
}

async fn long_keys_are_400_and_no_key_is_no_idempotency(h: Harness) {
    let a = setup(&h).await;
    let long = "k".repeat(256);
    let r = h
        .send(keyed(
            &a,
            &credits(&a, "recharge"),
            &long,
            &json!({"amount": 1}),
        ))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(r.body["error"]["details"][0]["field"], "Idempotency-Key");
    let ok = "k".repeat(255);
    let r = h
        .send(keyed(
            &a,
            &credits(&a, "recharge"),
            &ok,
            &json!({"amount": 1}),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for _ in 0..2 {
        let r = accounts::call(
            &h,
            "POST",
            &credits(&a, "recharge"),
            a.service(),
            Some(json!({"amount": 1})),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(balance(&h, &a).await, json!(3));
}

async fn usage_posts_are_idempotent_too(h: Harness) {
    let a = setup(&h).await;
    let single = format!("/api/v1/users/{}/usage", a.alice_id);
    let batch = format!("/api/v1/users/{}/usage/batch", a.alice_id);
    let event = json!({"event_type": "ai_chat", "tokens_used": 5});
    let first = h.send(keyed(&a, &single, "u-1", &event)).await;
    let again = h.send(keyed(&a, &single, "u-1", &event)).await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.body, again.body);
    let records = json!({"records": [event.clone(), event.clone()]});
    let first = h.send(keyed(&a, &batch, "u-2", &records)).await;
    let again = h.send(keyed(&a, &batch, "u-2", &records)).await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.body, again.body);
    let history = h.get_auth(&single, &a.alice).await;
    assert_eq!(history.body["data"]["total"], 3);
    // A GET carrying a key is not claimed: it reads what is there now.
    let get = |key: &str| {
        TestRequest::get()
            .uri(&single)
            .insert_header(("X-API-Key", a.key.clone()))
            .insert_header(("Idempotency-Key", key.to_owned()))
    };
    let first = h.send(get("g")).await;
    h.send(keyed(&a, &single, "u-3", &event)).await;
    let second = h.send(get("g")).await;
    assert_eq!(
        (
            first.body["data"]["total"].clone(),
            second.body["data"]["total"].clone()
        ),
        (json!(3), json!(4))
    );
    assert_eq!(second.header("idempotent-replayed"), None);
}

async fn expired_keys_count_as_absent(h: Harness) {
    let h2 = Harness::new(
        backend_of(&h),
        &[("USER_SERVICE__IDEMPOTENCY__TTL_SECS", "1")],
    )
    .await;
    drop(h);
    let a = setup(&h2).await;
    let body = json!({"amount": 1});
    let r: Reply = h2
        .send(keyed(&a, &credits(&a, "recharge"), "k", &body))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    h2.advance(2);
    let (s, _, replayed) = raw(&h2, keyed(&a, &credits(&a, "recharge"), "k", &body)).await;
    assert_eq!((s, replayed), (StatusCode::OK, None));
    assert_eq!(balance(&h2, &a).await, json!(2));
}

async fn a_request_dropped_mid_way_frees_its_key(h: Harness) {
    // A slow hash keeps the request inside its handler long enough to drop it there.
    let h2 = Harness::new(backend_of(&h), &[("USER_SERVICE__AUTH__BCRYPT_COST", "14")]).await;
    drop(h);
    let a = setup(&h2).await;
    let body =
        json!({"username": "dora", "email": "dora@example.com", "password": "supersecret123"});
    let app = actix_web::test::init_service(user_service_http::build_app(h2.state.clone())).await;
    let first = keyed(&a, "/api/v1/users", "create-dora", &body).to_request();
    let gone = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        actix_web::test::call_service(&app, first),
    )
    .await;
    assert!(gone.is_err(), "dropped while it was still hashing");
    // The key is freed by a task the drop spawned; the retry is applied as new once it has run.
    let mut answer = raw(&h2, keyed(&a, "/api/v1/users", "create-dora", &body)).await;
    for _ in 0..50 {
        if answer.0 != StatusCode::CONFLICT {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        answer = raw(&h2, keyed(&a, "/api/v1/users", "create-dora", &body)).await;
    }
    let (status, bytes, replayed) = answer;
    let created: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!((status, replayed), (StatusCode::CREATED, None), "{created}");
    assert_eq!(created["data"]["username"], "dora");
}

fn backend_of(h: &Harness) -> common::Backend {
    match h.db.database().backend() {
        user_service_db::Backend::Sqlite => common::Backend::Sqlite,
        user_service_db::Backend::Postgres => common::Backend::Postgres,
    }
}

async fn admin_user_creation_is_idempotent_too(h: Harness) {
    let a = setup(&h).await;
    let body = json!({"username": "carol", "email": "carol@example.com"});
    let (s1, b1, rep1) = raw(&h, keyed(&a, "/api/v1/users", "create-1", &body)).await;
    assert_eq!((s1, rep1), (StatusCode::CREATED, None));
    let (s2, b2, rep2) = raw(&h, keyed(&a, "/api/v1/users", "create-1", &body)).await;
    assert_eq!((s2, rep2.as_deref()), (StatusCode::CREATED, Some("true")));
    assert_eq!(b1, b2);
    let other = json!({"username": "dave", "email": "dave@example.com"});
    let r = h.send(keyed(&a, "/api/v1/users", "create-1", &other)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED")
    );
    // Created once: without the key, the same username is now a conflict.
    let r = h
        .send(
            TestRequest::post()
                .uri("/api/v1/users")
                .insert_header(("X-API-Key", a.key.clone()))
                .set_json(&body),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"));
}

on_both!(
    a_request_dropped_mid_way_frees_its_key,
    admin_user_creation_is_idempotent_too,
    a_retry_replays_the_first_response_byte_for_byte,
    another_body_with_the_key_is_409_reused_another_caller_is_free,
    a_key_in_flight_is_409_in_use,
    long_keys_are_400_and_no_key_is_no_idempotency,
    usage_posts_are_idempotent_too,
    expired_keys_count_as_absent,
);
