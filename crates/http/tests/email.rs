//! API.md 2.4: password reset and email verification, at the root and under `/api/v1`, with the
//! mails read from the outbox the request wrote them to.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use common::Harness;
use serde_json::{Value, json};
use user_service_domain::model::OutboxMail;

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "a brand new secret";

/// The link of a mail, from its text body.
fn link(mail: &OutboxMail) -> String {
    mail.mail
        .text_body
        .split_whitespace()
        .find(|w| w.contains("token="))
        .expect("the mail has a link")
        .to_owned()
}

fn token_of(link: &str) -> String {
    link.rsplit_once("token=")
        .map(|(_, t)| t.to_owned())
        .expect("a token")
}

async fn register(h: &Harness, ns: &str, username: &str, email: &str) -> Value {
    let r = h
        .post(
            "/auth/register",
            json!({"namespace": ns, "username": username, "password": PASSWORD, "email": email}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn login(h: &Harness, ns: &str, username: &str, password: &str) -> (StatusCode, Value) {
    let r = h
        .post(
            "/auth/login",
            json!({"namespace": ns, "username": username, "password": password}),
        )
        .await;
    (r.status, r.body)
}

async fn a_reset_sets_the_password_and_ends_every_other_session(h: Harness) {
    h.namespace("shop").await;
    let registered = register(&h, "shop", "alice", "alice@example.com").await;
    assert_eq!(registered["user"]["email_verified"], false);
    let verification = h.mails().await;
    assert_eq!(
        verification.len(),
        1,
        "the registration's verification mail"
    );
    let (_, other_session) = login(&h, "shop", "alice", PASSWORD).await;

    let r = h
        .post(
            "/auth/password-reset/request",
            json!({"namespace": "shop", "email": "ALICE@example.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let accepted = r.body.clone();
    let sent = h.mails().await;
    assert_eq!(sent.len(), 1);
    let mail = &sent[0].mail;
    assert_eq!(mail.to, "alice@example.com");
    assert!(mail.subject.contains("shop"), "{}", mail.subject);
    assert!(mail.html_body.contains("href="), "{}", mail.html_body);
    let link = link(&sent[0]);
    assert!(
        link.starts_with("http://127.0.0.1:8080/auth/password-reset?token="),
        "{link}"
    );
    let token = token_of(&link);
    assert!(token.len() >= 43, "256 bits in base64url: {token}");

    // Unknown address, unknown namespace: the same answer, and no mail.
    for body in [
        json!({"namespace": "shop", "email": "nobody@example.com"}),
        json!({"namespace": "no-such-shop", "email": "alice@example.com"}),
    ] {
        let r = h.post("/auth/password-reset/request", body).await;
        assert_eq!((r.status, &r.body), (StatusCode::ACCEPTED, &accepted));
    }
    assert!(h.mails().await.is_empty());

    let short = h
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (short.status, short.code()),
        (StatusCode::BAD_REQUEST, "PASSWORD_TOO_SHORT")
    );
    let r = h
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let fresh = r.body["access_token"].as_str().expect("access token");
    assert_eq!(h.get_auth("/users/me", fresh).await.status, StatusCode::OK);
    // The link reached the address: it is verified now.
    assert_eq!(
        h.get_auth("/users/me", fresh).await.body["data"]["email_verified"],
        true
    );

    // Single use.
    let again = h
        .post(
            "/auth/password-reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::BAD_REQUEST, "EMAIL_TOKEN_INVALID")
    );
    // Every other session ended: its access token is stale, its refresh token dead.
    let stale = h
        .get_auth(
            "/users/me",
            other_session["access_token"].as_str().unwrap_or_default(),
        )
        .await;
    assert_eq!(
        (stale.status, stale.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_STALE")
    );
    let refresh = h
        .post(
            "/auth/refresh",
            json!({"refresh_token": other_session["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&h, "shop", "alice", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&h, "shop", "alice", NEW_PASSWORD).await.0,
        StatusCode::OK
    );
}

async fn three_mails_an_hour_per_address_and_purpose_then_silence(h: Harness) {
    h.namespace("shop").await;
    register(&h, "shop", "alice", "alice@example.com").await;
    h.mails().await;
    let mut tokens = Vec::new();
    for n in 0..5 {
        let r = h
            .post(
                "/auth/password-reset/request",
                json!({"namespace": "shop", "email": "alice@example.com"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "request {n}");
        tokens.extend(h.mails().await.iter().map(|m| token_of(&link(m))));
    }
    assert_eq!(tokens.len(), 3);
    // A newer token replaced the older ones.
    let confirm = |t: &str| {
        h.post(
            "/auth/password-reset/confirm",
            json!({"token": t, "new_password": NEW_PASSWORD}),
        )
    };
    assert_eq!(confirm(&tokens[0]).await.code(), "EMAIL_TOKEN_INVALID");
    assert_eq!(confirm(&tokens[2]).await.status, StatusCode::OK);
    // An hour later the address may have mails again; an expired token is refused.
    h.advance(3601);
    h.post(
        "/auth/password-reset/request",
        json!({"namespace": "shop", "email": "alice@example.com"}),
    )
    .await;
    let later = h.mails().await;
    assert_eq!(later.len(), 1);
    h.advance(30 * 60);
    assert_eq!(
        confirm(&token_of(&link(&later[0]))).await.code(),
        "EMAIL_TOKEN_INVALID"
    );
}

async fn the_verification_link_page_verifies_the_address(h: Harness) {
    h.namespace("shop").await;
    let reg = register(&h, "shop", "bob", "bob@example.com").await;
    let access = reg["access_token"].as_str().unwrap_or_default().to_owned();
    let sent = h.mails().await;
    let link = link(&sent[0]);
    assert!(
        link.starts_with("http://127.0.0.1:8080/auth/verify-email?token="),
        "{link}"
    );
    assert!(sent[0].mail.subject.contains("shop"));
    let path = link.trim_start_matches("http://127.0.0.1:8080");
    let page = h.send(TestRequest::get().uri(path)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert!(html.contains("bob@example.com"), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert_eq!(csp, user_service_http::pages::content_security_policy());
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let me = h.get_auth("/users/me", &access).await;
    assert_eq!(me.body["data"]["email_verified"], true);
    // Used: the page says so, with 400.
    let again = h.send(TestRequest::get().uri(path)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let none = h
        .send(TestRequest::get().uri("/api/v1/auth/verify-email"))
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
}

async fn verification_requests_and_json_confirmation(h: Harness) {
    h.namespace("shop").await;
    let no_email = h.register("shop", "carol", PASSWORD).await;
    let carol = no_email["access_token"].as_str().unwrap_or_default();
    let r = h
        .send(
            TestRequest::post()
                .uri("/auth/verify-email/request")
                .insert_header(("Authorization", format!("Bearer {carol}"))),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let unauthenticated = h
        .send(TestRequest::post().uri("/auth/verify-email/request"))
        .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);

    // An email set later is unverified and gets its mail; a request sends another.
    let patched = h
        .send(
            TestRequest::patch()
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {carol}")))
                .set_json(json!({"email": "carol@example.com"})),
        )
        .await;
    assert_eq!(patched.body["data"]["email_verified"], false);
    assert_eq!(h.mails().await.len(), 1);
    let r = h
        .send(
            TestRequest::post()
                .uri("/api/v1/auth/verify-email/request")
                .insert_header(("Authorization", format!("Bearer {carol}"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let sent = h.mails().await;
    assert_eq!(sent.len(), 1);
    let r = h
        .post(
            "/auth/verify-email/confirm",
            json!({"token": token_of(&link(&sent[0]))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["email_verified"], true);
    assert_eq!(r.body["data"]["email"], "carol@example.com");
    let bad = h
        .post("/auth/verify-email/confirm", json!({"token": "made-up"}))
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "EMAIL_TOKEN_INVALID")
    );
    // Changing the address again takes the verification away.
    let moved = h
        .send(
            TestRequest::patch()
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {carol}")))
                .set_json(json!({"email": "carol@elsewhere.example"})),
        )
        .await;
    assert_eq!(moved.body["data"]["email_verified"], false);
    assert_eq!(h.mails().await[0].mail.to, "carol@elsewhere.example");
}

async fn namespace_settings_shape_links_and_logins(h: Harness) {
    let key = h.namespace("shop").await;
    let other_key = h.namespace("elsewhere").await;
    let patch = |key: &str, body: Value| {
        h.send(
            TestRequest::patch()
                .uri("/userspaces/shop")
                .insert_header(("X-API-Key", key.to_owned()))
                .set_json(body),
        )
    };
    let bad = patch(
        &key,
        json!({"settings": {"password_reset_url": "http://shop.example/reset", "mail_from": "nope"}}),
    )
    .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    let fields: Vec<&str> = bad.body["error"]["details"]
        .as_array()
        .map(|d| d.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        vec!["settings.password_reset_url", "settings.mail_from"]
    );
    assert_eq!(
        patch(&other_key, json!({"name": "x"})).await.status,
        StatusCode::NOT_FOUND
    );
    let ok = patch(
        &key,
        json!({"name": "The Shop", "settings": {
            "password_reset_url": "https://shop.example/reset?lang=en",
            "email_verify_url": "http://localhost:3000/verified",
            "mail_from": "hello@shop.example",
            "require_verified_email": true}}),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let shown = h
        .send(
            TestRequest::get()
                .uri("/api/v1/userspaces/shop")
                .insert_header(("X-API-Key", key.clone())),
        )
        .await;
    assert_eq!(
        shown.body["data"]["settings"],
        json!({"password_reset_url": "https://shop.example/reset?lang=en",
               "email_verify_url": "http://localhost:3000/verified",
               "mail_from": "hello@shop.example", "require_verified_email": true})
    );
    assert_eq!(shown.body["data"]["name"], "The Shop");

    register(&h, "shop", "dave", "dave@example.com").await;
    let verify = h.mails().await;
    assert_eq!(verify[0].mail.from_address, "hello@shop.example");
    assert!(verify[0].mail.subject.contains("The Shop"));
    assert!(link(&verify[0]).starts_with("http://localhost:3000/verified?token="));
    let (status, body) = login(&h, "shop", "dave", PASSWORD).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("EMAIL_NOT_VERIFIED"))
    );
    assert_eq!(
        login(&h, "shop", "dave", "wrong password").await.0,
        StatusCode::UNAUTHORIZED
    );
    h.post(
        "/auth/verify-email/confirm",
        json!({"token": token_of(&link(&verify[0]))}),
    )
    .await;
    assert_eq!(login(&h, "shop", "dave", PASSWORD).await.0, StatusCode::OK);

    h.post(
        "/auth/password-reset/request",
        json!({"namespace": "shop", "email": "dave@example.com"}),
    )
    .await;
    let reset = h.mails().await;
    assert!(link(&reset[0]).starts_with("https://shop.example/reset?lang=en&token="));

    // Cleared with null.
    let cleared = patch(&key, json!({"settings": {"password_reset_url": null}})).await;
    assert_eq!(
        cleared.body["data"]["settings"]["password_reset_url"],
        Value::Null
    );
    assert_eq!(
        cleared.body["data"]["settings"]["require_verified_email"],
        true
    );
}

async fn the_reset_page_sets_the_password_without_javascript(h: Harness) {
    h.namespace("shop").await;
    register(&h, "shop", "erin", "erin@example.com").await;
    h.mails().await;
    h.post(
        "/auth/password-reset/request",
        json!({"namespace": "shop", "email": "erin@example.com"}),
    )
    .await;
    let token = token_of(&link(&h.mails().await[0]));
    let page = h
        .send(TestRequest::get().uri(&format!("/auth/password-reset?token={token}")))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8_lossy(&page.raw).to_string();
    assert!(
        html.contains(&format!("name=\"token\" value=\"{token}\"")),
        "{html}"
    );
    assert!(html.contains("method=\"post\""));
    assert!(!html.contains("<script"));
    let post = |body: String| {
        h.send(
            TestRequest::post()
                .uri("/api/v1/auth/password-reset")
                .insert_header(("content-type", "application/x-www-form-urlencoded"))
                .set_payload(body),
        )
    };
    let enc = |s: &str| s.replace(' ', "+");
    let differ = post(format!(
        "token={token}&new_password={}&confirm_password=other+thing",
        enc(NEW_PASSWORD)
    ))
    .await;
    assert_eq!(differ.status, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&differ.raw).contains("differ"),
        "{}",
        String::from_utf8_lossy(&differ.raw)
    );
    let done = post(format!(
        "token={token}&new_password={p}&confirm_password={p}",
        p = enc(NEW_PASSWORD)
    ))
    .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&done.raw).contains("Your password is changed"));
    assert_eq!(
        login(&h, "shop", "erin", NEW_PASSWORD).await.0,
        StatusCode::OK
    );
    let reused = post(format!(
        "token={token}&new_password={p}&confirm_password={p}",
        p = enc(NEW_PASSWORD)
    ))
    .await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&reused.raw).contains("does not work"));
}

async fn admins_may_import_verified_addresses(h: Harness) {
    let key = h.namespace("shop").await;
    let r = h
        .send(
            TestRequest::post()
                .uri("/api/v1/users")
                .insert_header(("X-API-Key", key.clone()))
                .set_json(json!({"email": "frank@example.com", "password": PASSWORD, "email_verified": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["email_verified"], true);
    let id = r.body["data"]["id"].as_str().unwrap_or_default().to_owned();
    let r = h
        .send(
            TestRequest::patch()
                .uri(&format!("/api/v1/users/{id}"))
                .insert_header(("X-API-Key", key))
                .set_json(json!({"email": "frank@new.example"})),
        )
        .await;
    assert_eq!(r.body["data"]["email_verified"], false);
    assert_eq!(h.mails().await[0].mail.to, "frank@new.example");
}

on_both!(
    a_reset_sets_the_password_and_ends_every_other_session,
    three_mails_an_hour_per_address_and_purpose_then_silence,
    the_verification_link_page_verifies_the_address,
    verification_requests_and_json_confirmation,
    namespace_settings_shape_links_and_logins,
    the_reset_page_sets_the_password_without_javascript,
    admins_may_import_verified_addresses,
);
