//! Rate limits (per IP, per user, `X-Forwarded-For` from trusted proxies only) and login throttling,
//! through the real `App` with the in-process store.

mod common;

use std::net::SocketAddr;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Backend, Harness, Reply};
use serde_json::json;

const PW: &str = "supersecret123";

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[actix_web::test]
            async fn $name() { super::$name(super::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[actix_web::test]
            async fn $name() { super::$name(super::common::Backend::Postgres).await })*
        }
    };
}

async fn harness(backend: Backend, extra: &[(&str, &str)]) -> Harness {
    let mut env = vec![("USER_SERVICE__RATE_LIMIT__ENABLED", "true")];
    env.extend_from_slice(extra);
    Harness::new(backend, &env).await
}

fn peer(ip: &str) -> SocketAddr {
    format!("{ip}:40000").parse().expect("a socket address")
}

fn from(ip: &str, path: &str) -> TestRequest {
    TestRequest::get().uri(path).peer_addr(peer(ip))
}

fn num(r: &Reply, name: &str) -> u64 {
    r.header(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing or not a number"))
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

async fn the_per_ip_limit_counts_down_then_refuses_with_retry_after(backend: Backend) {
    let h = harness(
        backend,
        &[("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "3")],
    )
    .await;
    for left in [2, 1, 0] {
        let r = h.send(from("1.2.3.4", "/users/me")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
        );
        assert_eq!(
            (
                num(&r, "x-ratelimit-limit"),
                num(&r, "x-ratelimit-remaining")
            ),
            (3, left)
        );
        let reset = num(&r, "x-ratelimit-reset");
        assert!(reset > now() && reset <= now() + 61, "{reset}");
    }
    let r = h.send(from("1.2.3.4", "/users/me")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    let retry = num(&r, "retry-after");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        (
            num(&r, "x-ratelimit-limit"),
            num(&r, "x-ratelimit-remaining")
        ),
        (3, 0)
    );
    // Another client is unaffected; health, readiness and metrics are never limited.
    let other = h.send(from("5.6.7.8", "/users/me")).await;
    assert_eq!(
        (other.status, num(&other, "x-ratelimit-remaining")),
        (StatusCode::UNAUTHORIZED, 2)
    );
    for path in ["/health", "/ready", "/metrics"] {
        let r = h.send(from("1.2.3.4", path)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.header("x-ratelimit-limit").is_none(), "{path}");
    }
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(backend: Backend) {
    let h = harness(
        backend,
        &[
            ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "2"),
            ("USER_SERVICE__RATE_LIMIT__TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
    )
    .await;
    let via_proxy = |client: &str| {
        from("10.0.0.1", "/users/me")
            .insert_header(("X-Forwarded-For", format!("6.6.6.6, {client}")))
    };
    for _ in 0..2 {
        assert_eq!(
            h.send(via_proxy("1.1.1.1")).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = h.send(via_proxy("1.1.1.1")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    // Behind the same proxy another client has its own budget.
    let r = h.send(via_proxy("2.2.2.2")).await;
    assert_eq!(
        (r.status, num(&r, "x-ratelimit-remaining")),
        (StatusCode::UNAUTHORIZED, 1)
    );
    // An untrusted peer cannot escape its limit by inventing addresses.
    for n in 0..2 {
        let r = h
            .send(
                from("3.3.3.3", "/users/me")
                    .insert_header(("X-Forwarded-For", format!("7.7.7.{n}"))),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = h
        .send(from("3.3.3.3", "/users/me").insert_header(("X-Forwarded-For", "7.7.7.9")))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
}

async fn the_per_user_limit_follows_the_user_across_addresses(backend: Backend) {
    let h = harness(
        backend,
        &[
            ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "1000"),
            ("USER_SERVICE__RATE_LIMIT__PER_USER_PER_HOUR", "2"),
        ],
    )
    .await;
    h.namespace("shop").await;
    let token = h.register("shop", "alice", PW).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let me = |ip: &str| {
        from(ip, "/users/me").insert_header(("Authorization", format!("Bearer {token}")))
    };
    let first = h.send(me("1.1.1.1")).await;
    assert_eq!(
        (first.status, first.body["data"]["username"].clone()),
        (StatusCode::OK, json!("alice"))
    );
    assert_eq!(
        (
            num(&first, "x-ratelimit-limit"),
            num(&first, "x-ratelimit-remaining")
        ),
        (2, 1)
    );
    let reset = num(&first, "x-ratelimit-reset");
    assert!(reset > now() + 3000 && reset <= now() + 3601, "{reset}");
    assert_eq!(h.send(me("2.2.2.2")).await.status, StatusCode::OK);
    let r = h.send(me("3.3.3.3")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    assert!(num(&r, "retry-after") > 3000);
    // Someone else from the same address still gets through.
    let bob = h.register("shop", "bob", PW).await;
    assert_eq!(bob["user"]["username"], "bob");
}

async fn disabled_means_no_limits_and_no_headers(backend: Backend) {
    let h = Harness::new(
        backend,
        &[("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "1")],
    )
    .await;
    for _ in 0..3 {
        let r = h.send(from("1.2.3.4", "/users/me")).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
        );
        assert!(r.header("x-ratelimit-limit").is_none());
    }
}

async fn login(h: &Harness, ip: &str, username: &str, password: &str) -> Reply {
    h.send(
        TestRequest::post()
            .uri("/auth/login")
            .peer_addr(peer(ip))
            .set_json(json!({"namespace": "shop", "username": username, "password": password})),
    )
    .await
}

async fn login_failures_slow_then_lock_the_pair_but_not_the_real_user(backend: Backend) {
    let h = harness(
        backend,
        &[
            ("USER_SERVICE__RATE_LIMIT__LOGIN_MAX_FAILURES", "3"),
            ("USER_SERVICE__RATE_LIMIT__LOGIN_COOLDOWN_SECS", "600"),
        ],
    )
    .await;
    h.namespace("shop").await;
    h.register("shop", "alice", PW).await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let r = login(&h, "6.6.6.6", "Alice", "wrong-password").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
    }
    // The third attempt waited (the second failure's delay).
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    // Locked for this address, even with the right password.
    let r = login(&h, "6.6.6.6", "alice", PW).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    let retry = num(&r, "retry-after");
    assert!((500..=600).contains(&retry), "{retry}");
    // The account has reached its threshold, yet the real user from a clean address gets in.
    let ok = login(&h, "10.0.0.7", "alice", PW).await;
    assert_eq!(
        (ok.status, ok.body["token_type"].clone()),
        (StatusCode::OK, json!("bearer"))
    );
    // An attacker's fresh address gets one guess before the account-wide lock applies to it.
    let r = login(&h, "7.7.7.7", "alice", "guess-1").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = login(&h, "7.7.7.7", "alice", "guess-2").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    // Other accounts are not affected by alice's lock from the attacker's first address.
    h.register("shop", "bob", PW).await;
    assert_eq!(login(&h, "6.6.6.6", "bob", PW).await.status, StatusCode::OK);
}

/// Finding 9.3: one count per account whichever name was typed, and every check of a current
/// password goes through the same throttle (no oracle for whoever holds a stolen access token).
async fn every_password_check_of_an_account_shares_one_throttle(backend: Backend) {
    let h = harness(
        backend,
        &[("USER_SERVICE__RATE_LIMIT__LOGIN_MAX_FAILURES", "3")],
    )
    .await;
    h.namespace("shop").await;
    h.send(
        TestRequest::post().uri("/auth/register").set_json(
            json!({"namespace": "shop", "username": "alice", "password": PW, "email": "alice@example.com"}),
        ),
    )
    .await;
    for _ in 0..3 {
        let r = login(&h, "1.1.1.1", "alice", "wrong-password").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
    }
    let by_email = h
        .send(
            TestRequest::post()
                .uri("/auth/login")
                .peer_addr(peer("1.1.1.1"))
                .set_json(json!({"namespace": "shop", "email": "ALICE@example.com", "password": "wrong-4"})),
        )
        .await;
    assert_eq!(
        (by_email.status, by_email.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    // The real user, from an address that never failed, gets in.
    let ok = login(&h, "2.2.2.2", "alice", PW).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let bearer = format!("Bearer {}", ok.body["access_token"].as_str().unwrap_or(""));
    // Someone holding that access token guesses the current password elsewhere: one guess, then 429.
    let change = |pw: &str| {
        TestRequest::post()
            .uri("/auth/change-password")
            .peer_addr(peer("3.3.3.3"))
            .insert_header(("Authorization", bearer.clone()))
            .set_json(json!({"current_password": pw, "new_password": "another-secret-1"}))
    };
    let r = h.send(change("guess-1")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "WRONG_PASSWORD")
    );
    let r = h.send(change(PW)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    let delete = |pw: &str| {
        TestRequest::delete()
            .uri("/users/me")
            .peer_addr(peer("4.4.4.4"))
            .insert_header(("Authorization", bearer.clone()))
            .set_json(json!({"password": pw}))
    };
    let r = h.send(delete("guess-2")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "WRONG_PASSWORD")
    );
    let r = h.send(delete(PW)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    // Nothing was changed or deleted: the real user still logs in with the old password.
    assert_eq!(
        login(&h, "2.2.2.2", "alice", PW).await.status,
        StatusCode::OK
    );
}

both!(
    every_password_check_of_an_account_shares_one_throttle,
    the_per_ip_limit_counts_down_then_refuses_with_retry_after,
    forwarded_for_counts_only_behind_a_trusted_proxy,
    the_per_user_limit_follows_the_user_across_addresses,
    disabled_means_no_limits_and_no_headers,
    login_failures_slow_then_lock_the_pair_but_not_the_real_user,
);

/// Finding 9.4: a configured Redis that cannot be reached (nothing listens on port 1) must not switch
/// the limits off: they are counted in process, and `/metrics` says so.
#[actix_web::test]
async fn an_unreachable_redis_still_limits_in_process_and_says_so() {
    let h = harness(
        Backend::Sqlite,
        &[
            ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "3"),
            ("USER_SERVICE__RATE_LIMIT__REDIS_URL", "redis://127.0.0.1:1"),
        ],
    )
    .await;
    for left in [2, 1, 0] {
        let r = h.send(from("1.2.3.4", "/users/me")).await;
        assert_eq!(
            (r.status, r.code(), num(&r, "x-ratelimit-remaining")),
            (StatusCode::UNAUTHORIZED, "TOKEN_MISSING", left)
        );
    }
    let r = h.send(from("1.2.3.4", "/users/me")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED")
    );
    let metrics = h.send(from("1.2.3.4", "/metrics")).await;
    let text = String::from_utf8_lossy(&metrics.raw).into_owned();
    assert!(text.contains("rate_limit_store_in_process 1"), "{text}");
    let fallbacks: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("rate_limit_store_fallback_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("fallback counter present");
    assert!(fallbacks >= 4, "{fallbacks}");
}
