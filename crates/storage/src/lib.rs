//! The domain's `AvatarStore` port over `object_store`: local disk (the default), any S3-compatible
//! endpoint, or memory for tests, chosen from configuration.

mod config;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{Backend, S3Config, StorageConfig, StorageError};
pub use store::ObjectAvatarStore;
