//! The signing key rules: which key signs, which verify, when a retired key leaves the set.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::AlgorithmParameters;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

use crate::error::{DomainError, DomainResult};
use crate::model::{AccessClaims, SigningAlgorithm, SigningKeyRecord};
use crate::ports::{Clock, InlineKeyGenerator, ManualClock, SigningKeyRepository};
use crate::services::SigningKeyService;
use crate::services::auth::new_user;
use crate::signing::{KEY_PICKUP_SECS, KeySealer};
use crate::tokens::{AccessTokens, EXPIRY_LEEWAY_SECS};

use super::test_support::{ACCESS_TTL, secs};

const ISSUER: &str = "https://id.example.com";

/// The repository's contract in memory: at most one active key, rotations atomic.
#[derive(Default)]
struct MemoryKeys {
    rows: Mutex<Vec<SigningKeyRecord>>,
}

#[async_trait]
impl SigningKeyRepository for MemoryKeys {
    async fn list(&self, retired_after: DateTime<Utc>) -> DomainResult<Vec<SigningKeyRecord>> {
        let rows = self
            .rows
            .lock()
            .map_err(|_| DomainError::unexpected("poisoned"))?;
        Ok(rows
            .iter()
            .filter(|r| r.retired_at.is_none_or(|at| at > retired_after))
            .cloned()
            .collect())
    }
    async fn insert_first(&self, key: &SigningKeyRecord) -> DomainResult<bool> {
        let mut rows = self
            .rows
            .lock()
            .map_err(|_| DomainError::unexpected("poisoned"))?;
        if rows.iter().any(|r| r.retired_at.is_none()) {
            return Ok(false);
        }
        rows.push(key.clone());
        Ok(true)
    }
    async fn rotate(&self, key: &SigningKeyRecord, now: DateTime<Utc>) -> DomainResult<bool> {
        let mut rows = self
            .rows
            .lock()
            .map_err(|_| DomainError::unexpected("poisoned"))?;
        for r in rows.iter_mut().filter(|r| r.retired_at.is_none()) {
            r.retired_at = Some(now);
        }
        rows.push(key.clone());
        Ok(true)
    }
}

struct Instance {
    keys: SigningKeyService,
    tokens: AccessTokens,
}

fn instance(
    algorithm: SigningAlgorithm,
    repo: &Arc<MemoryKeys>,
    clock: &Arc<ManualClock>,
    secret: &[u8],
) -> DomainResult<Instance> {
    let keys = SigningKeyService::stored(
        algorithm,
        ISSUER,
        repo.clone(),
        Arc::new(InlineKeyGenerator),
        KeySealer::new(secret),
        clock.clone(),
        ACCESS_TTL,
    )?;
    let tokens = keys.access_tokens(ACCESS_TTL);
    Ok(Instance { keys, tokens })
}

async fn started(
    algorithm: SigningAlgorithm,
    repo: &Arc<MemoryKeys>,
    clock: &Arc<ManualClock>,
) -> DomainResult<Instance> {
    let i = instance(algorithm, repo, clock, b"key secret")?;
    i.keys.start().await?;
    Ok(i)
}

fn token(i: &Instance, clock: &ManualClock) -> DomainResult<String> {
    let user = new_user(uuid::Uuid::now_v7(), "shop", "alice", None, clock.now());
    i.tokens.issue(&user, 0, uuid::Uuid::now_v7(), clock.now())
}

fn kid_of(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid)
}

fn jwks_kids(i: &Instance) -> Vec<String> {
    i.keys
        .jwks()
        .keys
        .into_iter()
        .filter_map(|k| k.common.key_id)
        .collect()
}

#[tokio::test]
async fn the_first_start_makes_one_key_that_signs_and_is_published() -> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    let a = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let b = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    assert_eq!(repo.list(clock.now()).await?.len(), 1, "one key for both");
    let kid = a.keys.active_kid();
    assert!(kid.is_some());
    assert_eq!(b.keys.active_kid(), kid);

    let jwt = token(&a, &clock)?;
    assert_eq!(kid_of(&jwt), kid);
    let header = jsonwebtoken::decode_header(&jwt).map_err(DomainError::unexpected)?;
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(b.tokens.verify(&jwt, clock.now())?.iss, ISSUER);

    let jwks = serde_json::to_value(a.keys.jwks()).map_err(DomainError::unexpected)?;
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert_eq!(key["use"].as_str(), Some("sig"));
    assert_eq!(key["kid"].as_str(), kid.as_deref());
    assert!(key.get("d").is_none(), "no private part: {key}");
    // The stored private key is sealed, not the DER itself.
    let stored = repo.list(clock.now()).await?;
    assert_eq!(stored[0].sealed_private_key.len(), 1 + 24 + 48 + 16);
    Ok(())
}

