//! `/auth/*`: register, login, refresh rotation and reuse, logout, logout-all, change-password.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::{Backend, Harness};
use serde_json::{Value, json};

const PW: &str = "supersecret123";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

async fn register_returns_tokens_and_the_user(h: Harness) {
    h.namespace("shop").await;
    let r = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "Alice", "password": PW, "email": "alice@example.com",
                   "first_name": "Alice", "last_name": "O'Hara", "phone": "+14155550123", "extra": {"tz": "UTC"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let b = &r.body;
    assert_eq!(b["token_type"], "bearer");
    assert_eq!(
        (b["expires_in"].as_u64(), b["refresh_expires_in"].as_u64()),
        (Some(900), Some(2_592_000))
    );
    assert!(
        b["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    assert!(b["refresh_token"].as_str().is_some_and(|t| t.len() >= 43));
    let u = &b["user"];
    assert_eq!(
        (s(&u["username"]), s(&u["namespace"]), s(&u["email"])),
        ("Alice".into(), "shop".into(), "alice@example.com".into())
    );
    assert_eq!(
        (s(&u["first_name"]), s(&u["last_name"]), s(&u["phone"])),
        ("Alice".into(), "O'Hara".into(), "+14155550123".into())
    );
    assert_eq!(u["extra"], json!({"tz": "UTC"}));
    assert_eq!(u["roles"], json!(["user"]));
    assert_eq!(u["is_active"], true);
    assert_eq!(u["avatar_url"], Value::Null);
    assert!(u.get("password_hash").is_none() && u.get("token_version").is_none());
    assert!(uuid::Uuid::parse_str(&s(&u["id"])).is_ok_and(|id| id.get_version_num() == 7));

    // The token works at once.
    let me = h.get_auth("/users/me", &s(&b["access_token"])).await;
    assert_eq!(
        (me.status, s(&me.body["data"]["id"])),
        (StatusCode::OK, s(&u["id"]))
    );
}

async fn register_refuses_duplicates_unknown_namespaces_and_bad_passwords(h: Harness) {
    h.namespace("shop").await;
    h.namespace("other").await;
    h.post(
        "/auth/register",
        json!({"namespace": "shop", "username": "alice", "password": PW, "email": "a@x.io"}),
    )
    .await;
    let cases = [
        (
            json!({"namespace": "shop", "username": "ALICE", "password": PW}),
            StatusCode::BAD_REQUEST,
            "USERNAME_TAKEN",
        ),
        (
            json!({"namespace": "shop", "username": "bob", "password": PW, "email": "A@X.io"}),
            StatusCode::BAD_REQUEST,
            "EMAIL_TAKEN",
        ),
        (
            json!({"namespace": "nowhere", "username": "bob", "password": PW}),
            StatusCode::NOT_FOUND,
            "NAMESPACE_NOT_FOUND",
        ),
        (
            json!({"namespace": "shop", "username": "bob", "password": "short"}),
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_SHORT",
        ),
        (
            json!({"namespace": "shop", "username": "bob", "password": "x".repeat(73)}),
            StatusCode::BAD_REQUEST,
            "PASSWORD_TOO_LONG",
        ),
        (
            json!({"namespace": "shop", "username": "b b", "password": PW}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            json!({"namespace": "shop", "username": "bob", "password": PW, "phone": "12"}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            json!({"namespace": "shop", "username": "bob", "password": PW, "extra": {"k": 1}}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            json!({"namespace": "shop", "username": "bob", "password": PW, "nickname": "typo"}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
        (
            json!({"namespace": "shop", "password": PW}),
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        ),
    ];
    for (body, status, code) in cases {
        let r = h.post("/auth/register", body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}");
    }
    // Several bad fields are all reported.
    let r = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "", "password": "short", "email": "nope"}),
        )
        .await;
    let fields: Vec<String> = r.body["error"]["details"]
        .as_array()
        .map(|d| d.iter().map(|x| s(&x["field"])).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["username", "password", "email"]);
    // The same username in another namespace is another user.
    h.register("other", "alice", PW).await;
}

async fn login_by_username_or_email_and_one_answer_for_every_failure(h: Harness) {
    h.namespace("shop").await;
    h.post("/auth/register", json!({"namespace": "shop", "username": "alice", "password": PW, "email": "alice@example.com"})).await;
    for body in [
        json!({"namespace": "shop", "username": "alice", "password": PW}),
        json!({"namespace": "shop", "username": "ALICE", "password": PW}),
        json!({"namespace": "shop", "email": "Alice@Example.com", "password": PW}),
    ] {
        let r = h.post("/auth/login", body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
        assert_eq!(r.body["token_type"], "bearer");
        // Seed 002's clients read the account from a login (API.md 7); the others ignore it.
        assert_eq!(
            (s(&r.body["user"]["username"]), s(&r.body["user"]["email"])),
            ("alice".into(), "alice@example.com".into())
        );
    }
    for body in [
        json!({"namespace": "shop", "username": "alice", "password": "wrong-password"}),
        json!({"namespace": "shop", "username": "nobody", "password": PW}),
        json!({"namespace": "nowhere", "username": "alice", "password": PW}),
        json!({"namespace": "NOT A SLUG", "username": "alice", "password": PW}),
        json!({"namespace": "shop", "username": "alice", "password": "x".repeat(100)}),
    ] {
        let r = h.post("/auth/login", body.clone()).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS"),
            "{body}"
        );
        assert_eq!(r.body["error"]["message"], "invalid credentials");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
}

async fn refresh_rotates_and_a_spent_token_within_the_leeway_still_works(h: Harness) {
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    let first = s(&reg["refresh_token"]);
    let a = h
        .post("/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_ne!(s(&a.body["refresh_token"]), first);
    assert_ne!(s(&a.body["access_token"]), s(&reg["access_token"]));
    // A second tab presents the same token a moment later: it gets its own pair; both stay valid.
    let b = h
        .post("/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(b.status, StatusCode::OK);
    for t in [s(&a.body["refresh_token"]), s(&b.body["refresh_token"])] {
        let r = h.post("/auth/refresh", json!({"refresh_token": t})).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let junk = h
        .post("/auth/refresh", json!({"refresh_token": "not-a-token"}))
        .await;
    assert_eq!(
        (junk.status, junk.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
}

/// One spent token replayed ten times inside the leeway: the family keeps at most five live refresh
/// tokens (the newest), and an ending of the sessions afterwards leaves none of them refreshing.
async fn replays_inside_the_leeway_leave_at_most_five_live_tokens_and_end_with_the_sessions(
    h: Harness,
) {
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    let spent = s(&reg["refresh_token"]);
    let first = h
        .post("/auth/refresh", json!({"refresh_token": spent}))
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let mut issued = vec![s(&first.body["refresh_token"])];
    for _ in 0..10 {
        // A second apart (ten in all, inside the 30 s leeway), so "oldest" is well defined.
        h.advance(1);
        let r = h
            .post("/auth/refresh", json!({"refresh_token": spent}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        issued.push(s(&r.body["refresh_token"]));
    }
    let mut live = Vec::new();
    let mut successors = Vec::new();
    for (i, t) in issued.iter().enumerate() {
        let r = h.post("/auth/refresh", json!({"refresh_token": t})).await;
        if r.status == StatusCode::OK {
            live.push(i);
            successors.push(s(&r.body["refresh_token"]));
        } else {
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
            );
        }
    }
    assert_eq!(live, [6, 7, 8, 9, 10], "the five newest stay live");

    // Logout-all ends every one of them, including the successors and the spent token's leeway.
    let me = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    let out = h
        .send(TestRequest::post().uri("/auth/logout-all").insert_header((
            "Authorization",
            format!("Bearer {}", s(&me.body["access_token"])),
        )))
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    for t in successors.iter().chain(&issued).chain([&spent]) {
        let r = h.post("/auth/refresh", json!({"refresh_token": t})).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
        );
    }
}

async fn logout_revokes_the_login_and_logout_all_makes_every_token_stale(h: Harness) {
    h.namespace("shop").await;
    let one = h.register("shop", "alice", PW).await;
    let two = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await
        .body;

    let out = h
        .post(
            "/auth/logout",
            json!({"refresh_token": s(&one["refresh_token"])}),
        )
        .await;
    assert_eq!(
        (out.status, out.body.clone()),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let r = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&one["refresh_token"])}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    // The other login is untouched.
    let r = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&two["refresh_token"])}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let access = s(&r.body["access_token"]);
    let refresh = s(&r.body["refresh_token"]);
    // Logging out an unknown token tells nothing.
    assert_eq!(
        h.post("/auth/logout", json!({"refresh_token": "unknown"}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );

    let all = h
        .send(
            TestRequest::post()
                .uri("/auth/logout-all")
                .insert_header(("Authorization", format!("Bearer {access}"))),
        )
        .await;
    assert_eq!(all.status, StatusCode::NO_CONTENT);
    let me = h.get_auth("/users/me", &access).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
    let r = h
        .post("/auth/refresh", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    let unauth = h.send(TestRequest::post().uri("/auth/logout-all")).await;
    assert_eq!(
        (unauth.status, unauth.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );
}

async fn change_password_needs_the_current_one_and_makes_other_tokens_stale(h: Harness) {
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    let access = s(&reg["access_token"]);
    let change = |current: &str, new: &str| {
        TestRequest::post()
            .uri("/auth/change-password")
            .insert_header(("Authorization", format!("Bearer {access}")))
            .set_json(json!({"current_password": current, "new_password": new}))
    };
    let wrong = h.send(change("not-my-password", "another-secret-1")).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::BAD_REQUEST, "WRONG_PASSWORD")
    );
    let short = h.send(change(PW, "short")).await;
    assert_eq!(
        (short.status, short.code()),
        (StatusCode::BAD_REQUEST, "PASSWORD_TOO_SHORT")
    );

    let ok = h.send(change(PW, "another-secret-1")).await;
    assert_eq!(ok.status, StatusCode::OK);
    let fresh = s(&ok.body["access_token"]);
    assert_eq!(h.get_auth("/users/me", &fresh).await.status, StatusCode::OK);
    let stale = h.get_auth("/users/me", &access).await;
    assert_eq!(
        (stale.status, stale.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
    let old_refresh = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&reg["refresh_token"])}),
        )
        .await;
    assert_eq!(old_refresh.status, StatusCode::UNAUTHORIZED);
    let old_pw = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(old_pw.status, StatusCode::UNAUTHORIZED);
    let new_pw = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": "another-secret-1"}),
        )
        .await;
    assert_eq!(new_pw.status, StatusCode::OK);
}

/// bcrypt uses 72 bytes, so the contract allows exactly 72 (and refuses 73 as too long) everywhere a
/// password is set; every one of the 72 bytes counts at login.
async fn passwords_of_exactly_72_bytes_work_everywhere_and_73_are_too_long(h: Harness) {
    let key = h.namespace("shop").await;
    // Multi-byte characters too: the limit is in bytes, not characters.
    let pw72 = "ä".repeat(30) + &"x".repeat(12);
    let other72 = "y".repeat(72);
    let pw73 = "x".repeat(73);
    assert_eq!((pw72.len(), other72.len(), pw73.len()), (72, 72, 73));
    let login = |pw: &str| {
        h.post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": pw}),
        )
    };

    let reg = h.register("shop", "alice", &pw72).await;
    assert_eq!(reg["user"]["username"], "alice");
    let ok = login(&pw72).await;
    assert_eq!(
        (ok.status, ok.body["token_type"].clone()),
        (StatusCode::OK, json!("bearer"))
    );
    // The 72nd byte is not cut off: changing only it is a wrong password.
    let last_changed = "ä".repeat(30) + &"x".repeat(11) + "z";
    let wrong = login(&last_changed).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
    );

    let change = |new: &str| {
        TestRequest::post()
            .uri("/auth/change-password")
            .insert_header((
                "Authorization",
                format!("Bearer {}", s(&ok.body["access_token"])),
            ))
            .set_json(json!({"current_password": pw72, "new_password": new}))
    };
    let too_long = h.send(change(&pw73)).await;
    assert_eq!(
        (too_long.status, too_long.code()),
        (StatusCode::BAD_REQUEST, "PASSWORD_TOO_LONG")
    );
    let changed = h.send(change(&other72)).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert!(
        changed.body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    assert_eq!(login(&other72).await.status, StatusCode::OK);

    let create = |username: &str, pw: &str| {
        TestRequest::post()
            .uri("/api/v1/users")
            .insert_header(("X-API-Key", key.clone()))
            .set_json(json!({"username": username, "email": format!("{username}@example.com"), "password": pw}))
    };
    let created = h.send(create("bob", &pw72)).await;
    assert_eq!(
        (created.status, created.body["data"]["username"].clone()),
        (StatusCode::CREATED, json!("bob"))
    );
    let bob = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "bob", "password": pw72}),
        )
        .await;
    assert_eq!(bob.status, StatusCode::OK);
    let refused = h.send(create("carol", &pw73)).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_REQUEST, "PASSWORD_TOO_LONG")
    );
    let reg73 = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "dave", "password": pw73}),
        )
        .await;
    assert_eq!(
        (reg73.status, reg73.code()),
        (StatusCode::BAD_REQUEST, "PASSWORD_TOO_LONG")
    );
}

