//! Access tokens (JWTs signed with HS256, EdDSA or RS256) and the hashing of opaque secrets
//! (refresh tokens, API keys).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Header, Validation, decode, decode_header, encode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::model::{AccessClaims, User};
use crate::signing::{KeyRing, KeyStore};

/// Expiry is checked with at most this much tolerance for clock skew between services.
pub const EXPIRY_LEEWAY_SECS: i64 = 5;

/// Signs and checks access tokens with the keys of a `KeyStore`. Expiry is checked against the
/// domain's clock, not the system's, so the rules can be tested at any instant.
pub struct AccessTokens {
    keys: Arc<KeyStore>,
    issuer: String,
    ttl_secs: u64,
}

impl AccessTokens {
    /// HS256 with a shared secret.
    pub fn new(secret: &[u8], issuer: &str, ttl_secs: u64) -> Self {
        Self::with_keys(
            Arc::new(KeyStore::new(KeyRing::shared_secret(secret))),
            issuer,
            ttl_secs,
        )
    }

    /// Tokens signed with the active key of `keys` and verified with any key it still holds.
    pub fn with_keys(keys: Arc<KeyStore>, issuer: &str, ttl_secs: u64) -> Self {
        Self {
            keys,
            issuer: issuer.to_owned(),
            ttl_secs,
        }
    }

    /// How long a new access token lives.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// The `iss` claim of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A signed access token for `user` at `token_version`, carrying the active key's `kid`.
    pub fn issue(
        &self,
        user: &User,
        token_version: i64,
        jti: Uuid,
        now: DateTime<Utc>,
    ) -> DomainResult<String> {
        let ring = self.ring()?;
        let active = ring.active();
        let iat = now.timestamp();
        let claims = AccessClaims {
            sub: user.id,
            namespace: user.namespace.clone(),
            username: user.username.clone(),
            roles: user.roles.clone(),
            iat,
            exp: iat + self.ttl_secs as i64,
            jti,
            iss: self.issuer.clone(),
            ver: token_version,
            email: user.email.clone(),
            tenant_id: user.namespace.clone(),
        };
        let mut header = Header::new(active.algorithm.jwt());
        header.kid = active.kid.clone();
        encode(&header, &claims, &active.key).map_err(DomainError::unexpected)
    }

    /// The claims of a token signed by one of our keys, with our issuer, unexpired at `now` (give or
    /// take `EXPIRY_LEEWAY_SECS`). Anything else, including an unknown `kid` or an `alg` other than
    /// its key's, is `TokenInvalid`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> DomainResult<AccessClaims> {
        let header = decode_header(token).map_err(|_| DomainError::TokenInvalid)?;
        let ring = self.ring().map_err(|_| DomainError::TokenInvalid)?;
        let key = ring
            .verifier_for(&header, now)
            .ok_or(DomainError::TokenInvalid)?;
        let mut validation = Validation::new(key.algorithm.jwt());
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[&self.issuer]);
        let data = decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(|_| DomainError::TokenInvalid)?;
        // Saturating: a signed `exp` near i64::MAX must not overflow (found by fuzzing).
        if data.claims.exp.saturating_add(EXPIRY_LEEWAY_SECS) < now.timestamp() {
            return Err(DomainError::TokenExpired);
        }
        Ok(data.claims)
    }

    fn ring(&self) -> DomainResult<Arc<KeyRing>> {
        self.keys
            .current()
            .ok_or_else(|| DomainError::unexpected("signing keys are not loaded yet"))
    }
}

