//! Fixtures for the account-resource tests: a namespace with its service key, two plain users, an
//! admin user, and a second namespace with a user of its own.

#![allow(dead_code)]

use actix_web::test::TestRequest;
use serde_json::Value;
use user_service_domain::model::Principal;

use crate::common::{Harness, Reply};

pub const PW: &str = "supersecret123";

#[derive(Clone, Copy)]
pub enum Auth<'a> {
    Bearer(&'a str),
    Key(&'a str),
    Anonymous,
}

pub struct Accounts {
    pub key: String,
    pub alice_id: String,
    pub alice: String,
    pub bob_id: String,
    pub bob: String,
    pub admin: String,
    pub other_key: String,
    pub mallory: String,
}

impl Accounts {
    pub fn alice(&self) -> Auth<'_> {
        Auth::Bearer(&self.alice)
    }
    pub fn bob(&self) -> Auth<'_> {
        Auth::Bearer(&self.bob)
    }
    pub fn admin(&self) -> Auth<'_> {
        Auth::Bearer(&self.admin)
    }
    pub fn service(&self) -> Auth<'_> {
        Auth::Key(&self.key)
    }
    pub fn other_service(&self) -> Auth<'_> {
        Auth::Key(&self.other_key)
    }
    pub fn mallory(&self) -> Auth<'_> {
        Auth::Bearer(&self.mallory)
    }
}

fn token_and_id(reg: &Value) -> (String, String) {
    (
        reg["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        reg["user"]["id"].as_str().expect("user id").to_owned(),
    )
}

pub async fn setup(h: &Harness) -> Accounts {
    let key = h.namespace("shop").await;
    let other_key = h.namespace("other").await;
    let (alice, alice_id) = token_and_id(&h.register("shop", "alice", PW).await);
    let (bob, bob_id) = token_and_id(&h.register("shop", "bob", PW).await);
    let (admin, _) = token_and_id(&h.register("shop", "root", PW).await);
    h.state
        .admin
        .set_roles(
            &Principal::Operator,
            "shop",
            "root",
            &["user".to_owned(), "admin".to_owned()],
        )
        .await
        .expect("root becomes an admin");
    let (mallory, _) = token_and_id(&h.register("other", "mallory", PW).await);
    Accounts {
        key,
        alice_id,
        alice,
        bob_id,
        bob,
        admin,
        other_key,
        mallory,
    }
}

pub fn request(method: &str, path: &str, auth: Auth<'_>, body: Option<Value>) -> TestRequest {
    let mut req = match method {
        "GET" => TestRequest::get(),
        "POST" => TestRequest::post(),
        "PUT" => TestRequest::put(),
        "PATCH" => TestRequest::patch(),
        other => panic!("unsupported method {other}"),
    }
    .uri(path);
    req = match auth {
        Auth::Bearer(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
        Auth::Key(k) => req.insert_header(("X-API-Key", k.to_owned())),
        Auth::Anonymous => req,
    };
    if let Some(b) = body {
        req = req.set_json(b);
    }
    req
}

pub async fn call(
    h: &Harness,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    body: Option<Value>,
) -> Reply {
    h.send(request(method, path, auth, body)).await
}
