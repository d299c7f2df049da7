//! Key generation on the blocking pool: an RSA key takes a noticeable fraction of a second of CPU,
//! which must not stall an actix worker serving other requests.

use async_trait::async_trait;
use user_service_domain::error::{DomainError, DomainResult};
use user_service_domain::model::SigningAlgorithm;
use user_service_domain::ports::KeyGenerator;
use user_service_domain::signing::{GeneratedKey, generate_key};

pub struct BlockingKeyGenerator;

#[async_trait]
impl KeyGenerator for BlockingKeyGenerator {
    async fn generate(&self, algorithm: SigningAlgorithm) -> DomainResult<GeneratedKey> {
        tokio::task::spawn_blocking(move || generate_key(algorithm))
            .await
            .map_err(DomainError::unexpected)?
    }
}
