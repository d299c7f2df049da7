//! Signing keys over HTTP (API.md 2.5): the key set and discovery document, rotation by the operator
//! while tokens are live (on the application's clock, not by waiting), and tokens that are not ours.

mod common;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Harness;
use serde_json::{Value, json};

const OPERATOR: &str = "operator-key-for-tests";
const ISSUER: &str = "https://id.example.com";
const PW: &str = "supersecret123";
const EDDSA: &[(&str, &str)] = &[
    ("USER_SERVICE__AUTH__SIGNING", "eddsa"),
    ("USER_SERVICE__AUTH__ISSUER", ISSUER),
    ("ADMIN_API_KEY", OPERATOR),
];
/// Access tokens live this long; the rotation test moves the clock past it.
const TTL: i64 = 900;

fn header_of(token: &str) -> Value {
    let part = token.split('.').next().unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap_or_default()).unwrap_or_default()
}

fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect()
}

async fn get(h: &Harness, path: &str) -> common::Reply {
    h.send(TestRequest::get().uri(path)).await
}

async fn rotate(h: &Harness) -> common::Reply {
    h.send(
        TestRequest::post()
            .uri("/admin/keys/rotate")
            .insert_header(("X-Admin-Key", OPERATOR)),
    )
    .await
}

async fn login(h: &Harness) -> String {
    let r = h
        .post(
            "/auth/login",
            json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn the_key_set_and_discovery_describe_the_signing_key(h: Harness) {
    h.send(
        TestRequest::post()
            .uri("/userspaces")
            .insert_header(("X-Admin-Key", OPERATOR))
            .set_json(json!({"namespace": "shop"})),
    )
    .await;
    let reg = h.register("shop", "alice", PW).await;
    let token = reg["access_token"].as_str().unwrap_or_default();
    let header = header_of(token);
    assert_eq!(header["alg"], "EdDSA");

    let r = get(&h, "/.well-known/jwks.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
    let keys = r.body["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1, "{}", r.body);
    let key = &keys[0];
    assert_eq!(key["kid"], header["kid"]);
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("EdDSA"),
            &json!("sig")
        )
    );
    assert!(key.get("d").is_none(), "never the private key: {key}");

    let r = get(&h, "/.well-known/openid-configuration").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(r.body["issuer"], ISSUER);
    assert_eq!(
        r.body["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json")
    );
    assert_eq!(
        r.body["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );
    // Not under /api/v1: discovery is relative to the issuer.
    assert_eq!(
        get(&h, "/api/v1/.well-known/jwks.json").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn a_rotated_key_verifies_its_live_tokens_then_leaves_the_set(h: Harness) {
    h.send(
        TestRequest::post()
            .uri("/userspaces")
            .insert_header(("X-Admin-Key", OPERATOR))
            .set_json(json!({"namespace": "shop"})),
    )
    .await;
    h.register("shop", "alice", PW).await;
    let old = login(&h).await;
    let old_kid = header_of(&old)["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    h.advance(60);
    let r = rotate(&h).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new_kid = r.body["data"]["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(r.body["data"]["algorithm"], "EdDSA");
    assert!(r.body["data"]["created_at"].is_string());
    assert_ne!(new_kid, old_kid);
    // Through /api/v1 as well.
    let r = h
        .send(
            TestRequest::post()
                .uri("/api/v1/admin/keys/rotate")
                .insert_header(("X-Admin-Key", OPERATOR)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let newest_kid = r.body["data"]["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let new = login(&h).await;
    assert_eq!(header_of(&new)["kid"], newest_kid.as_str());
    let jwks = get(&h, "/.well-known/jwks.json").await.body;
    let mut expected = vec![old_kid.clone(), new_kid.clone(), newest_kid.clone()];
    expected.sort();
    let mut published = kids(&jwks);
    published.sort();
    assert_eq!(published, expected);
    // The token signed before the rotations still works, to its end.
    let r = h.get_auth("/users/me", &old).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    h.advance(TTL - 60);
    assert_eq!(h.get_auth("/users/me", &old).await.status, StatusCode::OK);
    h.advance(6);
    let r = h.get_auth("/users/me", &old).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED")
    );
    // Another instance might have signed with the old keys for up to a minute after the rotation,
    // so they stay published until such a token has expired too: 60 + TTL + 60 + 5 s after t0.
    assert_eq!(kids(&get(&h, "/.well-known/jwks.json").await.body).len(), 3);
    h.advance(118);
    assert_eq!(kids(&get(&h, "/.well-known/jwks.json").await.body).len(), 3);
    h.advance(1);
    assert_eq!(
        kids(&get(&h, "/.well-known/jwks.json").await.body),
        vec![newest_kid.clone()]
    );
    let r = h.get_auth("/users/me", &old).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    let fresh = login(&h).await;
    assert_eq!(h.get_auth("/users/me", &fresh).await.status, StatusCode::OK);
}

async fn only_the_operator_rotates(h: Harness) {
    let r = h
        .send(
            TestRequest::post()
                .uri("/userspaces")
                .insert_header(("X-Admin-Key", OPERATOR))
                .set_json(json!({"namespace": "shop"})),
        )
        .await;
    let api_key = r.body["data"]["api_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before = kids(&get(&h, "/.well-known/jwks.json").await.body);
    let r = h.send(TestRequest::post().uri("/admin/keys/rotate")).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );
    assert!(r.header("www-authenticate").is_some());
    let r = h
        .send(
            TestRequest::post()
                .uri("/admin/keys/rotate")
                .insert_header(("X-Admin-Key", "wrong")),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "API_KEY_INVALID")
    );
    let r = h
        .send(
            TestRequest::post()
                .uri("/admin/keys/rotate")
                .insert_header(("X-API-Key", api_key)),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "FORBIDDEN"));
    assert_eq!(kids(&get(&h, "/.well-known/jwks.json").await.body), before);
}

async fn tokens_that_are_not_ours_are_token_invalid(h: Harness) {
    h.send(
        TestRequest::post()
            .uri("/userspaces")
            .insert_header(("X-Admin-Key", OPERATOR))
            .set_json(json!({"namespace": "shop"})),
    )
    .await;
    h.register("shop", "alice", PW).await;
    let good = login(&h).await;
    let header = header_of(&good);
    let payload = good.split('.').nth(1).unwrap_or_default().to_owned();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let jwks = get(&h, "/.well-known/jwks.json").await.body;
    let x = jwks["keys"][0]["x"].as_str().unwrap_or_default().to_owned();

    let hs256_with = |secret: &[u8], kid: Option<&str>| {
        let mut hdr = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hdr.kid = kid.map(str::to_owned);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&payload).unwrap_or_default())
                .unwrap_or_default();
        jsonwebtoken::encode(
            &hdr,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap_or_default()
    };
    let kid = header["kid"].as_str();
    let forged = [
        // alg none, with and without a signature part.
        format!(
            "{}.{payload}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": kid}))
        ),
        format!("{}.{payload}", b64(&json!({"alg": "none"}))),
        // A key id the service never had.
        format!(
            "{}.{payload}.{}",
            b64(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "no-such-key"})),
            good.split('.').nth(2).unwrap_or_default()
        ),
        // HS256 "signed" with the public key as the secret: the key confusion attack.
        hs256_with(x.as_bytes(), kid),
        hs256_with(&URL_SAFE_NO_PAD.decode(&x).unwrap_or_default(), kid),
        hs256_with(jwks["keys"][0].to_string().as_bytes(), kid),
        hs256_with(x.as_bytes(), None),
        // The shared secret the service would use with HS256 is no key here either.
        hs256_with(b"test-secret-that-is-long-enough", None),
    ];
    for token in forged {
        let r = h.get_auth("/users/me", &token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "TOKEN_INVALID"),
            "{token}"
        );
        assert!(r.header("www-authenticate").is_some());
    }
    assert_eq!(h.get_auth("/users/me", &good).await.status, StatusCode::OK);
}

on_both!(env: super::EDDSA;
    the_key_set_and_discovery_describe_the_signing_key,
    a_rotated_key_verifies_its_live_tokens_then_leaves_the_set,
    only_the_operator_rotates,
    tokens_that_are_not_ours_are_token_invalid,
);

mod hs256 {
    use super::*;

    /// HS256 (the default): nothing is published, discovery says HS256, and there is nothing to rotate.
    #[actix_web::test]
    async fn the_shared_secret_is_never_published_nor_rotated() {
        let h = Harness::new(common::Backend::Sqlite, &[("ADMIN_API_KEY", OPERATOR)]).await;
        let r = get(&h, "/.well-known/jwks.json").await;
        assert_eq!(
            (r.status, r.body.clone()),
            (StatusCode::OK, json!({"keys": []}))
        );
        let r = get(&h, "/.well-known/openid-configuration").await;
        assert_eq!(
            r.body["id_token_signing_alg_values_supported"],
            json!(["HS256"])
        );
        let r = rotate(&h).await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "CONFLICT"));
    }

    /// RS256 on PostgreSQL: the key set publishes the RSA modulus and tokens verify.
    #[actix_web::test]
    async fn rs256_signs_and_publishes_an_rsa_key() {
        let h = Harness::new(
            common::Backend::Postgres,
            &[
                ("USER_SERVICE__AUTH__SIGNING", "rs256"),
                ("ADMIN_API_KEY", OPERATOR),
            ],
        )
        .await;
        h.send(
            TestRequest::post()
                .uri("/userspaces")
                .insert_header(("X-Admin-Key", OPERATOR))
                .set_json(json!({"namespace": "shop"})),
        )
        .await;
        let reg = h.register("shop", "alice", PW).await;
        let token = reg["access_token"].as_str().unwrap_or_default();
        assert_eq!(header_of(token)["alg"], "RS256");
        let jwks = get(&h, "/.well-known/jwks.json").await.body;
        assert_eq!(
            (
                &jwks["keys"][0]["kty"],
                &jwks["keys"][0]["alg"],
                &jwks["keys"][0]["e"]
            ),
            (&json!("RSA"), &json!("RS256"), &json!("AQAB"))
        );
        assert_eq!(h.get_auth("/users/me", token).await.status, StatusCode::OK);
    }
}
