//! API 1.3: any JSON number, however many digits or however extreme its exponent, on every money
//! and integer field of every route, is judged in bounded time and memory: 400 `VALIDATION_ERROR`
//! when out of the field's range, else the value the rounding rule gives. Never a 5xx, and the
//! process stays up (issue 8's repro aborted it).

use serde_json::{Value, json};
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, text};

on_both!(extreme_numbers_on_every_field_are_judged_and_the_process_stays_up);

/// What a hostile number means once read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Means {
    /// A positive number that rounds to zero millionths (and is no integer).
    Tiny,
    /// Beyond every field's range.
    Huge,
    /// Zero written as `-0`.
    NegativeZero,
    /// Exactly one, in an extreme spelling.
    One,
}

fn hostile() -> Vec<(String, Means)> {
    let many = 20_000;
    vec![
        ("1e-9223372036854775808".into(), Means::Tiny),
        ("1e-99999999999999999999999999".into(), Means::Tiny),
        (format!("0.{}1", "0".repeat(many)), Means::Tiny),
        ("1e9223372036854775807".into(), Means::Huge),
        ("-1e9223372036854775808".into(), Means::Huge),
        ("1E+99999999999999999999999999".into(), Means::Huge),
        ("9".repeat(many), Means::Huge),
        ("-0".into(), Means::NegativeZero),
        ("-0.0e-0".into(), Means::NegativeZero),
        (format!("1{}e-{many}", "0".repeat(many)), Means::One),
        (format!("0.{}1e{}", "0".repeat(many), many + 1), Means::One),
    ]
}

/// The field kinds of API 1.3 and what each makes of a hostile number: `Some(printed)` when it is
/// accepted (as the value printed), `None` when it is 400 `VALIDATION_ERROR`.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `amount` of consume and recharge: greater than 0, at most 1e12.
    Amount,
    /// `credits_charged`, `cost_usd`: 0 to 1e12.
    Money,
    /// `tokens_used` and the like: an integer, 0 to 2^53-1.
    Count,
    /// `usage_record_id`: a positive integer naming a record (the fresh database's first is 1).
    Id,
}

fn expected(kind: Kind, means: Means) -> Option<&'static str> {
    match (kind, means) {
        (_, Means::Huge) => None,
        (Kind::Amount, Means::One) => Some("1"),
        (Kind::Amount, _) => None,
        (Kind::Money, Means::One) => Some("1"),
        (Kind::Money, _) => Some("0"),
        (Kind::Count, Means::One) => Some("1"),
        (Kind::Count, Means::NegativeZero) => Some("0"),
        (Kind::Count, Means::Tiny) => None,
        (Kind::Id, Means::One) => Some("1"),
        (Kind::Id, _) => None,
    }
}

struct Caller {
    key: String,
    user_id: String,
    session_id: String,
}

