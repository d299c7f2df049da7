//! Libraries no one here wrote verify our access tokens end to end, starting from the issuer URL
//! alone (API.md 2.5): PyJWT's `PyJWKClient` (PyPI) and node's `jose` (npm), each reading
//! `/.well-known/openid-configuration` and the key set it names from the real binary, with EdDSA and
//! with RS256, before and after a rotation. A token whose signature was tampered with is refused by
//! both.
//!
//! The test installs both libraries itself, pinned, outside the repository:
//! `${XDG_CACHE_HOME:-~/.cache}/user-service/jose/{venv,node}`; a second run finds them there.

use serde_json::{Value, json};
use tokio::process::Command;
use user_service_e2e::jose::{Tools, tools};
use user_service_e2e::tokens::{create_shop_and_alice, jwt_header, login_alice, rotate};
use user_service_e2e::{Backend, Store, free_port, on_both};

const OPERATOR: &str = "operator-key-for-the-jose-e2e";

/// What a verifier printed for a token it accepted, or what it said when it refused it.
enum Verdict {
    Accepted { claims: Value, kid: Value },
    Refused(String),
}

async fn verdict(cmd: &mut Command) -> Verdict {
    let out = cmd.output().await.expect("run the verifier");
    if out.status.success() {
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verifier output {e}: {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        Verdict::Accepted {
            claims: v["claims"].clone(),
            kid: v["kid"].clone(),
        }
    } else {
        Verdict::Refused(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn pyjwt(t: &Tools, issuer: &str, token: &str) -> Verdict {
    verdict(
        Command::new(&t.python)
            .arg(&t.pyjwt_script)
            .args([issuer, token]),
    )
    .await
}

async fn node_jose(t: &Tools, issuer: &str, token: &str) -> Verdict {
    verdict(
        Command::new("node")
            .arg(&t.node_script)
            .args([issuer, token]),
    )
    .await
}

/// Both libraries accept `token` and read the claims the service put in it.
async fn both_accept(t: &Tools, issuer: &str, token: &str, user_id: &str, jws_alg: &str) {
    let header = jwt_header(token);
    assert_eq!(header["alg"], jws_alg);
    for (who, v) in [
        ("PyJWT", pyjwt(t, issuer, token).await),
        ("jose", node_jose(t, issuer, token).await),
    ] {
        match v {
            Verdict::Accepted { claims, kid } => {
                assert_eq!(kid, header["kid"], "{who}");
                assert_eq!(
                    (
                        &claims["sub"],
                        &claims["namespace"],
                        &claims["username"],
                        &claims["iss"]
                    ),
                    (
                        &json!(user_id),
                        &json!("shop"),
                        &json!("alice"),
                        &json!(issuer)
                    ),
                    "{who}: {claims}"
                );
                assert_eq!(claims["roles"], json!(["user"]), "{who}: {claims}");
            }
            Verdict::Refused(why) => panic!("{who} refused a token of ours: {why}"),
        }
    }
}

async fn verified_from_the_issuer_alone(backend: Backend, signing: &str, jws_alg: &str) {
    let t = tools().await;
    let store = Store::new(backend).await;
    let port = free_port().to_string();
    let issuer = format!("http://127.0.0.1:{port}");
    let s = store
        .start(&[
            ("USER_SERVICE__SERVER__PORT", port.as_str()),
            ("USER_SERVICE__AUTH__ISSUER", issuer.as_str()),
            ("USER_SERVICE__AUTH__SIGNING", signing),
            ("ADMIN_API_KEY", OPERATOR),
        ])
        .await;
    assert_eq!(s.base, issuer);
    let user_id = create_shop_and_alice(&s, OPERATOR).await;
    let old = login_alice(&s).await;
    both_accept(t, &issuer, &old, &user_id, jws_alg).await;

    // A flipped bit in the signature: both refuse it, as a bad signature (the key was found).
    let mut forged = old.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ascii");
    match pyjwt(t, &issuer, &forged).await {
        Verdict::Refused(why) => assert!(why.contains("InvalidSignatureError"), "{why}"),
        Verdict::Accepted { claims, .. } => panic!("PyJWT accepted a forged token: {claims}"),
    }
    match node_jose(t, &issuer, &forged).await {
        Verdict::Refused(why) => {
            assert!(why.contains("JWSSignatureVerificationFailed"), "{why}")
        }
        Verdict::Accepted { claims, .. } => panic!("jose accepted a forged token: {claims}"),
    }

    // After a rotation the new key signs; the key set holds both, so old and new tokens verify.
    let rotated = rotate(&s, OPERATOR).await;
    let new = login_alice(&s).await;
    assert_eq!(jwt_header(&new)["kid"], rotated["kid"]);
    assert_ne!(jwt_header(&new)["kid"], jwt_header(&old)["kid"]);
    both_accept(t, &issuer, &new, &user_id, jws_alg).await;
    both_accept(t, &issuer, &old, &user_id, jws_alg).await;
}

async fn eddsa_tokens(backend: Backend) {
    verified_from_the_issuer_alone(backend, "eddsa", "EdDSA").await;
}

async fn rs256_tokens(backend: Backend) {
    verified_from_the_issuer_alone(backend, "rs256", "RS256").await;
}

on_both!(eddsa_tokens, rs256_tokens);
