//! Private keys at rest: sealed with XChaCha20-Poly1305 under a key derived from `auth.key_secret`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{DomainError, DomainResult};

/// The first byte of every sealed key: the format (cipher, derivation), so a later one can be told apart.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
/// Fixed per purpose, so the same `auth.key_secret` used for something else never yields this key.
const HKDF_SALT: &[u8] = b"user-service/signing-keys";
const HKDF_INFO: &[u8] = b"private key sealing v1";

/// Seals and opens private keys. The key id is bound in as associated data, so a sealed key copied
/// onto another row does not open there.
pub struct KeySealer {
    cipher: XChaCha20Poly1305,
}

/// A sealed key that does not open: another `auth.key_secret`, or the row was altered.
#[derive(Debug, thiserror::Error)]
#[error(
    "the signing key {kid} cannot be decrypted: auth.key_secret differs from the one it was sealed with, or the stored key was altered"
)]
pub struct UnsealError {
    /// The key that did not open.
    pub kid: String,
}

impl KeySealer {
    /// Derives the sealing key from `key_secret` with HKDF-SHA256.
    pub fn new(key_secret: &[u8]) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 255 blocks: expand cannot fail.
        let _ = Hkdf::<Sha256>::new(Some(HKDF_SALT), key_secret).expand(HKDF_INFO, key.as_mut());
        Self {
            cipher: XChaCha20Poly1305::new(key.as_ref().into()),
        }
    }

    /// `private_key` sealed for the key `kid`: format byte, random nonce, ciphertext with its tag.
    pub fn seal(&self, kid: &str, private_key: &[u8]) -> DomainResult<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: private_key,
                    aad: kid.as_bytes(),
                },
            )
            .map_err(|_| DomainError::unexpected("sealing a private key failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The private key sealed for `kid`, or an error naming the key that does not open.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, UnsealError> {
        let fail = || UnsealError {
            kid: kid.to_owned(),
        };
        let rest = match sealed.split_first() {
            Some((&FORMAT_V1, rest)) if rest.len() > NONCE_LEN => rest,
            _ => return Err(fail()),
        };
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| fail())?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: kid.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_what_it_sealed_only_with_the_same_secret_and_kid() -> DomainResult<()> {
        let sealer = KeySealer::new(b"the key secret");
        let sealed = sealer.seal("kid-1", b"private bytes")?;
        assert_ne!(&sealed[1 + NONCE_LEN..], b"private bytes".as_slice());
        assert_eq!(
            sealer.open("kid-1", &sealed).map(|k| k.to_vec()).ok(),
            Some(b"private bytes".to_vec())
        );
        // A fresh nonce each time: the same key never seals to the same bytes.
        assert_ne!(sealer.seal("kid-1", b"private bytes")?, sealed);
        assert!(sealer.open("kid-2", &sealed).is_err());
        assert!(
            KeySealer::new(b"another secret")
                .open("kid-1", &sealed)
                .is_err()
        );
        let mut altered = sealed.clone();
        if let Some(last) = altered.last_mut() {
            *last ^= 1;
        }
        assert!(sealer.open("kid-1", &altered).is_err());
        assert!(sealer.open("kid-1", &[]).is_err());
        assert!(sealer.open("kid-1", &sealed[..NONCE_LEN]).is_err());
        Ok(())
    }
}
