//! The verifier against a local issuer this test starts: a discovery document and a key set over
//! real HTTP, keys made the way the service makes them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use user_service_domain::model::SigningAlgorithm;
use user_service_domain::signing::{GeneratedKey, generate_key};
use user_service_verify::{Claims, Error, Verifier};

/// A key of the test issuer.
struct Key {
    generated: GeneratedKey,
}

impl Key {
    fn new(algorithm: SigningAlgorithm) -> Self {
        Self {
            generated: generate_key(algorithm).expect("key generation"),
        }
    }

    fn kid(&self) -> String {
        self.generated.kid.clone()
    }

    fn jwk(&self) -> Jwk {
        self.generated.public_jwk.clone()
    }

    fn sign(&self, claims: &Value) -> String {
        let der = &self.generated.private_der;
        let (alg, key) = match self.generated.algorithm {
            SigningAlgorithm::Rs256 => (Algorithm::RS256, EncodingKey::from_rsa_der(der)),
            _ => (Algorithm::EdDSA, EncodingKey::from_ed_der(der)),
        };
        let mut header = Header::new(alg);
        header.kid = Some(self.kid());
        encode(&header, claims, &key).expect("signing")
    }
}

/// The issuer: serves its discovery document and key set, counting fetches of the set.
struct Issuer {
    base: String,
    keys: Arc<Mutex<Vec<Jwk>>>,
    cache_control: Arc<Mutex<String>>,
    jwks_fetches: Arc<AtomicUsize>,
    /// While set, the key set answers 503 (the fetch is still counted).
    failing: Arc<AtomicBool>,
    /// What the discovery document says the issuer is; the base URL unless a test changes it.
    named_issuer: Arc<Mutex<Option<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Issuer {
    async fn start(keys: Vec<Jwk>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let keys = Arc::new(Mutex::new(keys));
        let cache_control = Arc::new(Mutex::new("public, max-age=300".to_owned()));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let named_issuer = Arc::new(Mutex::new(None));
        let server = {
            let (base, keys, cc, fetches, named, fail) = (
                base.clone(),
                keys.clone(),
                cache_control.clone(),
                jwks_fetches.clone(),
                named_issuer.clone(),
                failing.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        return;
                    };
                    let mut buf = vec![0u8; 8192];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]).to_string();
                    let path = request.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let (status, body, cache) = match path.as_str() {
                        "/.well-known/openid-configuration" => {
                            let issuer = named
                                .lock()
                                .expect("lock")
                                .clone()
                                .unwrap_or_else(|| base.clone());
                            let doc = json!({"issuer": issuer, "jwks_uri": format!("{base}/jwks"),
                                "id_token_signing_alg_values_supported": ["EdDSA", "RS256"]});
                            ("200 OK", doc.to_string(), "max-age=300".to_owned())
                        }
                        "/jwks" if fail.load(Ordering::SeqCst) => {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            (
                                "503 Service Unavailable",
                                "{}".to_owned(),
                                "no-store".to_owned(),
                            )
                        }
                        "/jwks" => {
                            fetches.fetch_add(1, Ordering::SeqCst);
                            let set = JwkSet {
                                keys: keys.lock().expect("lock").clone(),
                            };
                            (
                                "200 OK",
                                serde_json::to_string(&set).expect("json"),
                                cc.lock().expect("lock").clone(),
                            )
                        }
                        _ => ("404 Not Found", "{}".to_owned(), "no-store".to_owned()),
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncache-control: {cache}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            })
        };
        Self {
            base,
            keys,
            cache_control,
            jwks_fetches,
            failing,
            named_issuer,
            server,
        }
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    fn publish(&self, keys: Vec<Jwk>) {
        *self.keys.lock().expect("lock") = keys;
    }

    fn claims(&self, exp_in: i64) -> Value {
        let now = now();
        json!({"sub": "0190d6c5-7b6a-7cc0-8000-000000000001", "namespace": "shop", "username": "alice",
               "roles": ["user", "admin"], "iat": now, "exp": now + exp_in,
               "jti": "0190d6c5-7b6a-7cc0-8000-0000000000ff", "iss": self.base, "ver": 0})
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[tokio::test]
async fn discovery_then_typed_claims_of_eddsa_and_rs256_tokens() {
    let ed = Key::new(SigningAlgorithm::EdDsa);
    let rs = Key::new(SigningAlgorithm::Rs256);
    let issuer = Issuer::start(vec![ed.jwk(), rs.jwk()]).await;
    let verifier = Verifier::discover(&issuer.base).await.expect("discover");
    assert_eq!(verifier.issuer(), issuer.base);
    assert_eq!(verifier.jwks().url(), format!("{}/jwks", issuer.base));

    for key in [&ed, &rs] {
        let claims: Claims = verifier
            .verify(&key.sign(&issuer.claims(900)))
            .await
            .expect("valid token");
        assert_eq!(claims.username, "alice");
        assert_eq!(claims.namespace, "shop");
        assert_eq!(
            claims.user_id.to_string(),
            "0190d6c5-7b6a-7cc0-8000-000000000001"
        );
        assert_eq!(claims.roles, vec!["user", "admin"]);
        assert!(claims.has_role("admin") && !claims.has_role("root"));
        assert_eq!(claims.issuer, issuer.base);
        // A token without them (a service older than the claims) still reads.
        assert_eq!((claims.tenant_id, claims.email), (None, None));
    }
    let mut with = issuer.claims(900);
    with["tenant_id"] = json!("shop");
    with["email"] = json!("alice@example.com");
    let claims = verifier.verify(&ed.sign(&with)).await.expect("valid token");
    assert_eq!(
        (claims.tenant_id.as_deref(), claims.email.as_deref()),
        (Some("shop"), Some("alice@example.com"))
    );
    // Both verifications (and the discovery) used one fetch of the set: it is cached.
    assert_eq!(issuer.fetches(), 1);
}

#[tokio::test]
async fn the_set_is_kept_for_its_cache_control_lifetime() {
    let ed = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![ed.jwk()]).await;
    *issuer.cache_control.lock().expect("lock") = "no-cache".into();
    let verifier = Verifier::discover(&issuer.base).await.expect("discover");
    let token = ed.sign(&issuer.claims(900));
    for n in 1..=3 {
        verifier.verify(&token).await.expect("valid");
        assert_eq!(issuer.fetches(), n, "no-cache: fetched for every token");
    }
    *issuer.cache_control.lock().expect("lock") = "max-age=1".into();
    verifier.verify(&token).await.expect("valid");
    verifier.verify(&token).await.expect("valid");
    assert_eq!(issuer.fetches(), 4);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    verifier.verify(&token).await.expect("valid");
    assert_eq!(issuer.fetches(), 5, "refetched once max-age was over");
}