#[tokio::test]
async fn a_rotated_key_verifies_until_its_last_token_expired_then_leaves_the_set()
-> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    let a = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let other = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let old_kid = a.keys.active_kid().unwrap_or_default();
    let old_token = token(&a, &clock)?;

    clock.advance(secs(60));
    let info = a.keys.rotate().await?;
    assert_ne!(info.kid, old_kid);
    assert_eq!(info.algorithm, SigningAlgorithm::EdDsa);
    let new_token = token(&a, &clock)?;
    assert_eq!(kid_of(&new_token), Some(info.kid.clone()));
    assert_eq!(jwks_kids(&a), vec![old_kid.clone(), info.kid.clone()]);
    assert!(a.tokens.verify(&old_token, clock.now()).is_ok());

    // The other instance signs with the old key until it reloads (within KEY_PICKUP_SECS), and
    // verifies the new key's tokens only after it did.
    clock.advance(secs(50));
    let late_old_token = token(&other, &clock)?;
    assert_eq!(kid_of(&late_old_token), Some(old_kid.clone()));
    assert!(matches!(
        other.tokens.verify(&new_token, clock.now()),
        Err(DomainError::TokenInvalid)
    ));
    other.keys.refresh().await?;
    assert_eq!(other.keys.active_kid(), Some(info.kid.clone()));
    assert!(other.tokens.verify(&new_token, clock.now()).is_ok());

    // The first old token lives to its expiry (and the leeway): 900 s after t0.
    clock.advance(secs(ACCESS_TTL as i64 - 110 + EXPIRY_LEEWAY_SECS));
    assert!(a.tokens.verify(&old_token, clock.now()).is_ok());
    clock.advance(secs(1));
    assert!(matches!(
        a.tokens.verify(&old_token, clock.now()),
        Err(DomainError::TokenExpired)
    ));
    // The one signed in the pickup window lives on, so its key stays published.
    assert!(a.tokens.verify(&late_old_token, clock.now()).is_ok());
    assert_eq!(jwks_kids(&a).len(), 2);
    clock.advance(secs(109));
    assert!(a.tokens.verify(&late_old_token, clock.now()).is_ok());

    // KEY_PICKUP_SECS + TTL + leeway after the rotation no token of the old key can be alive: it
    // leaves the set on every instance, with or without a reload.
    clock.advance(secs(KEY_PICKUP_SECS - 50));
    assert_eq!(jwks_kids(&a), vec![info.kid.clone()]);
    other.keys.refresh().await?;
    assert_eq!(jwks_kids(&other), vec![info.kid.clone()]);
    assert!(matches!(
        a.tokens.verify(&late_old_token, clock.now()),
        Err(DomainError::TokenInvalid)
    ));
    let fresh = token(&other, &clock)?;
    assert_eq!(kid_of(&fresh), Some(info.kid.clone()));
    assert!(a.tokens.verify(&fresh, clock.now()).is_ok());
    Ok(())
}