async fn integration_routes_are_also_served_under_api_v1(h: Harness) {
    let r = h
        .post("/api/v1/userspaces", json!({"namespace": "shop"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let reg = h
        .post(
            "/api/v1/auth/register",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED);
    let me = h
        .get_auth("/api/v1/users/me", &s(&reg.body["access_token"]))
        .await;
    assert_eq!(
        (me.status, s(&me.body["data"]["username"])),
        (StatusCode::OK, "alice".into())
    );
}

on_both!(
    register_returns_tokens_and_the_user,
    register_refuses_duplicates_unknown_namespaces_and_bad_passwords,
    login_by_username_or_email_and_one_answer_for_every_failure,
    refresh_rotates_and_a_spent_token_within_the_leeway_still_works,
    replays_inside_the_leeway_leave_at_most_five_live_tokens_and_end_with_the_sessions,
    logout_revokes_the_login_and_logout_all_makes_every_token_stale,
    change_password_needs_the_current_one_and_makes_other_tokens_stale,
    passwords_of_exactly_72_bytes_work_everywhere_and_73_are_too_long,
    integration_routes_are_also_served_under_api_v1,
);

#[actix_web::test]
async fn a_spent_token_presented_after_the_leeway_revokes_the_whole_login() {
    let h = Harness::new(
        Backend::Sqlite,
        &[("USER_SERVICE__AUTH__REFRESH_REUSE_LEEWAY_SECS", "0")],
    )
    .await;
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    let first = s(&reg["refresh_token"]);
    let next = h
        .post("/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(next.status, StatusCode::OK);
    h.advance(2);
    let replay = h
        .post("/auth/refresh", json!({"refresh_token": first}))
        .await;
    assert_eq!(
        (replay.status, replay.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    // The thief's replay also ended the legitimate holder's newer token of that login.
    let victim = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": s(&next.body["refresh_token"])}),
        )
        .await;
    assert_eq!(
        (victim.status, victim.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
}

#[actix_web::test]
async fn an_expired_access_token_is_token_expired() {
    let h = Harness::new(
        Backend::Sqlite,
        &[("USER_SERVICE__AUTH__ACCESS_TTL_SECS", "0")],
    )
    .await;
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    // Within the 5 s leeway the token is still good.
    assert_eq!(
        h.get_auth("/users/me", &s(&reg["access_token"]))
            .await
            .status,
        StatusCode::OK
    );
    h.advance(7);
    let r = h.get_auth("/users/me", &s(&reg["access_token"])).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED")
    );
}
