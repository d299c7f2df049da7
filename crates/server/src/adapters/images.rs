//! The domain's `ImageProcessor`: decoding runs on the blocking pool, a fixed number at once, because
//! it is CPU- and memory-hungry on untrusted input. The decoding itself is in `image_decode`.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::ports::{ImageProcessor, ProcessedImage};

pub use super::image_decode::{ImageRules, process, sniff};

pub struct BlockingImageProcessor {
    rules: ImageRules,
    slots: Arc<Semaphore>,
}

impl BlockingImageProcessor {
    /// `concurrency` decodes at once (at least one); more wait their turn.
    pub fn new(rules: ImageRules, concurrency: usize) -> Self {
        Self {
            rules,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }
}

#[async_trait]
impl ImageProcessor for BlockingImageProcessor {
    async fn process(&self, upload: Vec<u8>) -> DomainResult<ProcessedImage> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(DomainError::unexpected)?;
        let rules = self.rules;
        tokio::task::spawn_blocking(move || process(&upload, rules))
            .await
            .map_err(DomainError::unexpected)?
    }
}