#[tokio::test]
async fn a_new_kid_refetches_the_set_but_made_up_ones_at_most_once_per_interval() {
    let old = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![old.jwk()]).await;
    let verifier = Verifier::builder(&issuer.base)
        .refetch_interval(Duration::from_millis(300))
        .build()
        .await
        .expect("discover");
    verifier
        .verify(&old.sign(&issuer.claims(900)))
        .await
        .expect("valid");
    assert_eq!(issuer.fetches(), 1);

    // The issuer rotates: tokens of the new key verify at once, after one refetch.
    let new = Key::new(SigningAlgorithm::EdDsa);
    issuer.publish(vec![old.jwk(), new.jwk()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    verifier
        .verify(&new.sign(&issuer.claims(900)))
        .await
        .expect("new key");
    assert_eq!(issuer.fetches(), 2);

    // A key the issuer never had: one refetch, then none until the interval has passed.
    let stranger = Key::new(SigningAlgorithm::EdDsa);
    let forged = stranger.sign(&issuer.claims(900));
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        assert!(matches!(
            verifier.verify(&forged).await,
            Err(Error::UnknownKey)
        ));
    }
    assert_eq!(issuer.fetches(), 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(matches!(
        verifier.verify(&forged).await,
        Err(Error::UnknownKey)
    ));
    assert_eq!(issuer.fetches(), 4);

    // A retired key that left the set no longer verifies once the set is refetched.
    issuer.publish(vec![new.jwk()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    verifier.jwks().refresh().await.expect("refresh");
    assert!(matches!(
        verifier.verify(&old.sign(&issuer.claims(900))).await,
        Err(Error::UnknownKey)
    ));
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    let ed = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![ed.jwk()]).await;
    let verifier = Verifier::discover(&issuer.base).await.expect("discover");
    let claims = issuer.claims(900);
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": ed.kid()})),
        b64(&claims)
    );
    assert!(matches!(
        verifier.verify(&alg_none).await,
        Err(Error::Malformed)
    ));

    // HS256 "signed" with the public key as the secret, under the real kid.
    let x = serde_json::to_value(ed.jwk()).expect("jwk")["x"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(ed.kid());
    let confused = encode(&hs, &claims, &EncodingKey::from_secret(x.as_bytes())).expect("sign");
    assert!(matches!(
        verifier.verify(&confused).await,
        Err(Error::UnknownKey)
    ));

    let expired = ed.sign(&issuer.claims(-60));
    assert!(matches!(
        verifier.verify(&expired).await,
        Err(Error::Expired)
    ));
    // Within the 5 s leeway it is still accepted.
    assert!(verifier.verify(&ed.sign(&issuer.claims(-2))).await.is_ok());

    let mut early = issuer.claims(900);
    early["nbf"] = json!(now() + 600);
    assert!(matches!(
        verifier.verify(&ed.sign(&early)).await,
        Err(Error::Invalid(_))
    ));

    let mut foreign = issuer.claims(900);
    foreign["iss"] = json!("https://someone-else.example");
    assert!(matches!(
        verifier.verify(&ed.sign(&foreign)).await,
        Err(Error::Invalid(_))
    ));

    let mut tampered = ed.sign(&claims);
    tampered.insert(tampered.len() - 2, 'x');
    assert!(verifier.verify(&tampered).await.is_err());
    assert!(matches!(
        verifier.verify("not a token").await,
        Err(Error::Malformed)
    ));
}

#[tokio::test]
async fn discovery_must_name_the_issuer_and_held_keys_survive_an_outage() {
    let ed = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![ed.jwk()]).await;
    *issuer.named_issuer.lock().expect("lock") = Some("https://evil.example".into());
    assert!(matches!(
        Verifier::discover(&issuer.base).await,
        Err(Error::Discovery(_))
    ));
    *issuer.named_issuer.lock().expect("lock") = None;

    *issuer.cache_control.lock().expect("lock") = "no-cache".into();
    let verifier = Verifier::discover(&issuer.base).await.expect("discover");
    let token = ed.sign(&issuer.claims(900));
    verifier.verify(&token).await.expect("valid");
    let base = issuer.base.clone();
    drop(issuer);
    // The issuer is gone; the keys held still verify.
    verifier.verify(&token).await.expect("held keys");

    let unreachable = Verifier::discover(&base).await;
    assert!(matches!(unreachable, Err(Error::Unavailable(_))));
}

#[tokio::test]
async fn a_failing_issuer_is_asked_again_once_per_interval_while_the_held_keys_verify() {
    let ed = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![ed.jwk()]).await;
    // Never cached: every verification would fetch the set, were it not for the failure pacing.
    *issuer.cache_control.lock().expect("lock") = "no-cache".into();
    let interval = Duration::from_millis(400);
    let verifier = Verifier::builder(&issuer.base)
        .refetch_interval(interval)
        .build()
        .await
        .expect("discover");
    let token = ed.sign(&issuer.claims(900));
    verifier.verify(&token).await.expect("valid");
    assert_eq!(issuer.fetches(), 1);
    issuer.failing.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        verifier.verify(&token).await.expect("held keys");
    }
    // One failed refetch, then the held keys serve without asking until the interval is over.
    assert_eq!(issuer.fetches(), 2);
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    verifier.verify(&token).await.expect("held keys");
    assert_eq!(issuer.fetches(), 3);
    // Back up: the set is read again at the next verification after the interval.
    issuer.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(interval + Duration::from_millis(100)).await;
    verifier.verify(&token).await.expect("valid");
    assert_eq!(issuer.fetches(), 4);
}

