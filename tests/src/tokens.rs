//! Helpers of the signing-key tests (tests/keys.rs, tests/jose.rs): namespace `shop` with the user
//! `alice`, her access tokens, rotation by the operator, the key set, and a JWT's header.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::{Server, StatusCode, read, text};

/// Alice's password.
pub const PW: &str = "supersecret123";

/// The decoded JOSE header of `token` (`Null` when it is not a JWT).
pub fn jwt_header(token: &str) -> Value {
    let part = token.split('.').next().unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or_default()
}

/// The `kid` of `token`'s header.
pub fn kid_of(token: &str) -> String {
    text(&jwt_header(token)["kid"])
}

/// GET `path` without credentials.
pub async fn get(s: &Server, path: &str) -> (StatusCode, Value) {
    let res = s
        .client
        .get(s.url(path))
        .send()
        .await
        .expect("request sent");
    read(res).await
}

/// POST `path` as the operator (`X-Admin-Key: operator`), with `body` when given.
pub async fn post_as_operator(
    s: &Server,
    operator: &str,
    path: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let mut req = s.client.post(s.url(path)).header("X-Admin-Key", operator);
    if let Some(body) = body {
        req = req.json(body);
    }
    read(req.send().await.expect("request sent")).await
}

/// Creates namespace `shop` as the operator and registers `alice` in it; returns her user id.
pub async fn create_shop_and_alice(s: &Server, operator: &str) -> String {
    let (status, body) = post_as_operator(
        s,
        operator,
        "/userspaces",
        Some(&json!({"namespace": "shop"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    text(&body["user"]["id"])
}

/// A fresh access token of alice's.
pub async fn login_alice(s: &Server) -> String {
    let (status, body) = s
        .post(
            "/auth/login",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    text(&body["access_token"])
}

/// `POST /admin/keys/rotate` as the operator; returns the new key's `data`.
pub async fn rotate(s: &Server, operator: &str) -> Value {
    let (status, body) = post_as_operator(s, operator, "/admin/keys/rotate", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

/// The key ids of the published key set, sorted.
pub async fn jwks_kids(s: &Server) -> Vec<String> {
    let (status, body) = get(s, "/.well-known/jwks.json").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut kids: Vec<String> = body["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| text(&k["kid"]))
        .collect();
    kids.sort();
    kids
}
