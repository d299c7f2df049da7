//! The keys that sign access tokens, as they are stored.

use chrono::{DateTime, Utc};

/// How access tokens are signed (`auth.signing`, API.md 2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// HMAC-SHA256 with the shared `auth.jwt_secret`: whoever can verify can also mint.
    Hs256,
    /// Ed25519 signatures (RFC 8037); keys in the database.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and 2048-bit keys; keys in the database.
    Rs256,
}

impl SigningAlgorithm {
    /// Every algorithm, in the order the configuration documents them.
    pub const ALL: [Self; 3] = [Self::Hs256, Self::EdDsa, Self::Rs256];

    /// The configuration spelling (`hs256`, `eddsa`, `rs256`), case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.config_name().eq_ignore_ascii_case(name.trim()))
    }

    /// The name `auth.signing` uses.
    pub fn config_name(self) -> &'static str {
        match self {
            Self::Hs256 => "hs256",
            Self::EdDsa => "eddsa",
            Self::Rs256 => "rs256",
        }
    }

    /// The JWS `alg` name (RFC 7518): `HS256`, `EdDSA`, `RS256`.
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }

    /// The algorithm whose JWS name is `name`.
    pub fn from_jws_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.jws_name() == name)
    }

    /// Whether keys are a public/private pair kept in the database (everything but HS256).
    pub fn is_asymmetric(self) -> bool {
        self != Self::Hs256
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl std::fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.jws_name())
    }
}

/// A signing key as the repository stores it. At most one key is active (`retired_at` is `None`);
/// the others stopped signing at `retired_at` and verify only for a while after it
/// (`signing::KeyRing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// The key id tokens carry in their header: the RFC 7638 SHA-256 thumbprint of the public key.
    pub kid: String,
    /// EdDSA or RS256: shared secrets are never stored.
    pub algorithm: SigningAlgorithm,
    /// The public key as a JWK (RFC 7517) in JSON, exactly as the JWKS publishes it.
    pub public_jwk: String,
    /// The private key (PKCS#8 for Ed25519, PKCS#1 for RSA), sealed by `signing::KeySealer`.
    pub sealed_private_key: Vec<u8>,
    /// When the key was made.
    pub created_at: DateTime<Utc>,
    /// When the key stopped signing; `None` for the active key.
    pub retired_at: Option<DateTime<Utc>>,
}

impl SigningKeyRecord {
    /// What an operator may see of it.
    pub fn info(&self) -> SigningKeyInfo {
        SigningKeyInfo {
            kid: self.kid.clone(),
            algorithm: self.algorithm,
            created_at: self.created_at,
        }
    }
}

/// What an operator sees of a key after a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyInfo {
    /// Its key id.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlgorithm,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}