#[tokio::test]
async fn tokens_that_are_not_ours_are_invalid() -> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    let a = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let kid = a.keys.active_kid();
    let good = token(&a, &clock)?;
    let claims: AccessClaims = a.tokens.verify(&good, clock.now())?;
    let body = good.split('.').nth(1).unwrap_or_default().to_owned();

    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{body}.",
        b64(serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}))
    );
    let jwks = a.keys.jwks();
    let x = match &jwks.keys[0].algorithm {
        AlgorithmParameters::OctetKeyPair(p) => p.x.clone(),
        _ => String::new(),
    };
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = kid.clone();
    let mut public_as_secret = Vec::new();
    for secret in [
        x.as_bytes().to_vec(),
        URL_SAFE_NO_PAD.decode(&x).unwrap_or_default(),
        serde_json::to_vec(&jwks.keys[0]).unwrap_or_default(),
    ] {
        public_as_secret.push(
            encode(&hs_header, &claims, &EncodingKey::from_secret(&secret))
                .map_err(DomainError::unexpected)?,
        );
        public_as_secret.push(
            encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(&secret),
            )
            .map_err(DomainError::unexpected)?,
        );
    }
    let other_key = started(SigningAlgorithm::EdDsa, &Arc::default(), &clock).await?;
    let unknown_kid = token(&other_key, &clock)?;
    let mut tampered = good.clone();
    tampered.push('A');

    for bad in [alg_none, unknown_kid, tampered, "not.a.jwt".into()]
        .into_iter()
        .chain(public_as_secret)
    {
        assert!(
            matches!(
                a.tokens.verify(&bad, clock.now()),
                Err(DomainError::TokenInvalid)
            ),
            "{bad}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn rs256_keys_sign_and_publish_their_modulus() -> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    let a = started(SigningAlgorithm::Rs256, &repo, &clock).await?;
    let jwt = token(&a, &clock)?;
    let header = jsonwebtoken::decode_header(&jwt).map_err(DomainError::unexpected)?;
    assert_eq!(
        (header.alg, header.kid.clone()),
        (Algorithm::RS256, a.keys.active_kid())
    );
    assert!(a.tokens.verify(&jwt, clock.now()).is_ok());
    let jwks = serde_json::to_value(a.keys.jwks()).map_err(DomainError::unexpected)?;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str(), key["e"].as_str()),
        (Some("RSA"), Some("RS256"), Some("AQAB"))
    );
    let n = URL_SAFE_NO_PAD
        .decode(key["n"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(n.len() * 8, crate::signing::RSA_BITS);
    assert!(key.get("d").is_none() && key.get("p").is_none());

    // Changing auth.signing makes a key of the new algorithm active; the old one verifies on.
    let ed = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let ed_token = token(&ed, &clock)?;
    assert_eq!(
        jsonwebtoken::decode_header(&ed_token).map(|h| h.alg).ok(),
        Some(Algorithm::EdDSA)
    );
    assert!(ed.tokens.verify(&jwt, clock.now()).is_ok());
    assert_eq!(ed.keys.jwks().keys.len(), 2);
    Ok(())
}

#[tokio::test]
async fn another_key_secret_cannot_open_the_keys() -> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let wrong = instance(SigningAlgorithm::EdDsa, &repo, &clock, b"another secret")?;
    let err = wrong.keys.start().await.err().map(|e| {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push_str(&format!(": {s}"));
            source = s.source();
        }
        chain
    });
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("auth.key_secret")),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_shared_secret_has_nothing_to_rotate_or_publish() -> DomainResult<()> {
    let clock = Arc::new(ManualClock::new());
    let keys =
        SigningKeyService::shared_secret(b"a secret of enough length", ISSUER, clock.clone());
    keys.start().await?;
    keys.refresh().await?;
    assert_eq!(keys.algorithm(), SigningAlgorithm::Hs256);
    assert!(keys.jwks().keys.is_empty());
    assert_eq!(keys.active_kid(), None);
    assert!(matches!(keys.rotate().await, Err(DomainError::Conflict(_))));
    let tokens = keys.access_tokens(ACCESS_TTL);
    let user = new_user(uuid::Uuid::now_v7(), "shop", "alice", None, clock.now());
    let jwt = tokens.issue(&user, 0, uuid::Uuid::now_v7(), clock.now())?;
    assert_eq!(kid_of(&jwt), None);
    assert!(tokens.verify(&jwt, clock.now()).is_ok());
    Ok(())
}

#[tokio::test]
async fn only_the_operator_rotates_over_the_api() -> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    let a = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    let before = a.keys.active_kid();
    assert!(matches!(
        a.keys.rotate_for(None).await,
        Err(DomainError::ApiKeyInvalid)
    ));
    let service = crate::model::Principal::Service {
        namespace: "shop".into(),
    };
    assert!(matches!(
        a.keys.rotate_for(Some(&service)).await,
        Err(DomainError::Forbidden(_))
    ));
    assert_eq!(a.keys.active_kid(), before, "nothing rotated");
    let info = a
        .keys
        .rotate_for(Some(&crate::model::Principal::Operator))
        .await?;
    assert_eq!(a.keys.active_kid(), Some(info.kid));
    Ok(())
}

#[tokio::test]
async fn after_a_change_of_algorithm_discovery_lists_both_until_the_old_key_leaves()
-> DomainResult<()> {
    let repo = Arc::new(MemoryKeys::default());
    let clock = Arc::new(ManualClock::new());
    let ed = started(SigningAlgorithm::EdDsa, &repo, &clock).await?;
    assert_eq!(ed.keys.algorithms(), vec![SigningAlgorithm::EdDsa]);
    let old = token(&ed, &clock)?;
    // auth.signing changed to rs256: the new instance's first start retires the Ed25519 key.
    let rs = started(SigningAlgorithm::Rs256, &repo, &clock).await?;
    assert_eq!(
        rs.keys.algorithms(),
        vec![SigningAlgorithm::Rs256, SigningAlgorithm::EdDsa]
    );
    assert_eq!(rs.tokens.verify(&old, clock.now())?.username, "alice");
    clock.advance(crate::signing::retired_key_lifetime(ACCESS_TTL) + secs(1));
    rs.keys.refresh().await?;
    assert_eq!(rs.keys.algorithms(), vec![SigningAlgorithm::Rs256]);
    Ok(())
}
