//! Signing keys of access tokens: generating them, sealing their private halves at rest, and the
//! ring of keys an instance signs and verifies with (API.md 2.5, docs/TOKENS.md).

mod keygen;
mod ring;
mod sealing;

pub use keygen::{GeneratedKey, RSA_BITS, from_private_der, generate_key};
pub use ring::{KEY_PICKUP_SECS, KeyRing, KeyStore, retired_key_lifetime};
pub use sealing::{KeySealer, UnsealError};
