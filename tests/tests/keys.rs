//! Signing keys across processes (API.md 2.5), with the real binary: the verify crate follows a
//! rotation made by `user-service keys rotate` from the issuer URL alone; two instances on one
//! database agree on the active key after a rotation within `auth.key_refresh_secs`; and tokens that
//! are not ours (unknown `kid`, `alg: none`, HS256 keyed with the public key) are 401 `TOKEN_INVALID`
//! at the service and refused by the verify crate, for EdDSA and for RS256.
//!
//! That a retired key leaves the set once its last token has expired is tested on the application's
//! clock in crates/http/tests/keys.rs (here it would take 60 s + `auth.access_ttl_secs` of waiting).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::BigUint;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::EncodePublicKey;
use serde_json::{Value, json};
use user_service_e2e::tokens::{
    create_shop_and_alice, get, jwks_kids, jwt_header, kid_of, login_alice, rotate,
};
use user_service_e2e::{Backend, Server, StatusCode, Store, free_port, on_both, read, text};
use user_service_verify::Verifier;

const OPERATOR: &str = "operator-key-for-the-keys-e2e";
/// Instances reload the keys this often here (the default is 30 s, the contract's bound 60 s).
const REFRESH_SECS: &str = "1";

async fn start(store: &Store, signing: &str, port: Option<&str>, issuer: Option<&str>) -> Server {
    let mut env = vec![
        ("USER_SERVICE__AUTH__SIGNING", signing),
        ("USER_SERVICE__AUTH__KEY_REFRESH_SECS", REFRESH_SECS),
        ("ADMIN_API_KEY", OPERATOR),
    ];
    if let (Some(port), Some(issuer)) = (port, issuer) {
        env.push(("USER_SERVICE__SERVER__PORT", port));
        env.push(("USER_SERVICE__AUTH__ISSUER", issuer));
    }
    store.start(&env).await
}

/// Logs in on `s` until its tokens carry `kid`; returns how long that took. Panics past 10 s.
async fn signs_with(s: &Server, kid: &str) -> Duration {
    let start = Instant::now();
    loop {
        if kid_of(&login_alice(s).await) == kid {
            eprintln!("{} signs with {kid} after {:?}", s.base, start.elapsed());
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} still signs with another key than {kid}",
            s.base
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// GET /users/me with `token`: 200 with alice's profile.
async fn accepted(s: &Server, token: &str) {
    let (status, body) = s.get_auth("/users/me", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["username"], "alice", "{body}");
}

/// GET /users/me with `token`: 401 `TOKEN_INVALID` in the error envelope, with `WWW-Authenticate`.
async fn token_invalid(s: &Server, token: &str) {
    let res = s
        .client
        .get(s.url("/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let challenge = res
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request_id = res
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body) = read(res).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}: {body}");
    let error = &body["error"];
    assert_eq!(
        (&error["code"], &error["status_code"]),
        (&json!("TOKEN_INVALID"), &json!(401)),
        "{token}: {body}"
    );
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(error["request_id"].as_str(), request_id.as_deref());
    assert!(
        challenge.is_some_and(|c| c.starts_with("Bearer")),
        "{token}"
    );
}

fn hs256(secret: &[u8], kid: Option<&str>, payload: &str) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = kid.map(str::to_owned);
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap_or_default())
            .unwrap_or_default();
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("hs256 token")
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// Every form a public key of the set could take as an HMAC secret: its JWK, its public parameter
/// as text and as bytes, and for RSA its PEM encodings, the classic key-confusion attack.
fn public_key_secrets(jwk: &Value) -> Vec<Vec<u8>> {
    let mut secrets = vec![jwk.to_string().into_bytes()];
    let b64 = |field: &str| {
        URL_SAFE_NO_PAD
            .decode(text(&jwk[field]))
            .unwrap_or_default()
    };
    match jwk["kty"].as_str() {
        Some("RSA") => {
            secrets.push(text(&jwk["n"]).into_bytes());
            secrets.push(b64("n"));
            let key = rsa::RsaPublicKey::new(
                BigUint::from_bytes_be(&b64("n")),
                BigUint::from_bytes_be(&b64("e")),
            )
            .expect("the published RSA key");
            let spki = key.to_public_key_der().expect("spki");
            let pkcs1 = key.to_pkcs1_der().expect("pkcs1");
            secrets.push(pem("PUBLIC KEY", spki.as_bytes()).into_bytes());
            secrets.push(pem("RSA PUBLIC KEY", pkcs1.as_bytes()).into_bytes());
            secrets.push(spki.as_bytes().to_vec());
        }
        _ => {
            secrets.push(text(&jwk["x"]).into_bytes());
            secrets.push(b64("x"));
        }
    }
    secrets
}

/// Tokens carrying a live token's claims that no key of ours signed.
fn forgeries(good: &str, jwks: &Value) -> Vec<String> {
    let payload = good.split('.').nth(1).unwrap_or_default();
    let signature = good.split('.').nth(2).unwrap_or_default();
    let header = jwt_header(good);
    let kid = header["kid"].as_str();
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let mut forged = vec![
        format!(
            "{}.{payload}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": kid}))
        ),
        format!("{}.{payload}.", b64(&json!({"alg": "none"}))),
        // The real signature under a key id the service never had.
        format!(
            "{}.{payload}.{signature}",
            b64(&json!({"alg": header["alg"], "typ": "JWT", "kid": "no-such-key"}))
        ),
    ];
    for key in jwks["keys"].as_array().into_iter().flatten() {
        for secret in public_key_secrets(key) {
            forged.push(hs256(&secret, key["kid"].as_str(), payload));
            forged.push(hs256(&secret, None, payload));
        }
    }
    forged
}

