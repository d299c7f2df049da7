//! Adapters of domain ports that need the async runtime, so cannot live in the domain.

pub mod avatar_storage;
pub mod bcrypt_hasher;
pub mod image_decode;
pub mod images;
pub mod key_generator;

pub use avatar_storage::open_avatar_store;
pub use bcrypt_hasher::BcryptHasher;
pub use images::{BlockingImageProcessor, ImageRules};
pub use key_generator::BlockingKeyGenerator;
