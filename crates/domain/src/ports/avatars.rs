use async_trait::async_trait;

use crate::error::DomainResult;
use crate::model::{AvatarKey, ImageFormat};

/// An object read back from the avatar store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAvatar {
    /// The object's bytes.
    pub bytes: Vec<u8>,
    /// The MIME type it was stored with.
    pub content_type: String,
    /// An opaque validator, stable for as long as the object is unchanged (without quotes).
    pub etag: String,
}

/// Where avatar images are kept: local disk, an S3-compatible bucket, or memory.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait AvatarStore: Send + Sync {
    /// Writes the object, replacing any object of the same key.
    async fn put(&self, key: &AvatarKey, bytes: Vec<u8>, content_type: &str) -> DomainResult<()>;
    /// The object, or `None` when there is none under `key`.
    async fn get(&self, key: &AvatarKey) -> DomainResult<Option<StoredAvatar>>;
    /// Removes the object; removing a missing object succeeds, so a retry is harmless.
    async fn delete(&self, key: &AvatarKey) -> DomainResult<()>;
    /// The URL clients fetch the object from.
    fn public_url(&self, key: &AvatarKey) -> String;
}

/// An uploaded image after checking and re-encoding: pixels only, no metadata of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedImage {
    /// Its format after re-encoding.
    pub format: ImageFormat,
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// Decides what an upload is from its content and re-encodes it. This is CPU work on untrusted input:
/// implementations run it off the async executor, bound the memory a decode may take, and answer
/// `InvalidImage` for anything that is not a JPEG, PNG or WEBP within the configured limits.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ImageProcessor: Send + Sync {
    /// Checks and re-encodes an upload; `InvalidImage` when it is no image within the limits.
    async fn process(&self, upload: Vec<u8>) -> DomainResult<ProcessedImage>;
}
