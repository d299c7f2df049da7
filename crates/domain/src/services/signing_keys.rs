//! Which key signs and which keys verify: creating the first key, rotation, reloading what other
//! instances did, and the public key set downstream services verify with (API.md 2.5).

use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;

use crate::error::{DomainError, DomainResult};
use crate::model::{Principal, SigningAlgorithm, SigningKeyInfo, SigningKeyRecord};
use crate::ports::{Clock, KeyGenerator, SigningKeyRepository};
use crate::services::namespaces::operator_only;
use crate::signing::{KeyRing, KeySealer, KeyStore, retired_key_lifetime};
use crate::tokens::AccessTokens;

/// The signing keys of one instance. With HS256 the shared secret is the only key and nothing is
/// stored; with EdDSA or RS256 the keys live in the repository and every instance signs with the
/// one active key there.
pub struct SigningKeyService {
    store: Arc<KeyStore>,
    issuer: String,
    clock: Arc<dyn Clock>,
    stored: Option<StoredKeys>,
}

struct StoredKeys {
    algorithm: SigningAlgorithm,
    repo: Arc<dyn SigningKeyRepository>,
    generator: Arc<dyn KeyGenerator>,
    sealer: KeySealer,
    access_ttl_secs: u64,
}

impl SigningKeyService {
    /// HS256: `secret` signs and verifies; there is nothing to store, rotate or publish.
    pub fn shared_secret(secret: &[u8], issuer: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            store: Arc::new(KeyStore::new(KeyRing::shared_secret(secret))),
            issuer: issuer.to_owned(),
            clock,
            stored: None,
        }
    }

    /// EdDSA or RS256 with keys in `repo`, private halves sealed by `sealer`. Nothing signs until
    /// `start` has loaded (or made) the active key. `access_ttl_secs` decides how long a retired key
    /// keeps verifying. Tokens name `issuer`.
    pub fn stored(
        algorithm: SigningAlgorithm,
        issuer: &str,
        repo: Arc<dyn SigningKeyRepository>,
        generator: Arc<dyn KeyGenerator>,
        sealer: KeySealer,
        clock: Arc<dyn Clock>,
        access_ttl_secs: u64,
    ) -> DomainResult<Self> {
        if !algorithm.is_asymmetric() {
            return Err(DomainError::unexpected(
                "stored signing keys are EdDSA or RS256; HS256 uses the shared secret",
            ));
        }
        Ok(Self {
            store: Arc::new(KeyStore::empty()),
            issuer: issuer.to_owned(),
            clock,
            stored: Some(StoredKeys {
                algorithm,
                repo,
                generator,
                sealer,
                access_ttl_secs,
            }),
        })
    }

    /// Access tokens signed and verified with this service's keys, living `ttl_secs`.
    pub fn access_tokens(&self, ttl_secs: u64) -> AccessTokens {
        AccessTokens::with_keys(self.store.clone(), &self.issuer, ttl_secs)
    }

    /// The `iss` of every token (`auth.issuer`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.stored
            .as_ref()
            .map_or(SigningAlgorithm::Hs256, |s| s.algorithm)
    }

    /// The algorithms a live token may be signed with, for the discovery document: the one new tokens
    /// use first, then those of the other published keys (after `auth.signing` was changed, the old
    /// algorithm's key verifies its live tokens to the end, and verifiers that pin the algorithms to
    /// this list must accept them).
    pub fn algorithms(&self) -> Vec<SigningAlgorithm> {
        let mut algorithms = vec![self.algorithm()];
        for key in self.jwks().keys {
            let named = key
                .common
                .key_algorithm
                .and_then(|a| serde_json::to_value(a).ok())
                .and_then(|v| v.as_str().and_then(SigningAlgorithm::from_jws_name));
            if let Some(a) = named
                && !algorithms.contains(&a)
            {
                algorithms.push(a);
            }
        }
        algorithms
    }

    /// Loads the keys, first making a key of the configured algorithm active when none is, or when
    /// the active one is of another algorithm (`auth.signing` was changed: that key is retired and
    /// verifies its live tokens to the end). Fails when `auth.key_secret` cannot open the active key.
    pub async fn start(&self) -> DomainResult<()> {
        let Some(s) = &self.stored else {
            return Ok(());
        };
        let records = s.repo.list(self.retired_after(s)).await?;
        match records.iter().find(|r| r.retired_at.is_none()) {
            None => {
                let key = self.new_record(s).await?;
                // Losing the race to another instance is fine: its key is the one to use.
                s.repo.insert_first(&key).await?;
            }
            Some(active) if active.algorithm != s.algorithm => {
                let key = self.new_record(s).await?;
                s.repo.rotate(&key, self.clock.now()).await?;
            }
            Some(_) => {}
        }
        self.refresh().await
    }

    /// Reloads the keys from the repository, picking up rotations made by other instances. The
    /// runtime calls it periodically (more often than `KEY_PICKUP_SECS`).
    pub async fn refresh(&self) -> DomainResult<()> {
        let Some(s) = &self.stored else {
            return Ok(());
        };
        let records = s.repo.list(self.retired_after(s)).await?;
        let ring = KeyRing::from_records(&records, &s.sealer, s.access_ttl_secs)?;
        self.store.replace(ring);
        Ok(())
    }

    /// Makes a new key of the configured algorithm active. The previous key stops signing and keeps
    /// verifying until every token it signed has expired. `Conflict` with HS256, which has no keys.
    pub async fn rotate(&self) -> DomainResult<SigningKeyInfo> {
        let Some(s) = &self.stored else {
            return Err(DomainError::Conflict(
                "signing keys are rotated only with auth.signing eddsa or rs256".into(),
            ));
        };
        let key = self.new_record(s).await?;
        let won = s.repo.rotate(&key, self.clock.now()).await?;
        self.refresh().await?;
        if won {
            return Ok(key.info());
        }
        // A concurrent rotation made its own key active first: a rotation happened either way, and
        // the caller is told which key signs now.
        let active = self.active_kid().unwrap_or_default();
        let records = s.repo.list(self.retired_after(s)).await?;
        records
            .into_iter()
            .find(|r| r.kid == active)
            .map(|r| r.info())
            .ok_or_else(|| DomainError::unexpected("the active signing key vanished"))
    }

    /// `rotate` asked for over the API: the platform operator only.
    pub async fn rotate_for(&self, caller: Option<&Principal>) -> DomainResult<SigningKeyInfo> {
        if !matches!(caller, Some(Principal::Operator)) {
            return Err(operator_only(caller));
        }
        self.rotate().await
    }

    /// The public keys that may still verify a live token now: the active key and the retired keys
    /// whose tokens may not all have expired. Empty with HS256 (a shared secret is never published).
    pub fn jwks(&self) -> JwkSet {
        self.store
            .current()
            .map(|ring| ring.jwks(self.clock.now()))
            .unwrap_or_default()
    }

    /// The key id new tokens carry; `None` with HS256 or before `start`.
    pub fn active_kid(&self) -> Option<String> {
        self.store
            .current()
            .and_then(|ring| ring.active_kid().map(str::to_owned))
    }

    /// Records retired before this instant cannot verify any live token and are not loaded.
    fn retired_after(&self, s: &StoredKeys) -> chrono::DateTime<chrono::Utc> {
        self.clock.now() - retired_key_lifetime(s.access_ttl_secs)
    }

    async fn new_record(&self, s: &StoredKeys) -> DomainResult<SigningKeyRecord> {
        let key = s.generator.generate(s.algorithm).await?;
        Ok(SigningKeyRecord {
            sealed_private_key: s.sealer.seal(&key.kid, &key.private_der)?,
            public_jwk: serde_json::to_string(&key.public_jwk).map_err(DomainError::unexpected)?,
            kid: key.kid,
            algorithm: key.algorithm,
            created_at: self.clock.now(),
            retired_at: None,
        })
    }
}
