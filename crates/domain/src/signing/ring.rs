//! The keys one instance holds: the one that signs and those that still verify, and the rules that
//! decide which is which.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, EncodingKey, Header};

use crate::error::{DomainError, DomainResult};
use crate::model::{SigningAlgorithm, SigningKeyRecord};
use crate::signing::keygen::encoding_key;
use crate::signing::sealing::KeySealer;
use crate::tokens::EXPIRY_LEEWAY_SECS;

/// Every instance reloads the keys at least this often, so a rotation reaches all of them within
/// this time (API.md 2.5: 60 seconds).
pub const KEY_PICKUP_SECS: i64 = 60;

/// How long a key verifies after it stopped signing. Other instances may sign with it for up to
/// `KEY_PICKUP_SECS` after the rotation, each such token lives `access_ttl_secs`, and expiry is checked
/// with `EXPIRY_LEEWAY_SECS` of tolerance: past all three no live token can carry it.
pub fn retired_key_lifetime(access_ttl_secs: u64) -> Duration {
    let ttl = i64::try_from(access_ttl_secs).unwrap_or(i64::MAX / 4);
    Duration::seconds(ttl.saturating_add(KEY_PICKUP_SECS + EXPIRY_LEEWAY_SECS))
}

/// The key that signs new tokens.
pub(crate) struct ActiveKey {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) key: EncodingKey,
}

/// A key that may verify a token, for as long as `verifies_until` allows.
pub(crate) struct VerifyingKey {
    kid: Option<String>,
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) key: DecodingKey,
    /// Published in the JWKS; `None` for a shared secret, which is never published.
    jwk: Option<Jwk>,
    /// `None` while the key is active.
    verifies_until: Option<DateTime<Utc>>,
}

impl VerifyingKey {
    fn verifies_at(&self, now: DateTime<Utc>) -> bool {
        self.verifies_until.is_none_or(|until| now < until)
    }
}

/// One consistent set of keys: exactly one signs; it and the recently retired ones verify.
pub struct KeyRing {
    active: ActiveKey,
    verifying: Vec<VerifyingKey>,
}

impl KeyRing {
    /// The HS256 ring: the shared secret signs and verifies, tokens carry no `kid`, nothing is published.
    pub fn shared_secret(secret: &[u8]) -> Self {
        Self {
            active: ActiveKey {
                kid: None,
                algorithm: SigningAlgorithm::Hs256,
                key: EncodingKey::from_secret(secret),
            },
            verifying: vec![VerifyingKey {
                kid: None,
                algorithm: SigningAlgorithm::Hs256,
                key: DecodingKey::from_secret(secret),
                jwk: None,
                verifies_until: None,
            }],
        }
    }

    /// The ring of stored keys: the one active record signs (its private key opened with `sealer`);
    /// every record verifies until `retired_key_lifetime` after its retirement.
    pub fn from_records(
        records: &[SigningKeyRecord],
        sealer: &KeySealer,
        access_ttl_secs: u64,
    ) -> DomainResult<Self> {
        let mut active = None;
        let mut verifying = Vec::with_capacity(records.len());
        for r in records {
            let jwk: Jwk = serde_json::from_str(&r.public_jwk).map_err(DomainError::unexpected)?;
            let key = DecodingKey::from_jwk(&jwk).map_err(DomainError::unexpected)?;
            if r.retired_at.is_none() {
                if active.is_some() {
                    return Err(DomainError::unexpected("more than one active signing key"));
                }
                let der = sealer
                    .open(&r.kid, &r.sealed_private_key)
                    .map_err(DomainError::unexpected)?;
                active = Some(ActiveKey {
                    kid: Some(r.kid.clone()),
                    algorithm: r.algorithm,
                    key: encoding_key(r.algorithm, &der)?,
                });
            }
            verifying.push(VerifyingKey {
                kid: Some(r.kid.clone()),
                algorithm: r.algorithm,
                key,
                jwk: Some(jwk),
                verifies_until: r
                    .retired_at
                    .map(|at| at + retired_key_lifetime(access_ttl_secs)),
            });
        }
        let active = active.ok_or_else(|| DomainError::unexpected("no active signing key"))?;
        Ok(Self { active, verifying })
    }

    /// The key id new tokens carry (`None` with a shared secret).
    pub fn active_kid(&self) -> Option<&str> {
        self.active.kid.as_deref()
    }

    /// The algorithm new tokens are signed with.
    pub fn active_algorithm(&self) -> SigningAlgorithm {
        self.active.algorithm
    }

    /// The public keys that may still verify a live token at `now` (RFC 7517).
    pub fn jwks(&self, now: DateTime<Utc>) -> JwkSet {
        JwkSet {
            keys: self
                .verifying
                .iter()
                .filter(|k| k.verifies_at(now))
                .filter_map(|k| k.jwk.clone())
                .collect(),
        }
    }

    pub(crate) fn active(&self) -> &ActiveKey {
        &self.active
    }

    /// The key a token with `header` must verify under at `now`: the same `kid` (none only for the
    /// shared secret) and the same algorithm as the key, which rules out `alg` confusion (an HS256
    /// token "signed" with a public key) whatever the header says.
    pub(crate) fn verifier_for(
        &self,
        header: &Header,
        now: DateTime<Utc>,
    ) -> Option<&VerifyingKey> {
        self.verifying
            .iter()
            .find(|k| k.kid == header.kid && k.algorithm.jwt() == header.alg && k.verifies_at(now))
    }
}

/// The ring an instance currently uses, replaced whole when the keys are reloaded, so a token is
/// always signed and checked against one consistent set.
pub struct KeyStore {
    ring: RwLock<Option<Arc<KeyRing>>>,
}

impl KeyStore {
    /// A store holding `ring`.
    pub fn new(ring: KeyRing) -> Self {
        Self {
            ring: RwLock::new(Some(Arc::new(ring))),
        }
    }

    /// A store with no keys yet: nothing signs or verifies until `replace` (the key service's `start`).
    pub fn empty() -> Self {
        Self {
            ring: RwLock::new(None),
        }
    }

    /// The current ring, if keys were loaded.
    pub fn current(&self) -> Option<Arc<KeyRing>> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Installs a newly loaded ring.
    pub fn replace(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(ring));
    }
}