async fn setup(s: &Server) -> Caller {
    let (st, ns) = s.post("/userspaces", &json!({"namespace": "shop"})).await;
    assert_eq!(st, StatusCode::CREATED, "{ns}");
    let (st, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": "supersecret123"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reg}");
    let mut c = Caller {
        key: text(&ns["data"]["api_key"]),
        user_id: text(&reg["user"]["id"]),
        session_id: String::new(),
    };
    let (st, session) = post_raw(
        s,
        &c,
        &format!("/api/v1/users/{}/sessions", c.user_id),
        "{}",
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{session}");
    c.session_id = text(&session["data"]["session_id"]);
    let recharge = format!("/api/v1/users/{}/credits/recharge", c.user_id);
    let (st, r) = post_raw(s, &c, &recharge, r#"{"amount": 1000}"#).await;
    assert_eq!(st, StatusCode::OK, "{r}");
    // Usage record 1, for `usage_record_id`.
    let usage = format!("/api/v1/users/{}/usage", c.user_id);
    let (st, r) = post_raw(s, &c, &usage, r#"{"event_type": "setup"}"#).await;
    assert_eq!(
        (st, &r["data"]["id"]),
        (StatusCode::CREATED, &json!(1)),
        "{r}"
    );
    c
}

async fn post_raw(s: &Server, c: &Caller, path: &str, body: &str) -> (StatusCode, Value) {
    let res = s
        .client
        .post(s.url(path))
        .header("X-API-Key", &c.key)
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("the server answers");
    user_service_e2e::read(res).await
}

async fn extreme_numbers_on_every_field_are_judged_and_the_process_stays_up(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;

    // The issue's repro, as sent: no valid credential, the body read while the key is looked up.
    let res = s
        .client
        .post(s.url("/api/v1/users/00000000-0000-0000-0000-000000000000/credits/consume"))
        .header("X-API-Key", "x")
        .header("Content-Type", "application/json")
        .body(r#"{"amount":1e-9223372036854775808}"#)
        .send()
        .await
        .expect("the server answers the repro");
    let (st, body) = user_service_e2e::read(res).await;
    assert!(
        st == StatusCode::BAD_REQUEST || st == StatusCode::UNAUTHORIZED,
        "{st} {body}"
    );
    assert!(
        ["VALIDATION_ERROR", "API_KEY_INVALID"]
            .contains(&body["error"]["code"].as_str().unwrap_or("")),
        "{body}"
    );

    let c = setup(&s).await;
    let u = &c.user_id;
    // (route, body template with NUM where the number goes, field as named in the body, kind,
    // where an accepted value is echoed)
    let usage_fields = [
        ("credits_charged", Kind::Money),
        ("cost_usd", Kind::Money),
        ("tokens_used", Kind::Count),
        ("prompt_tokens", Kind::Count),
        ("completion_tokens", Kind::Count),
    ];
    let mut cases: Vec<(String, String, &str, Kind, &str)> = vec![
        (
            format!("/api/v1/users/{u}/credits/consume"),
            r#"{"amount": NUM}"#.into(),
            "amount",
            Kind::Amount,
            "/data/amount",
        ),
        (
            format!("/api/v1/users/{u}/credits/recharge"),
            r#"{"amount": NUM}"#.into(),
            "amount",
            Kind::Amount,
            "/data/amount",
        ),
        (
            format!("/api/v1/users/{u}/credits/consume"),
            r#"{"amount": 1, "usage_record_id": NUM}"#.into(),
            "usage_record_id",
            Kind::Id,
            "",
        ),
        (
            format!("/api/v1/sessions/{}/messages", c.session_id),
            r#"{"role": "user", "content": "hi", "tokens_used": NUM}"#.into(),
            "tokens_used",
            Kind::Count,
            "/data/tokens_used",
        ),
        (
            format!("/api/v1/sessions/{}/messages", c.session_id),
            r#"{"role": "user", "content": "hi", "cost_usd": NUM}"#.into(),
            "cost_usd",
            Kind::Money,
            "/data/cost_usd",
        ),
    ];
    for (field, kind) in usage_fields {
        cases.push((
            format!("/api/v1/users/{u}/usage"),
            format!(r#"{{"event_type": "ai_chat", "{field}": NUM}}"#),
            field,
            kind,
            "",
        ));
        cases.push((
            format!("/api/v1/users/{u}/usage/batch"),
            format!(r#"{{"records": [{{"event_type": "ai_chat", "{field}": NUM}}]}}"#),
            field,
            kind,
            "",
        ));
    }
    let mut usage_records = 1;
    for (path, template, field, kind, echo) in &cases {
        for (number, means) in hostile() {
            let body = template.replace("NUM", &number);
            let (st, answer) = post_raw(&s, &c, path, &body).await;
            let shown = &number[..number.len().min(40)];
            let what = format!("{path} {field}={shown}… ({means:?}): {st} {answer}");
            match expected(*kind, means) {
                None => {
                    assert_eq!(st, StatusCode::BAD_REQUEST, "{what}");
                    assert_eq!(answer["error"]["code"], "VALIDATION_ERROR", "{what}");
                    assert_eq!(answer["error"]["status_code"], 400, "{what}");
                    assert!(
                        answer["error"]["details"]
                            .as_array()
                            .is_some_and(|d| !d.is_empty()),
                        "{what}"
                    );
                }
                Some(printed) => {
                    // The ledger answers 200 (API 3.4); what creates a record answers 201.
                    let created = if path.contains("/credits/") {
                        StatusCode::OK
                    } else {
                        StatusCode::CREATED
                    };
                    assert_eq!(st, created, "{what}");
                    if path.contains("/usage") {
                        usage_records += 1;
                    }
                    let stored = if echo.is_empty() {
                        // Usage answers the record (or the batch's records).
                        let record = if path.ends_with("/batch") {
                            &answer["data"]["items"][0]
                        } else {
                            &answer["data"]
                        };
                        record[*field].clone()
                    } else {
                        answer.pointer(echo).cloned().unwrap_or(Value::Null)
                    };
                    assert_eq!(stored.to_string(), printed, "{what}");
                }
            }
        }
    }

    // The totals read what was stored, and the process is still the one that started.
    let res = s
        .client
        .get(s.url(&format!("/api/v1/users/{u}/usage/stats")))
        .header("X-API-Key", &c.key)
        .send()
        .await
        .expect("stats answered");
    let (st, stats) = user_service_e2e::read(res).await;
    assert_eq!(st, StatusCode::OK, "{stats}");
    assert_eq!(stats["data"]["total_records"], usage_records, "{stats}");
    let res = s
        .client
        .get(s.url("/health"))
        .send()
        .await
        .expect("health answered");
    assert_eq!(res.status(), StatusCode::OK);
}
