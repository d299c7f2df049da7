//! Access tokens (JWTs signed with HS256, EdDSA or RS256) and the hashing of opaque secrets
//! (refresh tokens, API keys).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Header, crypto, encode};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
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
    ///
    /// The token is taken apart here, once: jsonwebtoken's `decode` after our `decode_header` parsed
    /// the header twice and the claims twice, and wanted a `Validation` built per call, a tenth of a
    /// request's work on `GET /users/me`. What it checked with our `Validation` is checked here: the
    /// parts split as it splits them, the signature by its crypto under the key the header names (of
    /// the header's `alg`), our issuer, and no audience (`Validation` names none, so any `aud` is
    /// refused).
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> DomainResult<AccessClaims> {
        let (message, signature) = token.rsplit_once('.').ok_or(DomainError::TokenInvalid)?;
        let (header, payload) = message.rsplit_once('.').ok_or(DomainError::TokenInvalid)?;
        let header: Header =
            serde_json::from_slice(&base64url(header)?).map_err(|_| DomainError::TokenInvalid)?;
        let ring = self.ring().map_err(|_| DomainError::TokenInvalid)?;
        let key = ring
            .verifier_for(&header, now)
            .ok_or(DomainError::TokenInvalid)?;
        let signed = crypto::verify(signature, message.as_bytes(), &key.key, header.alg)
            .map_err(|_| DomainError::TokenInvalid)?;
        if !signed {
            return Err(DomainError::TokenInvalid);
        }
        let payload = base64url(payload)?;
        let claims: AccessClaims =
            serde_json::from_slice(&payload).map_err(|_| DomainError::TokenInvalid)?;
        let checked: Unclaimed =
            serde_json::from_slice(&payload).map_err(|_| DomainError::TokenInvalid)?;
        if claims.iss != self.issuer || checked.aud {
            return Err(DomainError::TokenInvalid);
        }
        // Saturating: a signed `exp` near i64::MAX must not overflow (found by fuzzing).
        if claims.exp.saturating_add(EXPIRY_LEEWAY_SECS) < now.timestamp() {
            return Err(DomainError::TokenExpired);
        }
        Ok(claims)
    }

    fn ring(&self) -> DomainResult<Arc<KeyRing>> {
        self.keys
            .current()
            .ok_or_else(|| DomainError::unexpected("signing keys are not loaded yet"))
    }
}

/// A JWT part: unpadded base64url, as jsonwebtoken reads it.
fn base64url(part: &str) -> DomainResult<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| DomainError::TokenInvalid)
}

/// The registered claims `AccessClaims` does not read, as jsonwebtoken's validation read them: an
/// `aud` it can parse (a string or a list of strings) refuses the token, and a repeated `aud` or
/// `nbf` makes the payload unreadable.
#[derive(Deserialize)]
struct Unclaimed {
    #[serde(default, deserialize_with = "audience_present")]
    aud: bool,
    #[serde(default, rename = "nbf")]
    _nbf: Option<IgnoredAny>,
}

fn audience_present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Audience {
        One(#[allow(dead_code)] String),
        Many(#[allow(dead_code)] Vec<String>),
    }
    // Unparsable or null is as good as absent to jsonwebtoken: only the value is consumed.
    Ok(matches!(Option::<Audience>::deserialize(d), Ok(Some(_))))
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

    /// `verify` takes tokens apart itself; it must accept exactly what jsonwebtoken's `decode` with
    /// the `Validation` it used to build accepted, on the payloads where the two could differ.
    #[test]
    fn accepts_what_jsonwebtoken_decode_accepted() -> DomainResult<()> {
        use jsonwebtoken::{Validation, decode};
        let tokens = AccessTokens::new(b"secret", "user-service", 900);
        let t0 = user().created_at;
        let base = format!(
            r#""sub":"{}","namespace":"shop","username":"alice","roles":[],"iat":{},"exp":{},"jti":"{}","ver":3"#,
            Uuid::nil(),
            t0.timestamp(),
            t0.timestamp() + 900,
            Uuid::nil()
        );
        let hs256 = r#"{"alg":"HS256","typ":"JWT"}"#;
        let cases = [
            (hs256, r#""iss":"user-service""#, true),
            (hs256, r#""iss":"user-service","aud":"x""#, false),
            (hs256, r#""iss":"user-service","aud":["x"]"#, false),
            (hs256, r#""iss":"user-service","aud":[]"#, false),
            (hs256, r#""iss":"user-service","aud":null"#, true),
            (hs256, r#""iss":"user-service","aud":5"#, true),
            (hs256, r#""iss":"user-service","aud":[1]"#, true),
            (
                hs256,
                r#""iss":"user-service","aud":null,"aud":null"#,
                false,
            ),
            (hs256, r#""iss":"user-service","nbf":1,"nbf":2"#, false),
            (
                hs256,
                r#""iss":"user-service","nbf":"later","other":{"a":[1]}"#,
                true,
            ),
            (hs256, r#""iss":"user-service","iss":"user-service""#, false),
            (hs256, r#""iss":"someone-else""#, false),
            (hs256, r#""iss":["user-service"]"#, false),
            (hs256, r#""other":1"#, false),
            (
                r#"{"alg":"HS256","kid":"k1"}"#,
                r#""iss":"user-service""#,
                false,
            ),
            (r#"{"alg":"HS384"}"#, r#""iss":"user-service""#, false),
            (
                r#"{"alg":"HS256","typ":"JWT","x":1}"#,
                r#""iss":"user-service""#,
                true,
            ),
        ];
        let key = EncodingKey::from_secret(b"secret");
        let b64 = |s: &str| {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&["user-service"]);
        let old = jsonwebtoken::DecodingKey::from_secret(b"secret");
        for (header, claims, valid) in cases {
            let message = format!("{}.{}", b64(header), b64(&format!("{{{base},{claims}}}")));
            let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256)
                .map_err(DomainError::unexpected)?;
            let jwt = format!("{message}.{signature}");
            // The old `verify`: the shared secret's key (no `kid`, HS256) for the header, then `decode`.
            let before = jsonwebtoken::decode_header(&jwt)
                .is_ok_and(|h| h.kid.is_none() && h.alg == Algorithm::HS256)
                && decode::<AccessClaims>(&jwt, &old, &validation).is_ok();
            let now = tokens.verify(&jwt, t0);
            assert_eq!(
                (before, now.is_ok()),
                (valid, valid),
                "{header} {claims}: {now:?}"
            );
            assert!(tokens.verify(&format!("{jwt}x"), t0).is_err());
            assert!(tokens.verify(&format!("x.{jwt}"), t0).is_err());
        }
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