/// The verify crate against the real binary: discovery from the issuer URL, typed claims, a
/// rotation by `user-service keys rotate` followed through one refetch, forgeries refused by both the
/// crate and the service.
async fn the_verify_crate_follows_a_rotation(backend: Backend, signing: &str) {
    let store = Store::new(backend).await;
    let port = free_port().to_string();
    let issuer = format!("http://127.0.0.1:{port}");
    let s = start(&store, signing, Some(&port), Some(&issuer)).await;
    assert_eq!(s.base, issuer);
    let user_id = create_shop_and_alice(&s, OPERATOR).await;
    let old = login_alice(&s).await;

    let verifier = Verifier::builder(&issuer)
        .refetch_interval(Duration::from_secs(1))
        .build()
        .await
        .expect("discovery");
    assert_eq!(
        verifier.jwks().url(),
        format!("{issuer}/.well-known/jwks.json")
    );
    let claims = verifier.verify(&old).await.expect("a token of ours");
    let first_fetch = Instant::now();
    assert_eq!(
        (
            claims.user_id.to_string(),
            claims.namespace.as_str(),
            claims.username.as_str(),
            claims.roles.clone(),
            claims.issuer.as_str(),
            claims.tenant_id.as_deref(),
            claims.email.as_deref(),
        ),
        (
            user_id.clone(),
            "shop",
            "alice",
            vec!["user".to_owned()],
            issuer.as_str(),
            Some("shop"),
            // Alice registered without one.
            None,
        )
    );
    assert!(claims.expires_at > claims.issued_at);

    // Another process rotates (the CLI on the same database); the server picks the key up.
    let out = store
        .cli(
            &["keys", "rotate"],
            &[("USER_SERVICE__AUTH__SIGNING", signing)],
        )
        .await;
    let new_kid = out
        .strip_prefix("new signing key ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("keys rotate printed {out:?}"))
        .to_owned();
    let jws = if signing == "eddsa" { "EdDSA" } else { "RS256" };
    assert!(out.contains(&format!("({jws}) is active")), "{out}");
    let took = signs_with(&s, &new_kid).await;
    assert!(took < Duration::from_secs(5), "picked up after {took:?}");
    let new = login_alice(&s).await;
    let mut both = vec![kid_of(&old), new_kid.clone()];
    both.sort();
    assert_eq!(jwks_kids(&s).await, both);

    // The verifier holds only the old key: the new kid makes it fetch the set again, once.
    if let Some(wait) = Duration::from_millis(1100).checked_sub(first_fetch.elapsed()) {
        tokio::time::sleep(wait).await;
    }
    let claims = verifier.verify(&new).await.expect("the rotated-in key");
    assert_eq!(claims.user_id.to_string(), user_id);
    let claims = verifier
        .verify(&old)
        .await
        .expect("the retired key, still live");
    assert_eq!(claims.user_id.to_string(), user_id);
    accepted(&s, &old).await;
    accepted(&s, &new).await;

    // Tokens no key of ours signed, under the old and the new key ids.
    let (_, jwks) = get(&s, "/.well-known/jwks.json").await;
    for good in [&old, &new] {
        let forged = forgeries(good, &jwks);
        eprintln!(
            "{} forgeries of a {signing} token under {}",
            forged.len(),
            kid_of(good)
        );
        for forged in forged {
            token_invalid(&s, &forged).await;
            let refused = verifier.verify(&forged).await;
            assert!(
                refused.as_ref().is_err_and(|e| e.is_unauthorized()),
                "{forged}: {refused:?}"
            );
        }
    }
}

async fn eddsa_the_verify_crate_follows_a_rotation(backend: Backend) {
    the_verify_crate_follows_a_rotation(backend, "eddsa").await;
}

async fn rs256_the_verify_crate_follows_a_rotation(backend: Backend) {
    the_verify_crate_follows_a_rotation(backend, "rs256").await;
}

/// Two instances on one database: one key signs on both, a rotation on either (or by the CLI) is
/// picked up by the other within the reload interval, and each accepts the other's tokens from
/// before and after the rotation.
async fn two_instances_agree_on_the_active_key(backend: Backend) {
    let store = Store::new(backend).await;
    let a = start(&store, "eddsa", None, None).await;
    let b = start(&store, "eddsa", None, None).await;
    create_shop_and_alice(&a, OPERATOR).await;
    let (a0, b0) = (login_alice(&a).await, login_alice(&b).await);
    assert_eq!(kid_of(&a0), kid_of(&b0), "one first key for both");
    assert_eq!(jwks_kids(&a).await, vec![kid_of(&a0)]);

    // Rotated through A's API: A signs with the new key at once, B within the reload interval.
    let k1 = text(&rotate(&a, OPERATOR).await["kid"]);
    assert_eq!(kid_of(&login_alice(&a).await), k1);
    let took = signs_with(&b, &k1).await;
    assert!(
        took < Duration::from_secs(5),
        "B picked it up after {took:?}"
    );
    assert_eq!(jwks_kids(&a).await, jwks_kids(&b).await);
    assert_eq!(jwks_kids(&a).await.len(), 2);

    // Rotated by the CLI: both pick it up.
    let out = store
        .cli(
            &["keys", "rotate"],
            &[("USER_SERVICE__AUTH__SIGNING", "eddsa")],
        )
        .await;
    let k2 = out
        .strip_prefix("new signing key ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("keys rotate printed {out:?}"))
        .to_owned();
    assert_ne!(k2, k1);
    for s in [&a, &b] {
        let took = signs_with(s, &k2).await;
        assert!(took < Duration::from_secs(5), "picked up after {took:?}");
    }
    let (a2, b2) = (login_alice(&a).await, login_alice(&b).await);
    assert_eq!((kid_of(&a2), kid_of(&b2)), (k2.clone(), k2.clone()));
    let kids = jwks_kids(&a).await;
    assert_eq!(kids, jwks_kids(&b).await);
    assert_eq!(kids.len(), 3, "{kids:?}");
    // Every token, from before and after both rotations, verifies on either instance.
    for token in [&a0, &b0, &a2, &b2] {
        accepted(&a, token).await;
        accepted(&b, token).await;
    }
}

/// `auth.signing` changed from eddsa to rs256 between two starts on one database: the RS256 key
/// signs, the Ed25519 key verifies its live tokens to the end, and discovery lists both algorithms,
/// so verifiers that pin the algorithms to discovery's list accept both tokens.
async fn a_change_of_algorithm_keeps_live_tokens_valid(backend: Backend) {
    let store = Store::new(backend).await;
    let port = free_port().to_string();
    let issuer = format!("http://127.0.0.1:{port}");
    let s = start(&store, "eddsa", Some(&port), Some(&issuer)).await;
    create_shop_and_alice(&s, OPERATOR).await;
    let old = login_alice(&s).await;
    assert_eq!(jwt_header(&old)["alg"], "EdDSA");
    s.stop().await;

    let s = start(&store, "rs256", Some(&port), Some(&issuer)).await;
    let new = login_alice(&s).await;
    assert_eq!(jwt_header(&new)["alg"], "RS256");
    let (status, body) = get(&s, "/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["id_token_signing_alg_values_supported"],
        json!(["RS256", "EdDSA"])
    );
    let mut kids = vec![kid_of(&old), kid_of(&new)];
    kids.sort();
    assert_eq!(jwks_kids(&s).await, kids);
    accepted(&s, &old).await;
    accepted(&s, &new).await;
    let verifier = Verifier::discover(&issuer).await.expect("discovery");
    for token in [&old, &new] {
        let claims = verifier.verify(token).await.expect("a live token of ours");
        assert_eq!(claims.username, "alice");
    }
}

on_both!(
    a_change_of_algorithm_keeps_live_tokens_valid,
    eddsa_the_verify_crate_follows_a_rotation,
    rs256_the_verify_crate_follows_a_rotation,
    two_instances_agree_on_the_active_key,
);
