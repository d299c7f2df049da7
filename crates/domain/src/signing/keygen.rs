//! New key pairs. Pure computation (RSA generation takes a noticeable fraction of a second), so
//! services reach it through the `KeyGenerator` port and the runtime decides where it runs.

use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use rand::RngCore;
use rsa::pkcs1::EncodeRsaPrivateKey;
use zeroize::Zeroizing;

use crate::error::{DomainError, DomainResult};
use crate::model::SigningAlgorithm;

/// RSA modulus size: 2048 bits, what RFC 7518 requires at least and every JOSE library accepts.
pub const RSA_BITS: usize = 2048;

/// The PKCS#8 v1 header of an Ed25519 private key (RFC 8410): the DER before the 32-byte seed,
/// which is the form jsonwebtoken signs with.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A freshly generated key pair, not yet sealed or stored.
pub struct GeneratedKey {
    /// The RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: SigningAlgorithm,
    /// The public key as a JWK carrying `kid`, `alg` and `use: sig`.
    pub public_jwk: Jwk,
    /// The private key in the DER form jsonwebtoken signs with (PKCS#8 Ed25519, PKCS#1 RSA).
    pub private_der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A new key pair for `algorithm` (EdDSA or RS256; a shared secret is not generated here).
pub fn generate_key(algorithm: SigningAlgorithm) -> DomainResult<GeneratedKey> {
    let private_der = match algorithm {
        SigningAlgorithm::EdDsa => {
            let mut der = Zeroizing::new(ED25519_PKCS8_PREFIX.to_vec());
            let mut seed = Zeroizing::new([0u8; 32]);
            rand::rng().fill_bytes(seed.as_mut());
            der.extend_from_slice(seed.as_ref());
            der
        }
        SigningAlgorithm::Rs256 => {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(DomainError::unexpected)?;
            let der = key.to_pkcs1_der().map_err(DomainError::unexpected)?;
            Zeroizing::new(der.as_bytes().to_vec())
        }
        SigningAlgorithm::Hs256 => {
            return Err(DomainError::unexpected(
                "HS256 uses the configured shared secret; no key pair is generated",
            ));
        }
    };
    from_private_der(algorithm, private_der)
}

/// The key pair of a private key in the DER form of `generate_key`: its public JWK and kid.
pub fn from_private_der(
    algorithm: SigningAlgorithm,
    private_der: Zeroizing<Vec<u8>>,
) -> DomainResult<GeneratedKey> {
    let encoding = encoding_key(algorithm, &private_der)?;
    let mut public_jwk =
        Jwk::from_encoding_key(&encoding, algorithm.jwt()).map_err(DomainError::unexpected)?;
    let kid = public_jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(DomainError::unexpected)?;
    public_jwk.common.key_id = Some(kid.clone());
    public_jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(GeneratedKey {
        kid,
        algorithm,
        public_jwk,
        private_der,
    })
}

/// The signing key of a private key in the DER form of `generate_key`.
pub(crate) fn encoding_key(algorithm: SigningAlgorithm, der: &[u8]) -> DomainResult<EncodingKey> {
    match algorithm {
        SigningAlgorithm::EdDsa if der.starts_with(&ED25519_PKCS8_PREFIX) && der.len() == 48 => {
            Ok(EncodingKey::from_ed_der(der))
        }
        SigningAlgorithm::Rs256 => {
            // Parsed here once, so a damaged key fails at load rather than at the first login.
            rsa::pkcs1::DecodeRsaPrivateKey::from_pkcs1_der(der)
                .map(|_: rsa::RsaPrivateKey| EncodingKey::from_rsa_der(der))
                .map_err(DomainError::unexpected)
        }
        _ => Err(DomainError::unexpected(format!(
            "not a private key for {algorithm}"
        ))),
    }
}
