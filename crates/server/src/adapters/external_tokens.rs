//! `ExternalTokenVerifier` on `user-service-verify`: the crate downstream services use to check our
//! tokens checks the identity providers' tokens here (one verifier, two uses). One verifier per
//! configured issuer, each with its own cached key set.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use jsonwebtoken::{Algorithm, decode_header};
use serde_json::{Map, Value};
use user_service_domain::model::ExternalIssuer;
use user_service_domain::ports::{ExternalTokenRefusal, ExternalTokenVerifier};
use user_service_verify::{Error, Verifier};

use crate::config::ExternalIssuerSettings;

/// What API.md 7 allows an identity provider to sign with. The key set decides which of them a
/// given key may use; HMAC and `none` never verify.
const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// A request waits at most this long for an issuer's key set; while it is unreachable the keys
/// already held keep verifying.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct JwksExternalTokens {
    verifiers: HashMap<String, Verifier>,
}

impl JwksExternalTokens {
    /// Verifiers of `issuers`; nothing is fetched until a token of the issuer arrives.
    pub fn new(issuers: &[ExternalIssuerSettings]) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("HTTP client for the external issuers' keys: {e}"))?;
        let mut verifiers = HashMap::new();
        for i in issuers {
            let rules = i.rules();
            let mut builder = Verifier::builder(&i.issuer)
                .jwks_uri(i.jwks_url())
                .http_client(client.clone());
            if let Some(aud) = rules.audience {
                builder = builder.audience(aud);
            }
            let verifier = builder
                .build_with_jwks_uri()
                .map_err(|e| format!("external issuer '{}': {e}", i.issuer))?;
            verifiers.insert(i.issuer.clone(), verifier);
        }
        Ok(Self { verifiers })
    }
}

#[async_trait]
impl ExternalTokenVerifier for JwksExternalTokens {
    async fn verify(
        &self,
        issuer: &ExternalIssuer,
        token: &str,
    ) -> Result<Map<String, Value>, ExternalTokenRefusal> {
        let verifier = self
            .verifiers
            .get(&issuer.issuer)
            .ok_or(ExternalTokenRefusal::Invalid)?;
        let header = decode_header(token).map_err(|_| ExternalTokenRefusal::Invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(ExternalTokenRefusal::Invalid);
        }
        verifier.verify_as(token).await.map_err(|e| {
            if !e.is_unauthorized() {
                tracing::warn!(issuer = %issuer.issuer, error = %e, "cannot fetch an external issuer's keys");
            }
            match e {
                Error::Expired => ExternalTokenRefusal::Expired,
                Error::UnknownKey => ExternalTokenRefusal::UnknownKey,
                Error::Unavailable(_) | Error::Discovery(_) => ExternalTokenRefusal::Unavailable,
                Error::Missing | Error::Malformed | Error::Invalid(_) => {
                    ExternalTokenRefusal::Invalid
                }
            }
        })
    }
}
