//! Seed 002's own clients (API.md 7): `/api/auth/register`, `/api/auth/login` and `/api/auth/me`
//! on the handlers of 2.2 and 2.3, `auth.default_namespace` for bodies that name none, and the
//! `email` and `tenant_id` claims of access tokens.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Harness, Reply};
use serde_json::{Value, json};

const PW: &str = "supersecret123";

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The claims of an access token, as a downstream service decodes them.
fn claims(token: &Value) -> Value {
    let payload = s(token).split('.').nth(1).unwrap_or_default().to_owned();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default()).unwrap_or_default()
}

/// A token response (2.2) with the user it names.
fn assert_tokens_with_user(r: &Reply, status: StatusCode, username: &str, namespace: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["token_type"], "bearer", "{}", r.body);
    assert_eq!(
        (
            r.body["expires_in"].as_u64(),
            r.body["refresh_expires_in"].as_u64()
        ),
        (Some(900), Some(2_592_000))
    );
    assert!(
        r.body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43)
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let u = &r.body["user"];
    assert_eq!(
        (s(&u["username"]), s(&u["namespace"])),
        (username.to_owned(), namespace.to_owned()),
        "{}",
        r.body
    );
    assert!(u.get("password_hash").is_none());
    let c = claims(&r.body["access_token"]);
    assert_eq!(
        (s(&c["sub"]), s(&c["tenant_id"])),
        (s(&u["id"]), s(&u["namespace"]))
    );
}

mod configured {
    use super::*;

