//! The login throttle and the request limits through the real binary: a burst of parallel guesses,
//! and a configured Redis that cannot be reached.

use futures_util::future::join_all;
use serde_json::json;
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both};

const PW: &str = "supersecret123";

async fn metrics(s: &Server) -> String {
    let res = s.client.get(s.url("/metrics")).send().await;
    res.expect("metrics").text().await.expect("text")
}

/// Finding 9.3: 40 wrong passwords for one account at once. Each attempt is counted before its
/// hash, so at most `login_max_failures` of them are checked (answered 401); the rest are 429, and
/// the account stays locked for that address even for the right password, whichever name is used.
async fn forty_parallel_wrong_logins_get_no_more_checks_than_a_sequence(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store
        .start(&[
            ("USER_SERVICE__RATE_LIMIT__ENABLED", "true"),
            ("USER_SERVICE__RATE_LIMIT__LOGIN_MAX_FAILURES", "5"),
            ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "1000"),
        ])
        .await;
    let (st, _) = s.post("/userspaces", &json!({"namespace": "shop"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW, "email": "alice@example.com"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let answers = join_all((0..40).map(|i| {
        let s = &s;
        async move {
            s.post(
                "/auth/login",
                &json!({"namespace": "shop", "username": "alice", "password": format!("guess-{i}")}),
            )
            .await
        }
    }))
    .await;
    let mut checked = 0;
    for (status, body) in &answers {
        match (*status, body["error"]["code"].as_str()) {
            (StatusCode::UNAUTHORIZED, Some("INVALID_CREDENTIALS")) => checked += 1,
            (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMIT_EXCEEDED")) => {}
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert!(
        (1..=5).contains(&checked),
        "{checked} of 40 parallel guesses were checked"
    );
    for login in [
        json!({"namespace": "shop", "username": "alice", "password": PW}),
        json!({"namespace": "shop", "email": "alice@example.com", "password": PW}),
    ] {
        let (st, body) = s.post("/auth/login", &login).await;
        assert_eq!(
            (st, body["error"]["code"].as_str()),
            (StatusCode::TOO_MANY_REQUESTS, Some("RATE_LIMIT_EXCEEDED"))
        );
    }
    let metrics = metrics(&s).await;
    assert!(
        metrics.contains(&format!("logins_total{{result=\"failure\"}} {checked}")),
        "{metrics}"
    );
}

/// Finding 9.4: with a Redis URL that nothing answers (a closed port), the limit still holds.
async fn an_unreachable_redis_does_not_switch_the_limits_off(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store
        .start(&[
            ("USER_SERVICE__RATE_LIMIT__ENABLED", "true"),
            ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "5"),
            ("USER_SERVICE__RATE_LIMIT__REDIS_URL", "redis://127.0.0.1:1"),
        ])
        .await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let res = s
            .client
            .get(s.url("/users/me"))
            .send()
            .await
            .expect("request sent");
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429; 7]);
    let metrics = metrics(&s).await;
    assert!(
        metrics.contains("rate_limit_store_in_process 1"),
        "{metrics}"
    );
}

on_both!(
    forty_parallel_wrong_logins_get_no_more_checks_than_a_sequence,
    an_unreachable_redis_does_not_switch_the_limits_off,
);
