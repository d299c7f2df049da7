//! Ending sessions is final (API.md 2.2; issue 9, finding 2), through the real binary on both
//! databases: replays of a spent token inside the reuse leeway cannot multiply the login, and a client
//! replaying one in a loop while the user logs out everywhere keeps no token that refreshes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, text};

const PW: &str = "supersecret123";

async fn refresh(s: &Server, token: &str) -> (StatusCode, Value) {
    s.post("/auth/refresh", &json!({"refresh_token": token}))
        .await
}

/// A namespace, a registered user, and that login's first token spent once: returns the spent token
/// (inside its leeway now), its successor and an access token.
async fn spent_login(s: &Server) -> (String, String, String) {
    s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let (st, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reg}");
    let spent = text(&reg["refresh_token"]);
    let (st, next) = refresh(s, &spent).await;
    assert_eq!(st, StatusCode::OK, "{next}");
    (
        spent,
        text(&next["refresh_token"]),
        text(&next["access_token"]),
    )
}

async fn ten_replays_inside_the_leeway_leave_at_most_five_live_tokens(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let (spent, successor, _) = spent_login(&s).await;
    let mut issued = vec![successor];
    for _ in 0..10 {
        let (st, pair) = refresh(&s, &spent).await;
        assert_eq!(st, StatusCode::OK, "{pair}");
        issued.push(text(&pair["refresh_token"]));
    }
    let mut live = 0;
    for t in &issued {
        let (st, body) = refresh(&s, t).await;
        match st {
            StatusCode::OK => live += 1,
            _ => assert_eq!(
                (st, text(&body["error"]["code"])),
                (StatusCode::UNAUTHORIZED, "TOKEN_INVALID".to_owned())
            ),
        }
    }
    // The replays happen milliseconds apart, so the newest five are the ones left.
    assert_eq!(live, 5, "of {} tokens issued to one login", issued.len());
    s.stop().await;
}

async fn replays_racing_a_logout_everywhere_keep_no_token_that_refreshes(backend: Backend) {
    let store = Store::new(backend).await;
    let s = Arc::new(store.start(&[]).await);
    let (spent, successor, access) = spent_login(&s).await;
    let stop = Arc::new(AtomicBool::new(false));
    // Two clients replaying the spent token as fast as they can, keeping every token they get.
    let replayers: Vec<_> = (0..2)
        .map(|_| {
            let (s, stop, spent) = (Arc::clone(&s), Arc::clone(&stop), spent.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut rounds = 0;
                // Keep going a while after the logout, so replays land on both sides of it.
                while !stop.load(Ordering::Acquire) || rounds < 20 {
                    let (st, pair) = refresh(&s, &spent).await;
                    if st == StatusCode::OK {
                        got.push(text(&pair["refresh_token"]));
                    }
                    if stop.load(Ordering::Acquire) {
                        rounds += 1;
                    }
                }
                got
            })
        })
        .collect();
    // At least one replay succeeds before the ending.
    let (st, before) = refresh(&s, &spent).await;
    assert_eq!(st, StatusCode::OK, "{before}");
    let res = s
        .client
        .post(s.url("/auth/logout-all"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("logout-all");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    stop.store(true, Ordering::Release);
    let mut tokens = vec![spent, successor, text(&before["refresh_token"])];
    for r in replayers {
        tokens.extend(r.await.expect("replayer"));
    }
    for t in &tokens {
        let (st, body) = refresh(&s, t).await;
        assert_eq!(
            (st, text(&body["error"]["code"])),
            (StatusCode::UNAUTHORIZED, "TOKEN_INVALID".to_owned()),
            "a token survived logout-all"
        );
    }
    // The access token of before is stale too.
    let (st, body) = s.get_auth("/users/me", &access).await;
    assert_eq!(
        (st, text(&body["error"]["code"])),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE".to_owned())
    );
    if let Ok(s) = Arc::try_unwrap(s) {
        s.stop().await;
    }
}

on_both!(
    ten_replays_inside_the_leeway_leave_at_most_five_live_tokens,
    replays_racing_a_logout_everywhere_keep_no_token_that_refreshes,
);