/// The stored form of an opaque secret: hex SHA-256. The secrets carry 256 random bits, so a fast
/// hash is enough; nothing else about them is ever stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets in time independent of where they differ (and of their lengths).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use jsonwebtoken::{Algorithm, EncodingKey};
    use std::collections::BTreeMap;

    fn user() -> User {
        let t = Utc
            .timestamp_opt(1_700_000_000, 0)
            .single()
            .unwrap_or_default();
        User {
            id: Uuid::nil(),
            namespace: "shop".into(),
            username: "alice".into(),
            email: None,
            email_verified: false,
            password_hash: None,
            full_name: None,
            first_name: None,
            last_name: None,
            phone: None,
            avatar_url: None,
            avatar_key: None,
            extra: BTreeMap::new(),
            roles: vec!["user".into()],
            is_active: true,
            token_version: 3,
            created_at: t,
            updated_at: t,
            deleted_at: None,
        }
    }

    /// Fuzzing found it (`fuzz/seeds/tokens/claims-max-exp`): claims signed with the key whose `exp`
    /// is i64::MAX overflowed the leeway addition, a panic in a debug build.
    #[test]
    fn an_expiry_at_the_end_of_time_does_not_overflow() -> DomainResult<()> {
        let tokens = AccessTokens::new(b"secret", "user-service", 900);
        let u = user();
        let claims = AccessClaims {
            sub: u.id,
            namespace: u.namespace.clone(),
            username: u.username.clone(),
            roles: vec![],
            iat: 0,
            exp: i64::MAX,
            jti: Uuid::nil(),
            iss: "user-service".into(),
            ver: 3,
            email: None,
            tenant_id: u.namespace.clone(),
        };
        let jwt = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"secret"),
        )
        .map_err(DomainError::unexpected)?;
        assert_eq!(tokens.verify(&jwt, u.created_at)?, claims);
        Ok(())
    }

    #[test]
    fn round_trip_expiry_with_leeway_and_foreign_signatures() -> DomainResult<()> {
        let tokens = AccessTokens::new(b"secret", "user-service", 900);
        let u = user();
        let t0 = u.created_at;
        let jwt = tokens.issue(&u, 3, Uuid::nil(), t0)?;
        let claims = tokens.verify(&jwt, t0)?;
        assert_eq!(
            (claims.sub, claims.ver, claims.exp - claims.iat),
            (u.id, 3, 900)
        );
        assert_eq!(claims.namespace, "shop");
        assert!(
            tokens
                .verify(&jwt, t0 + chrono::Duration::seconds(905))
                .is_ok()
        );
        assert!(matches!(
            tokens.verify(&jwt, t0 + chrono::Duration::seconds(906)),
            Err(DomainError::TokenExpired)
        ));

        let other = AccessTokens::new(b"other", "user-service", 900);
        assert!(matches!(
            other.verify(&jwt, t0),
            Err(DomainError::TokenInvalid)
        ));
        let other_issuer = AccessTokens::new(b"secret", "someone-else", 900);
        assert!(matches!(
            other_issuer.verify(&jwt, t0),
            Err(DomainError::TokenInvalid)
        ));
        assert!(matches!(
            tokens.verify("not.a.jwt", t0),
            Err(DomainError::TokenInvalid)
        ));
        Ok(())
    }

    /// The payload as a downstream service reads it: the JSON object, not our struct.
    fn payload(jwt: &str) -> serde_json::Value {
        use base64::Engine as _;
        let part = jwt.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[test]
    fn email_is_claimed_when_the_user_has_one_and_tenant_id_always() -> DomainResult<()> {
        let tokens = AccessTokens::new(b"secret", "user-service", 900);
        let mut u = user();
        let without = tokens.issue(&u, 3, Uuid::nil(), u.created_at)?;
        let p = payload(&without);
        assert_eq!(p["tenant_id"], "shop");
        assert_eq!(p["namespace"], "shop");
        assert!(p.get("email").is_none(), "{p}");
        let claims = tokens.verify(&without, u.created_at)?;
        assert_eq!((claims.email, claims.tenant_id.as_str()), (None, "shop"));

        u.email = Some("alice@example.com".into());
        let with = tokens.issue(&u, 3, Uuid::nil(), u.created_at)?;
        assert_eq!(payload(&with)["email"], "alice@example.com");
        let claims = tokens.verify(&with, u.created_at)?;
        assert_eq!(claims.email.as_deref(), Some("alice@example.com"));
        assert_eq!(claims.tenant_id, "shop");
        Ok(())
    }

    /// A token signed before `email` and `tenant_id` existed stays valid until it expires.
    #[test]
    fn tokens_without_the_new_claims_still_verify() -> DomainResult<()> {
        let tokens = AccessTokens::new(b"secret", "user-service", 900);
        let u = user();
        let old = serde_json::json!({
            "sub": u.id, "namespace": "shop", "username": "alice", "roles": ["user"],
            "iat": u.created_at.timestamp(), "exp": u.created_at.timestamp() + 900,
            "jti": Uuid::nil(), "iss": "user-service", "ver": 3,
        });
        let jwt = encode(
            &Header::new(Algorithm::HS256),
            &old,
            &EncodingKey::from_secret(b"secret"),
        )
        .map_err(DomainError::unexpected)?;
        let claims = tokens.verify(&jwt, u.created_at)?;
        assert_eq!((claims.sub, claims.ver, claims.email), (u.id, 3, None));
        Ok(())
    }

    #[test]
    fn secrets() {
        assert_eq!(hash_secret("abc").len(), 64);
        assert_ne!(hash_secret("abc"), hash_secret("abd"));
        assert!(secrets_equal("key", "key"));
        assert!(!secrets_equal("key", "key2"));
    }
}
