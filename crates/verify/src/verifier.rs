//! Discovery, and checking a token against the issuer's keys.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Validation, decode, decode_header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::jwks::{DEFAULT_REFETCH_INTERVAL, JwksCache};
use crate::{Claims, Error};

/// Expiry and not-before are checked with this much tolerance for clock skew, as the service does.
pub const DEFAULT_LEEWAY_SECS: u64 = 5;

/// The part of an OpenID Provider's discovery document this crate reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    /// The issuer, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Where the key set is.
    pub jwks_uri: String,
    /// The signing algorithms the issuer uses, if it says.
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// Fetches `{issuer}/.well-known/openid-configuration` and checks that it names `issuer` itself
/// (OpenID Connect Discovery 1.0, section 4.3), so a document cannot redirect trust elsewhere.
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<Discovery, Error> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let fail = |e: reqwest::Error| Error::Unavailable(format!("discovery {url}: {e}"));
    let doc: Discovery = client
        .get(&url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(fail)?
        .json()
        .await
        .map_err(fail)?;
    if doc.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(Error::Discovery(format!(
            "{url} names the issuer '{}', not '{issuer}'",
            doc.issuer
        )));
    }
    Ok(doc)
}

/// Verifies access tokens of one issuer. Cheap to clone (the clones share the key cache); build it
/// once at start and share it.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: Option<String>,
    leeway_secs: u64,
    jwks: JwksCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("jwks_uri", &self.inner.jwks.url())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier of the user service at `issuer` (its `auth.issuer`, a URL), finding the key set
    /// through the discovery document. Fails when the issuer cannot be reached.
    pub async fn discover(issuer: &str) -> Result<Self, Error> {
        Self::builder(issuer).build().await
    }

    /// A verifier with more settings than `discover` takes.
    pub fn builder(issuer: &str) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.to_owned(),
            jwks_uri: None,
            audience: None,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
            client: None,
        }
    }

    /// The issuer tokens must name.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The key set this verifier reads.
    pub fn jwks(&self) -> &JwksCache {
        &self.inner.jwks
    }

    /// The claims of a user-service access token: signed by a key of the issuer's set with that
    /// key's algorithm, with the issuer's `iss`, not expired, not before its `nbf`.
    pub async fn verify(&self, token: &str) -> Result<Claims, Error> {
        self.verify_as(token).await
    }

    /// The same checks as `verify`, the claims read into any type: for tokens of other issuers,
    /// whose claims are not the user service's.
    pub async fn verify_as<C: DeserializeOwned>(&self, token: &str) -> Result<C, Error> {
        let header = decode_header(token).map_err(|_| Error::Malformed)?;
        let key = self
            .inner
            .jwks
            .key_for(header.kid.as_deref(), header.alg)
            .await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.inner.leeway_secs;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.inner.issuer]);
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "iss".to_owned()]);
        match &self.inner.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        decode::<C>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(Error::from_jwt)
    }
}

/// Settings of a `Verifier`.
pub struct VerifierBuilder {
    issuer: String,
    jwks_uri: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
    refetch_interval: Duration,
    client: Option<reqwest::Client>,
}

impl VerifierBuilder {
    /// Reads the keys from `uri` instead of the one the discovery document names (and skips discovery).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Requires tokens to name `audience` in `aud` (the user service's own tokens carry none).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Tolerance for clock skew on `exp` and `nbf` (default `DEFAULT_LEEWAY_SECS`).
    pub fn leeway_secs(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// How often a token with an unknown `kid` may refetch the key set (default 5 s).
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The HTTP client for discovery and the key set (default: 10 s timeouts).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The verifier; fetches the discovery document unless a key set URI was given.
    pub async fn build(mut self) -> Result<Verifier, Error> {
        if self.jwks_uri.is_none() {
            let client = self.client()?;
            self.jwks_uri = Some(discover(&client, &self.issuer).await?.jwks_uri);
            self.client = Some(client);
        }
        self.build_with_jwks_uri()
    }

    /// The verifier, without any I/O: the key set URI must have been given (`jwks_uri`), and the
    /// keys are fetched when the first token needs them. For a caller that knows where an
    /// issuer's keys are and builds its verifiers outside an async context.
    pub fn build_with_jwks_uri(self) -> Result<Verifier, Error> {
        let client = self.client()?;
        let jwks_uri = self
            .jwks_uri
            .ok_or_else(|| Error::Discovery("no key set URI was given".into()))?;
        Ok(Verifier {
            inner: Arc::new(Inner {
                jwks: JwksCache::new(jwks_uri, client).with_refetch_interval(self.refetch_interval),
                issuer: self.issuer,
                audience: self.audience,
                leeway_secs: self.leeway_secs,
            }),
        })
    }

    fn client(&self) -> Result<reqwest::Client, Error> {
        match &self.client {
            Some(c) => Ok(c.clone()),
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| Error::Unavailable(e.to_string())),
        }
    }
}
