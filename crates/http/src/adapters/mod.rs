//! Adapters of domain ports that need the async runtime, so cannot live in the domain.

pub mod bcrypt_hasher;

pub use bcrypt_hasher::BcryptHasher;
