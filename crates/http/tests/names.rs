//! API.md 2.2: names compared after NFKC and full case folding, every spelling logging in to the one
//! account; invisible, bidirectional and control characters refused in every text field.

mod accounts;
mod common;

use accounts::{PW, call, setup};
use actix_web::http::StatusCode;
use common::Harness;
use serde_json::{Value, json};

const PAIRS: &[(&str, &str)] = &[
    ("ΣΟΦΟΣ", "σοφοσ"),
    ("Straße", "STRASSE"),
    ("ſam", "SAM"),
    ("ﬀoo", "ffoo"),
    ("ıstanbul2", "istanbul2"),
    ("ｂｏｂ", "bob"),
];

async fn login(h: &Harness, body: Value) -> common::Reply {
    h.post("/auth/login", body).await
}

async fn look_alike_names_are_one_account(h: Harness) {
    h.namespace("shop").await;
    for (first, second) in PAIRS {
        let id = h.register("shop", first, PW).await["user"]["id"].clone();
        let r = h
            .post(
                "/auth/register",
                json!({"namespace": "shop", "username": second, "password": PW}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "USERNAME_TAKEN"),
            "{second} beside {first}"
        );
        for spelling in [first, second] {
            let r = login(
                &h,
                json!({"namespace": "shop", "username": spelling, "password": PW}),
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{spelling}: {}", r.body);
            let me = h
                .get_auth(
                    "/users/me",
                    r.body["access_token"].as_str().unwrap_or_default(),
                )
                .await;
            assert_eq!(me.body["data"]["id"], id, "{spelling}");
        }
    }
    // The third spelling of the Turkish i.
    let r = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "İSTANBUL2", "password": PW}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "USERNAME_TAKEN")
    );

    let r = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "e1", "password": PW, "email": "straße@ex.com"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = h
        .post(
            "/auth/register",
            json!({"namespace": "shop", "username": "e2", "password": PW, "email": "STRASSE@ex.com"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "EMAIL_TAKEN")
    );
    let r = login(
        &h,
        json!({"namespace": "shop", "email": "Strasse@EX.com", "password": PW}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Each refused character, in a field of every kind.
const INVISIBLE: &[char] = &[
    '\u{200B}', '\u{202E}', '\u{FEFF}', '\u{2066}', '\0', '\u{1B}',
];

fn assert_refused(r: &common::Reply, field: &str, what: &str) {
    r.assert_invalid(field, what);
}

async fn invisible_and_control_characters_are_refused_everywhere(h: Harness) {
    let a = setup(&h).await;
    let usage = format!("/api/v1/users/{}/usage", a.alice_id);
    let sessions = format!("/api/v1/users/{}/sessions", a.alice_id);
    let r = call(
        &h,
        "POST",
        &sessions,
        a.alice(),
        Some(json!({"title": "ok"})),
    )
    .await;
    let sid = r.body["data"]["session_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let messages = format!("/api/v1/sessions/{sid}/messages");
    for c in INVISIBLE {
        let what = format!("U+{:04X}", *c as u32);
        let bad = format!("a{c}b");
        let r = h
            .post(
                "/auth/register",
                json!({"namespace": "shop", "username": "newcomer", "password": PW,
                       "email": format!("c{c}@ex.com")}),
            )
            .await;
        assert_refused(&r, "email", &what);
        for field in ["full_name", "first_name"] {
            let r = h
                .post(
                    "/auth/register",
                    json!({"namespace": "shop", "username": "newcomer", "password": PW, field: bad}),
                )
                .await;
            assert_refused(&r, field, &what);
        }
        for extra in [json!({"k": bad}), json!({bad.clone(): "v"})] {
            let r = call(
                &h,
                "PATCH",
                "/users/me",
                a.alice(),
                Some(json!({"extra": extra})),
            )
            .await;
            assert_refused(&r, "extra", &what);
        }
        for field in ["event_type", "model_name", "endpoint"] {
            let mut body = json!({"event_type": "chat"});
            body[field] = json!(bad);
            let r = call(&h, "POST", &usage, a.alice(), Some(body)).await;
            assert_refused(&r, field, &what);
        }
        let r = call(
            &h,
            "POST",
            &sessions,
            a.alice(),
            Some(json!({"title": bad})),
        )
        .await;
        assert_refused(&r, "title", &what);
        let r = call(
            &h,
            "POST",
            &messages,
            a.alice(),
            Some(json!({"role": "user", "content": bad})),
        )
        .await;
        assert_refused(&r, "content", &what);
    }
    // Newlines and tabs are text in a message, and a name's emoji sequence keeps its joiner.
    let r = call(
        &h,
        "POST",
        &messages,
        a.alice(),
        Some(json!({"role": "user", "content": "line one\r\n\tline two"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["data"]["content"], "line one\r\n\tline two");
    let r = call(
        &h,
        "POST",
        &sessions,
        a.alice(),
        Some(json!({"title": "a\nb"})),
    )
    .await;
    assert_refused(&r, "title", "newline in a title");
    let r = call(
        &h,
        "PATCH",
        "/users/me",
        a.alice(),
        Some(json!({"full_name": "Zoë 👩\u{200D}💻"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

on_both!(
    look_alike_names_are_one_account,
    invisible_and_control_characters_are_refused_everywhere,
);
