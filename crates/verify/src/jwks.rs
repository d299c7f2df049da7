//! A JSON Web Key Set fetched over HTTP and cached for its `Cache-Control` lifetime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::Mutex;

use crate::Error;

/// How long a key set is kept when its response says nothing about caching.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
/// However long a response asks to be cached, it is fetched again after this.
pub const MAX_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// An unknown `kid` refetches the set at most this often, so tokens with made-up key ids cannot
/// turn into a flood of requests to the issuer.
pub const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(5);

/// One verification key of the set.
#[derive(Clone)]
pub struct VerificationKey {
    /// Its key id (`kid`), if the set gave one.
    pub kid: Option<String>,
    /// The algorithms a token may name to be checked with it: the JWK's `alg` when it has one, else
    /// those its key type is made for. Never an HMAC algorithm: a public key is no shared secret.
    pub algorithms: Vec<Algorithm>,
    /// The key itself.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// The key of `jwk`, or `None` for a key this crate does not verify with: an encryption key, a
    /// symmetric key, or a type or algorithm it does not know.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
            return None;
        }
        let for_type: &[Algorithm] = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            AlgorithmParameters::EllipticCurve(p) => match p.curve {
                EllipticCurve::P256 => &[Algorithm::ES256],
                EllipticCurve::P384 => &[Algorithm::ES384],
                _ => &[],
            },
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                &[Algorithm::EdDSA]
            }
            _ => &[],
        };
        let algorithms: Vec<Algorithm> = match jwk.common.key_algorithm {
            Some(alg) => {
                let alg = Algorithm::try_from(alg).ok()?;
                for_type.iter().copied().filter(|a| *a == alg).collect()
            }
            None => for_type.to_vec(),
        };
        if algorithms.is_empty() {
            return None;
        }
        Some(Self {
            kid: jwk.common.key_id.clone(),
            algorithms,
            key: DecodingKey::from_jwk(jwk).ok()?,
        })
    }
}

struct Cached {
    keys: Vec<Arc<VerificationKey>>,
    expires: Instant,
}

struct State {
    cached: Option<Cached>,
    last_fetch: Option<Instant>,
}

/// The key set at one URL, fetched when first needed, again when its `Cache-Control` lifetime is
/// over, and again (at most once per refetch interval) when a token names a key it does not hold,
/// as after a rotation at the issuer. Fetches are serialised: many requests needing the set at once
/// cause one fetch. When a refetch fails, the keys already held keep serving, and the issuer is
/// asked again only after the refetch interval.
pub struct JwksCache {
    url: String,
    client: reqwest::Client,
    refetch_interval: Duration,
    state: Mutex<State>,
}

impl JwksCache {
    /// A cache of the set at `url`, fetched with `client`.
    pub fn new(url: impl Into<String>, client: reqwest::Client) -> Self {
        Self {
            url: url.into(),
            client,
            refetch_interval: DEFAULT_REFETCH_INTERVAL,
            state: Mutex::new(State {
                cached: None,
                last_fetch: None,
            }),
        }
    }

    /// Sets how often an unknown `kid` may refetch the set (default `DEFAULT_REFETCH_INTERVAL`).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Where the set is fetched from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key for a token naming `kid` (or none) and `alg`. With no `kid`, the one key of the set
    /// that fits `alg`, if exactly one does. `Error::UnknownKey` when no key fits, even after a refetch.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerificationKey>, Error> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let fresh = state.cached.as_ref().is_some_and(|c| now < c.expires);
        if !fresh {
            self.fetch_into(&mut state, now).await?;
        }
        if let Some(key) = find(&state, kid, alg) {
            return Ok(key);
        }
        let may_refetch = state
            .last_fetch
            .is_none_or(|at| now.duration_since(at) >= self.refetch_interval);
        if fresh && may_refetch {
            self.fetch_into(&mut state, now).await?;
            if let Some(key) = find(&state, kid, alg) {
                return Ok(key);
            }
        }
        Err(Error::UnknownKey)
    }

    /// Fetches the set now, whatever the cache holds.
    pub async fn refresh(&self) -> Result<(), Error> {
        let mut state = self.state.lock().await;
        self.fetch_into(&mut state, Instant::now()).await
    }

    async fn fetch_into(&self, state: &mut State, now: Instant) -> Result<(), Error> {
        state.last_fetch = Some(now);
        match self.fetch().await {
            Ok((keys, max_age)) => {
                state.cached = Some(Cached {
                    keys,
                    expires: now + max_age,
                });
                Ok(())
            }
            // The keys held are still the issuer's keys; a short outage must not fail every
            // request. They are tried again after the refetch interval, not by every request (each
            // would wait for the failing fetch, one after the other).
            Err(e) if state.cached.is_some() => {
                tracing::warn!(url = %self.url, error = %e, "refetching the JWKS failed; keeping the keys held");
                if let Some(c) = state.cached.as_mut() {
                    c.expires = c.expires.max(now + self.refetch_interval);
                }
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn fetch(&self) -> Result<(Vec<Arc<VerificationKey>>, Duration), Error> {
        let unavailable = |e: reqwest::Error| Error::Unavailable(format!("JWKS {}: {e}", self.url));
        let res = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(unavailable)?;
        let max_age = res
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map_or(DEFAULT_MAX_AGE, max_age);
        let set: JwkSet = res.json().await.map_err(unavailable)?;
        let keys = set
            .keys
            .iter()
            .filter_map(VerificationKey::from_jwk)
            .map(Arc::new)
            .collect();
        Ok((keys, max_age))
    }
}

fn find(state: &State, kid: Option<&str>, alg: Algorithm) -> Option<Arc<VerificationKey>> {
    let keys = &state.cached.as_ref()?.keys;
    let mut fitting = keys
        .iter()
        .filter(|k| k.algorithms.contains(&alg))
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid);
    let first = fitting.next()?;
    // Without a kid the choice must be unambiguous.
    if kid.is_none() && fitting.next().is_some() {
        return None;
    }
    Some(first.clone())
}

/// The lifetime a `Cache-Control` value allows: `no-store` and `no-cache` none, else `max-age`
/// (capped at `MAX_MAX_AGE`), else `DEFAULT_MAX_AGE`.
pub fn max_age(cache_control: &str) -> Duration {
    let mut age = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    age.map_or(DEFAULT_MAX_AGE, |a| a.min(MAX_MAX_AGE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_lifetimes() {
        assert_eq!(max_age("public, max-age=300"), Duration::from_secs(300));
        assert_eq!(max_age("Max-Age=60"), Duration::from_secs(60));
        assert_eq!(max_age("no-store"), Duration::ZERO);
        assert_eq!(max_age("max-age=60, no-cache"), Duration::ZERO);
        assert_eq!(max_age("public"), DEFAULT_MAX_AGE);
        assert_eq!(max_age("max-age=abc"), DEFAULT_MAX_AGE);
        assert_eq!(max_age("max-age=99999999999"), MAX_MAX_AGE);
    }
}
