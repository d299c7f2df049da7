//! Two real instances sharing one Redis enforce one limit; without Redis each counts on its own.
//! Needs Redis on 127.0.0.1:6379 (`TEST_REDIS_URL`); every test uses its own key prefix.

use serde_json::json;
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, read};

const PW: &str = "supersecret123";

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn header(res: &reqwest::Response, name: &str) -> Option<u64> {
    res.headers().get(name)?.to_str().ok()?.parse().ok()
}

/// GET /users/me without a token: a cheap request that is counted and answered 401.
async fn hit(s: &Server) -> (StatusCode, Option<u64>, Option<u64>) {
    let res = s
        .client
        .get(s.url("/users/me"))
        .send()
        .await
        .expect("request sent");
    let remaining = header(&res, "x-ratelimit-remaining");
    let retry = header(&res, "retry-after");
    let (status, _) = read(res).await;
    (status, remaining, retry)
}

async fn two_instances_on_one_redis_enforce_one_limit(backend: Backend) {
    let store = Store::new(backend).await;
    let prefix = format!("us-e2e:{}:", uuid::Uuid::now_v7());
    let redis = redis_url();
    let env = [
        ("USER_SERVICE__RATE_LIMIT__ENABLED", "true"),
        ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "6"),
        ("USER_SERVICE__RATE_LIMIT__LOGIN_MAX_FAILURES", "2"),
        ("USER_SERVICE__RATE_LIMIT__REDIS_URL", redis.as_str()),
        (
            "USER_SERVICE__RATE_LIMIT__REDIS_KEY_PREFIX",
            prefix.as_str(),
        ),
    ];
    let a = store.start(&env).await;
    let b = store.start(&env).await;
    let mut seen = Vec::new();
    for s in [&a, &b, &a, &b, &a, &b] {
        let (status, remaining, _) = hit(s).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        seen.push(remaining.expect("X-RateLimit-Remaining"));
    }
    // One counter across both instances.
    assert_eq!(seen, [5, 4, 3, 2, 1, 0]);
    for s in [&a, &b] {
        let (status, remaining, retry) = hit(s).await;
        assert_eq!(
            (status, remaining),
            (StatusCode::TOO_MANY_REQUESTS, Some(0))
        );
        assert!(retry.is_some_and(|r| (1..=60).contains(&r)), "{retry:?}");
    }
}

async fn login_failures_on_one_instance_lock_the_other(backend: Backend) {
    let store = Store::new(backend).await;
    let prefix = format!("us-e2e:{}:", uuid::Uuid::now_v7());
    let redis = redis_url();
    let env = [
        ("USER_SERVICE__RATE_LIMIT__ENABLED", "true"),
        ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "1000"),
        ("USER_SERVICE__RATE_LIMIT__LOGIN_MAX_FAILURES", "2"),
        ("USER_SERVICE__RATE_LIMIT__REDIS_URL", redis.as_str()),
        (
            "USER_SERVICE__RATE_LIMIT__REDIS_KEY_PREFIX",
            prefix.as_str(),
        ),
    ];
    let a = store.start(&env).await;
    let b = store.start(&env).await;
    let (st, _) = a.post("/userspaces", &json!({"namespace": "shop"})).await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = a
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let attempt =
        |pw: &'static str| json!({"namespace": "shop", "username": "alice", "password": pw});
    let (st, body) = a.post("/auth/login", &attempt("wrong-one")).await;
    assert_eq!(
        (st, body["error"]["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("INVALID_CREDENTIALS"))
    );
    let (st, _) = b.post("/auth/login", &attempt("wrong-two")).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // Locked on both instances, right password or not.
    for s in [&a, &b] {
        let (st, body) = s.post("/auth/login", &attempt(PW)).await;
        assert_eq!(
            (st, body["error"]["code"].clone()),
            (StatusCode::TOO_MANY_REQUESTS, json!("RATE_LIMIT_EXCEEDED"))
        );
    }
}

async fn without_redis_each_instance_counts_alone(backend: Backend) {
    let store = Store::new(backend).await;
    let env = [
        ("USER_SERVICE__RATE_LIMIT__ENABLED", "true"),
        ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "2"),
    ];
    let a = store.start(&env).await;
    let b = store.start(&env).await;
    for s in [&a, &a] {
        assert_eq!(hit(s).await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(hit(&a).await.0, StatusCode::TOO_MANY_REQUESTS);
    let (status, remaining, _) = hit(&b).await;
    assert_eq!((status, remaining), (StatusCode::UNAUTHORIZED, Some(1)));
}

on_both!(
    two_instances_on_one_redis_enforce_one_limit,
    login_failures_on_one_instance_lock_the_other,
    without_redis_each_instance_counts_alone,
);
