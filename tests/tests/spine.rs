//! The integration flow and the spine's guarantees, through the real binary on both databases.

use futures_util::future::join_all;
use serde_json::json;
use user_service_e2e::{Backend, StatusCode, Store, on_both, text};

const PW: &str = "supersecret123";

async fn the_integration_flow(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let (st, ns) = s
        .post(
            "/userspaces",
            &json!({"namespace": "my-new-site", "name": "My New Site"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ns}");
    let (st, reg) = s
        .post("/auth/register", &json!({"namespace": "my-new-site", "username": "alice", "password": PW, "email": "alice@example.com"}))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reg}");
    let (st, me) = s.get_auth("/users/me", &text(&reg["access_token"])).await;
    assert_eq!(
        (st, text(&me["data"]["email"])),
        (StatusCode::OK, "alice@example.com".to_owned())
    );
    let (st, login) = s
        .post(
            "/auth/login",
            &json!({"namespace": "my-new-site", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, refreshed) = s
        .post(
            "/auth/refresh",
            &json!({"refresh_token": text(&login["refresh_token"])}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .get_auth("/users/me", &text(&refreshed["access_token"]))
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = s
        .post(
            "/auth/logout",
            &json!({"refresh_token": text(&refreshed["refresh_token"])}),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, err) = s
        .post(
            "/auth/refresh",
            &json!({"refresh_token": text(&refreshed["refresh_token"])}),
        )
        .await;
    assert_eq!(
        (st, text(&err["error"]["code"])),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID".to_owned())
    );
    s.stop().await;
}

async fn a_restart_loses_no_user(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let (st, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    s.kill().await;

    let s = store.start(&[]).await;
    let (st, login) = s
        .post(
            "/auth/login",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{login}");
    let (st, me) = s.get_auth("/users/me", &text(&login["access_token"])).await;
    assert_eq!(
        (st, me["data"]["id"].clone()),
        (StatusCode::OK, reg["user"]["id"].clone())
    );
    // Tokens issued before the restart are still good.
    let (st, _) = s.get_auth("/users/me", &text(&reg["access_token"])).await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

async fn two_tabs_refreshing_one_token_at_once_both_stay_logged_in(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let (_, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    let token = json!({"refresh_token": text(&reg["refresh_token"])});
    let (a, b) = tokio::join!(
        s.post("/auth/refresh", &token),
        s.post("/auth/refresh", &token)
    );
    assert_eq!(
        (a.0, b.0),
        (StatusCode::OK, StatusCode::OK),
        "{} {}",
        a.1,
        b.1
    );
    assert_ne!(a.1["refresh_token"], b.1["refresh_token"]);
    for tab in [a.1, b.1] {
        let (st, _) = s.get_auth("/users/me", &text(&tab["access_token"])).await;
        assert_eq!(st, StatusCode::OK);
        let (st, next) = s
            .post(
                "/auth/refresh",
                &json!({"refresh_token": text(&tab["refresh_token"])}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{next}");
    }
    s.stop().await;
}

async fn fifty_concurrent_registrations_of_one_username_make_one_account(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let attempts = (0..50).map(|i| {
        let body = json!({"namespace": "shop", "username": if i % 2 == 0 { "alice" } else { "ALICE" }, "password": PW});
        let s = &s;
        async move { s.post("/auth/register", &body).await }
    });
    let results = join_all(attempts).await;
    let created = results
        .iter()
        .filter(|(st, _)| *st == StatusCode::CREATED)
        .count();
    let taken = results
        .iter()
        .filter(|(st, b)| *st == StatusCode::BAD_REQUEST && b["error"]["code"] == "USERNAME_TAKEN")
        .count();
    assert_eq!(
        (created, taken),
        (1, 49),
        "{:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    let (st, _) = s
        .post(
            "/auth/login",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

on_both!(
    the_integration_flow,
    a_restart_loses_no_user,
    two_tabs_refreshing_one_token_at_once_both_stay_logged_in,
    fifty_concurrent_registrations_of_one_username_make_one_account,
);
