//! A profile write held open while an admin deactivates or demotes the account: the late write
//! changes only its own fields, so the deactivation and the demotion hold (issue 9, finding 1).
//! Through the real binary on both databases.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, text};

const PW: &str = "supersecret123";

/// A `PATCH /users/me` whose headers (and so its authentication) are done but whose body is not.
struct HeldWrite {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl HeldWrite {
    /// Sends the headers and the first half of `body`, then waits `settle` so the server has read the
    /// headers and authenticated the caller (the user row is read then) before anything else happens.
    async fn open(server: &Server, token: &str, body: &Value, settle: Duration) -> Self {
        let addr = server.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let body = body.to_string().into_bytes();
        let head = format!(
            "PATCH /users/me HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.expect("headers");
        stream.write_all(first).await.expect("first half");
        stream.flush().await.expect("flush");
        tokio::time::sleep(settle).await;
        Self {
            stream,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body and reads the answer.
    async fn finish(mut self) -> (u16, Value) {
        self.stream.write_all(&self.rest).await.expect("rest");
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw).await.expect("answer");
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null);
        (status, body)
    }
}

async fn send(
    s: &Server,
    method: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let req = match method {
        "PATCH" => s.client.patch(s.url(path)),
        _ => s.client.get(s.url(path)),
    };
    let res = req
        .header("X-API-Key", key)
        .json(body)
        .send()
        .await
        .expect("request sent");
    user_service_e2e::read(res).await
}

async fn login(s: &Server, username: &str) -> (StatusCode, Value) {
    s.post(
        "/auth/login",
        &json!({"namespace": "shop", "username": username, "password": PW}),
    )
    .await
}

/// Holds a profile write open across `race` and returns its answer, which must be 200: it was
/// authenticated (and the user row read) before `race` changed the account.
async fn held_across<F, Fut>(s: &Server, token: &str, body: &Value, race: F) -> Value
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Reading headers and one user row takes milliseconds; a second leaves room on a busy machine.
    let held = HeldWrite::open(s, token, body, Duration::from_secs(1)).await;
    race().await;
    let (status, answer) = held.finish().await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn a_held_profile_write_does_not_undo_a_deactivation(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let (_, ns) = s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let key = text(&ns["data"]["api_key"]);
    let (st, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "dan", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reg}");
    let id = text(&reg["user"]["id"]);
    let path = format!("/api/v1/users/{id}");
    let token = text(&reg["access_token"]);
    let answer = held_across(&s, &token, &json!({"first_name": "Late"}), || async {
        let (st, b) = send(&s, "PATCH", &path, &key, &json!({"is_active": false})).await;
        assert_eq!(
            (st, b["data"]["is_active"].clone()),
            (StatusCode::OK, json!(false))
        );
    })
    .await;
    // The late write names one field; the answer is the row as stored, still deactivated.
    assert_eq!(
        (
            answer["data"]["first_name"].clone(),
            answer["data"]["is_active"].clone()
        ),
        (json!("Late"), json!(false))
    );
    let (st, after) = send(&s, "GET", &path, &key, &Value::Null).await;
    assert_eq!(
        (
            st,
            after["data"]["is_active"].clone(),
            after["data"]["first_name"].clone()
        ),
        (StatusCode::OK, json!(false), json!("Late"))
    );
    let (st, refused) = login(&s, "dan").await;
    assert_eq!(
        (st, text(&refused["error"]["code"])),
        (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS".to_owned())
    );
    s.stop().await;
}

async fn a_held_profile_write_does_not_undo_a_demotion(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let (_, ns) = s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let key = text(&ns["data"]["api_key"]);
    let res = s
        .client
        .post(s.url("/api/v1/users"))
        .header("X-API-Key", &key)
        .json(&json!({"username": "boss", "email": "boss@example.com", "password": PW, "roles": ["user", "admin"]}))
        .send()
        .await
        .expect("create");
    let (st, created) = user_service_e2e::read(res).await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    let path = format!("/api/v1/users/{}", text(&created["data"]["id"]));
    let (_, boss) = login(&s, "boss").await;
    let token = text(&boss["access_token"]);
    let answer = held_across(&s, &token, &json!({"last_name": "Late"}), || async {
        let (st, b) = send(&s, "PATCH", &path, &key, &json!({"roles": ["user"]})).await;
        assert_eq!(
            (st, b["data"]["roles"].clone()),
            (StatusCode::OK, json!(["user"]))
        );
    })
    .await;
    assert_eq!(
        (
            answer["data"]["last_name"].clone(),
            answer["data"]["roles"].clone()
        ),
        (json!("Late"), json!(["user"]))
    );
    let (st, after) = send(&s, "GET", &path, &key, &Value::Null).await;
    assert_eq!(
        (
            st,
            after["data"]["roles"].clone(),
            after["data"]["is_active"].clone()
        ),
        (StatusCode::OK, json!(["user"]), json!(true))
    );
    // The demoted admin manages nothing any more.
    let (st, again) = login(&s, "boss").await;
    assert_eq!(st, StatusCode::OK);
    let (st, list) = s
        .get_auth("/api/v1/users", &text(&again["access_token"]))
        .await;
    assert_eq!(
        (st, text(&list["error"]["code"])),
        (StatusCode::FORBIDDEN, "FORBIDDEN".to_owned())
    );
    s.stop().await;
}

on_both!(
    a_held_profile_write_does_not_undo_a_deactivation,
    a_held_profile_write_does_not_undo_a_demotion,
);