    /// The seed's register, login by email and by username, and `me`, with the bodies its frontend
    /// sends: the account lands in the default namespace and every answer is the contract's.
    async fn seed_requests_land_in_the_default_namespace(h: Harness) {
        h.namespace("streamly").await;
        let reg = h
            .post(
                "/api/auth/register",
                json!({"username": "bob", "email": "bob@example.com", "password": PW,
                       "first_name": "Bob", "last_name": "Builder"}),
            )
            .await;
        assert_tokens_with_user(&reg, StatusCode::CREATED, "bob", "streamly");
        let user = reg.body["user"].clone();
        assert_eq!(
            (
                s(&user["email"]),
                s(&user["first_name"]),
                s(&user["last_name"])
            ),
            ("bob@example.com".into(), "Bob".into(), "Builder".into())
        );
        assert_eq!(user["roles"], json!(["user"]));
        assert_eq!(user["email_verified"], false);

        for body in [
            json!({"email": "bob@example.com", "password": PW}),
            json!({"username": "bob", "password": PW}),
        ] {
            let r = h.post("/api/auth/login", body.clone()).await;
            assert_tokens_with_user(&r, StatusCode::OK, "bob", "streamly");
            assert_eq!(r.body["user"], user, "{body}");
            let me = h
                .get_auth("/api/auth/me", &s(&r.body["access_token"]))
                .await;
            assert_eq!(me.status, StatusCode::OK, "{}", me.body);
            assert_eq!(me.body, json!({"data": user}));
        }
        let wrong = h
            .post(
                "/api/auth/login",
                json!({"email": "bob@example.com", "password": "wrong-password"}),
            )
            .await;
        assert_eq!(
            (wrong.status, wrong.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
        let dup = h
            .post(
                "/api/auth/register",
                json!({"username": "bob", "email": "other@example.com", "password": PW}),
            )
            .await;
        assert_eq!(
            (dup.status, dup.code()),
            (StatusCode::BAD_REQUEST, "USERNAME_TAKEN")
        );
    }

    /// The default is the namespace of every body that names none, on every path of those routes;
    /// a body that names one keeps it.
    async fn the_default_applies_on_every_path_and_a_named_namespace_wins(h: Harness) {
        h.namespace("streamly").await;
        h.namespace("shop").await;
        let root = h
            .post(
                "/auth/register",
                json!({"username": "carol", "email": "carol@example.com", "password": PW}),
            )
            .await;
        assert_tokens_with_user(&root, StatusCode::CREATED, "carol", "streamly");
        let v1 = h
            .post(
                "/api/v1/auth/login",
                json!({"username": "carol", "password": PW}),
            )
            .await;
        assert_tokens_with_user(&v1, StatusCode::OK, "carol", "streamly");
        let named = h
            .post(
                "/api/auth/register",
                json!({"namespace": "shop", "username": "carol", "email": "carol@example.com",
                       "password": PW}),
            )
            .await;
        assert_tokens_with_user(&named, StatusCode::CREATED, "carol", "shop");
        assert_ne!(named.body["user"]["id"], root.body["user"]["id"]);
        let null = h
            .post(
                "/auth/login",
                json!({"namespace": null, "username": "carol", "password": PW}),
            )
            .await;
        assert_tokens_with_user(&null, StatusCode::OK, "carol", "streamly");
        // A named namespace is judged as before: malformed at register is 400, at login 401.
        let bad = h
            .post(
                "/api/auth/register",
                json!({"namespace": "Not A Slug", "username": "dave", "password": PW}),
            )
            .await;
        bad.assert_invalid("namespace", "malformed namespace at register");
        let bad = h
            .post(
                "/api/auth/login",
                json!({"namespace": "Not A Slug", "username": "carol", "password": PW}),
            )
            .await;
        assert_eq!(
            (bad.status, bad.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
        // A password reset asked for without a namespace is one of the default namespace's: the
        // one mail goes to the address's account there, not to the other namespace's.
        assert_eq!(
            h.mails().await.len(),
            2,
            "the two registrations' verifications"
        );
        let reset = h
            .post(
                "/auth/password-reset/request",
                json!({"email": "carol@example.com"}),
            )
            .await;
        assert_eq!(reset.status, StatusCode::ACCEPTED, "{}", reset.body);
        assert!(reset.body["data"]["message"].is_string());
        let sent = h.mails().await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].mail.to, "carol@example.com");
        assert!(
            sent[0].mail.subject.contains("streamly") && !sent[0].mail.subject.contains("shop"),
            "{}",
            sent[0].mail.subject
        );
    }

    /// `email` when the account has one, `tenant_id` always: in the tokens of register, login,
    /// refresh and change-password alike.
    async fn access_tokens_claim_email_and_tenant_id(h: Harness) {
        h.namespace("streamly").await;
        let with = h
            .post(
                "/api/auth/register",
                json!({"username": "erin", "email": "Erin@Example.com", "password": PW}),
            )
            .await;
        assert_eq!(with.status, StatusCode::CREATED, "{}", with.body);
        let c = claims(&with.body["access_token"]);
        assert_eq!(
            (s(&c["email"]), s(&c["tenant_id"]), s(&c["namespace"])),
            (
                s(&with.body["user"]["email"]),
                "streamly".into(),
                "streamly".into()
            )
        );
        let without = h
            .post(
                "/api/auth/register",
                json!({"username": "frank", "password": PW}),
            )
            .await;
        assert_eq!(without.status, StatusCode::CREATED, "{}", without.body);
        let c = claims(&without.body["access_token"]);
        assert!(c.get("email").is_none(), "{c}");
        assert_eq!(s(&c["tenant_id"]), "streamly");
        let refreshed = h
            .post(
                "/auth/refresh",
                json!({"refresh_token": with.body["refresh_token"]}),
            )
            .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
        let c = claims(&refreshed.body["access_token"]);
        assert_eq!(
            (s(&c["email"]), s(&c["tenant_id"])),
            (s(&with.body["user"]["email"]), "streamly".into())
        );
    }

    /// The default names a namespace nobody created: registering says so, logging in says nothing.
    async fn a_default_namespace_that_does_not_exist(h: Harness) {
        let r = h
            .post(
                "/api/auth/register",
                json!({"username": "bob", "email": "bob@example.com", "password": PW}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, "NAMESPACE_NOT_FOUND")
        );
        let r = h
            .post(
                "/api/auth/login",
                json!({"email": "bob@example.com", "password": PW}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS")
        );
    }

    on_both!(env: &[("DEFAULT_NAMESPACE", "streamly")];
        seed_requests_land_in_the_default_namespace,
        the_default_applies_on_every_path_and_a_named_namespace_wins,
        access_tokens_claim_email_and_tenant_id,
        a_default_namespace_that_does_not_exist,
    );
}

mod unconfigured {
    use super::*;

    /// Without `auth.default_namespace`, a body without `namespace` is 400 on `namespace`, on the seed's
    /// paths as on the others; with one, the seed's paths work in any namespace.
    async fn a_body_without_namespace_is_400_on_namespace(h: Harness) {
        h.namespace("streamly").await;
        for (path, body) in [
            (
                "/api/auth/register",
                json!({"username": "bob", "email": "bob@example.com", "password": PW}),
            ),
            (
                "/auth/register",
                json!({"username": "bob", "email": "bob@example.com", "password": PW}),
            ),
            (
                "/api/auth/login",
                json!({"email": "bob@example.com", "password": PW}),
            ),
            (
                "/api/v1/auth/login",
                json!({"username": "bob", "password": PW}),
            ),
            (
                "/auth/password-reset/request",
                json!({"email": "bob@example.com"}),
            ),
        ] {
            let r = h.post(path, body).await;
            r.assert_invalid("namespace", path);
            assert_eq!(r.body["error"]["details"][0]["message"], "is required");
        }
        let reg = h
            .post(
                "/api/auth/register",
                json!({"namespace": "streamly", "username": "bob", "email": "bob@example.com",
                       "password": PW}),
            )
            .await;
        assert_tokens_with_user(&reg, StatusCode::CREATED, "bob", "streamly");
        let login = h
            .post(
                "/api/auth/login",
                json!({"namespace": "streamly", "email": "bob@example.com", "password": PW}),
            )
            .await;
        assert_tokens_with_user(&login, StatusCode::OK, "bob", "streamly");
    }

    /// `/api/auth/me` is `GET /users/me`: the same 401s, and only GET.
    async fn api_auth_me_is_get_users_me(h: Harness) {
        let none = h.send(TestRequest::get().uri("/api/auth/me")).await;
        assert_eq!(
            (none.status, none.code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
        );
        assert_eq!(none.header("www-authenticate"), Some("Bearer"));
        let junk = h.get_auth("/api/auth/me", "not-a-token").await;
        assert_eq!(
            (junk.status, junk.code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
        );
        let patch = h
            .send(
                TestRequest::patch()
                    .uri("/api/auth/me")
                    .set_json(json!({"first_name": "Bob"})),
            )
            .await;
        assert_eq!(
            (patch.status, patch.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
        );
        // Not mirrored under /api/v1: it is seed 002's path, not the contract's.
        let v1 = h.send(TestRequest::get().uri("/api/v1/api/auth/me")).await;
        assert_eq!((v1.status, v1.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"));
    }

    on_both!(
        a_body_without_namespace_is_400_on_namespace,
        api_auth_me_is_get_users_me,
    );
}