#[actix_web::test]
async fn the_actix_web_extractor_answers_401_in_the_service_error_shape() {
    use actix_web::{App, HttpResponse, test, web};

    let ed = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![ed.jwk()]).await;
    let verifier = Verifier::discover(&issuer.base).await.expect("discover");
    let app = test::init_service(App::new().app_data(verifier.clone()).route(
        "/hello",
        web::get().to(|c: Claims| async move { HttpResponse::Ok().body(c.username) }),
    ))
    .await;

    let token = ed.sign(&issuer.claims(900));
    let req = test::TestRequest::get()
        .uri("/hello")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(test::read_body(res).await, "alice");

    for (header, code) in [
        (None, "TOKEN_MISSING"),
        (Some("Bearer not-a-token".to_owned()), "TOKEN_INVALID"),
        (
            Some(format!("Bearer {}", ed.sign(&issuer.claims(-60)))),
            "TOKEN_EXPIRED",
        ),
    ] {
        let mut req = test::TestRequest::get().uri("/hello");
        if let Some(h) = header {
            req = req.insert_header(("Authorization", h));
        }
        let res = test::call_service(&app, req.to_request()).await;
        assert_eq!(res.status(), 401);
        assert!(
            res.headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer"))
        );
        let body: Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], code);
        assert_eq!(body["error"]["status_code"], 401);
    }
}

#[tokio::test]
async fn the_axum_extractor_reads_the_verifier_from_the_state() {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;

    let ed = Key::new(SigningAlgorithm::EdDsa);
    let issuer = Issuer::start(vec![ed.jwk()]).await;
    let verifier = Verifier::discover(&issuer.base).await.expect("discover");
    let token = ed.sign(&issuer.claims(900));

    let request = |auth: Option<String>| {
        let mut b = axum::http::Request::builder().uri("/hello");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).expect("request").into_parts().0
    };
    let mut parts = request(Some(format!("Bearer {token}")));
    let claims = Claims::from_request_parts(&mut parts, &verifier)
        .await
        .expect("claims");
    assert_eq!(claims.username, "alice");

    let mut parts = request(Some("Bearer forged".into()));
    let rejection = Claims::from_request_parts(&mut parts, &verifier)
        .await
        .expect_err("refused");
    let res = rejection.into_response();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));

    let mut parts = request(None);
    let rejection = Claims::from_request_parts(&mut parts, &verifier)
        .await
        .expect_err("refused");
    assert_eq!(rejection.code(), "TOKEN_MISSING");
}
