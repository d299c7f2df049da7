//! Seed 002 (Streamly) moved over unchanged (API.md 7, docs/INTEGRATION.md): its frontend's three
//! requests, with the bodies its document writes, against the real binary on both databases, with
//! `DEFAULT_NAMESPACE` set and unset.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, read, text};

/// The register body of the seed's document, filled in as its README's example does.
const REGISTER: &str = r#"{
  "username": "bob",
  "email": "bob@example.com",
  "password": "supersecret123",
  "first_name": "Bob",
  "last_name": "Builder"
}"#;
const LOGIN_BY_EMAIL: &str = r#"{
  "email": "bob@example.com",
  "password": "supersecret123"
}"#;
const LOGIN_BY_USERNAME: &str = r#"{
  "username": "bob",
  "password": "supersecret123"
}"#;

/// `POST path` with `Content-Type: application/json` and the body as written.
async fn post_raw(s: &Server, path: &str, body: &str) -> (StatusCode, Value) {
    let res = s
        .client
        .post(s.url(path))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    read(res).await
}

/// The claims of a JWT, as the seed's other services decode them.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default()).unwrap_or_default()
}

/// A token response of 2.2 with the account `bob` of namespace `streamly`.
fn assert_bob(status: StatusCode, body: &Value, expected: StatusCode) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    let u = &body["user"];
    assert_eq!(
        (
            text(&u["username"]),
            text(&u["email"]),
            text(&u["first_name"]),
            text(&u["last_name"]),
            text(&u["namespace"]),
        ),
        (
            "bob".into(),
            "bob@example.com".into(),
            "Bob".into(),
            "Builder".into(),
            "streamly".into()
        ),
        "{body}"
    );
    let token = text(&body["access_token"]);
    // "Tokens contain user ID and email", and the tenant for seed 004's services.
    let c = claims(&token);
    assert_eq!(
        (text(&c["sub"]), text(&c["email"]), text(&c["tenant_id"])),
        (text(&u["id"]), "bob@example.com".into(), "streamly".into())
    );
    token
}

async fn the_seed_002_frontend_works_with_default_namespace(backend: Backend) {
    let store = Store::new(backend).await;
    // The documented step: the namespace exists before the app's users register.
    let out = store.cli(&["userspace", "create", "streamly"], &[]).await;
    assert!(out.contains("created namespace streamly"), "{out}");
    let s = store.start(&[("DEFAULT_NAMESPACE", "streamly")]).await;

    let (st, reg) = post_raw(&s, "/api/auth/register", REGISTER).await;
    let token = assert_bob(st, &reg, StatusCode::CREATED);
    let user = reg["user"].clone();
    for body in [LOGIN_BY_EMAIL, LOGIN_BY_USERNAME] {
        let (st, login) = post_raw(&s, "/api/auth/login", body).await;
        assert_bob(st, &login, StatusCode::OK);
        assert_eq!(login["user"], user);
    }
    let (st, me) = s.get_auth("/api/auth/me", &token).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    assert_eq!(me, json!({"data": user}));

    // The seed's rules hold: duplicate usernames and emails and a wrong password are refused.
    for (body, code) in [
        (
            REGISTER.replace("bob@example.com", "robert@example.com"),
            "USERNAME_TAKEN",
        ),
        (REGISTER.replace(r#""bob""#, r#""robert""#), "EMAIL_TAKEN"),
    ] {
        let (st, dup) = post_raw(&s, "/api/auth/register", &body).await;
        assert_eq!(
            (st, text(&dup["error"]["code"])),
            (StatusCode::BAD_REQUEST, code.into()),
            "{body}"
        );
    }
    let (st, wrong) = post_raw(
        &s,
        "/api/auth/login",
        r#"{"email": "bob@example.com", "password": "not-the-password"}"#,
    )
    .await;
    assert_eq!(
        (st, text(&wrong["error"]["code"])),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS".into())
    );
    // The account is an ordinary one of the namespace: the integration routes see it too.
    let (st, root_me) = s.get_auth("/users/me", &token).await;
    assert_eq!((st, &root_me), (StatusCode::OK, &me));
}

async fn without_default_namespace_a_body_without_one_is_400(backend: Backend) {
    let store = Store::new(backend).await;
    store.cli(&["userspace", "create", "streamly"], &[]).await;
    let s = store.start(&[]).await;
    for (path, body) in [
        ("/api/auth/register", REGISTER),
        ("/api/auth/login", LOGIN_BY_EMAIL),
        ("/api/auth/login", LOGIN_BY_USERNAME),
    ] {
        let (st, err) = post_raw(&s, path, body).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {err}");
        assert_eq!(err["error"]["code"], "VALIDATION_ERROR", "{err}");
        assert_eq!(err["error"]["status_code"], 400);
        assert_eq!(
            err["error"]["details"],
            json!([{"field": "namespace", "message": "is required"}]),
            "{path}"
        );
    }
    // Nothing was created by the refused register: with the namespace named, bob is new.
    let named = REGISTER.replacen('{', r#"{"namespace": "streamly","#, 1);
    let (st, reg) = post_raw(&s, "/api/auth/register", &named).await;
    let token = assert_bob(st, &reg, StatusCode::CREATED);
    let (st, me) = s.get_auth("/api/auth/me", &token).await;
    assert_eq!(
        (st, me),
        (StatusCode::OK, json!({"data": reg["user"].clone()}))
    );
}

on_both!(
    the_seed_002_frontend_works_with_default_namespace,
    without_default_namespace_a_body_without_one_is_400,
);
