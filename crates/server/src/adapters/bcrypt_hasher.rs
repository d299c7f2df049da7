//! bcrypt on the blocking pool, a fixed number at once, with a bounded waiting line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::Semaphore;
use user_service_domain::model::Password;
use user_service_domain::ports::PasswordHasher;
use user_service_domain::{DomainError, error::DomainResult};

/// bcrypt reads at most this many bytes of a password.
const BCRYPT_MAX_BYTES: usize = 72;

pub struct BcryptHasher {
    cost: u32,
    slots: Arc<Semaphore>,
    /// Requests admitted (running or waiting); above `capacity` the answer is 503.
    admitted: AtomicUsize,
    capacity: usize,
    /// Verified against when there is no real hash, so an unknown user costs the same time.
    dummy_hash: String,
}

impl BcryptHasher {
    pub fn new(cost: u32, concurrency: usize, queue: usize) -> Result<Self, bcrypt::BcryptError> {
        let concurrency = concurrency.max(1);
        Ok(Self {
            cost,
            slots: Arc::new(Semaphore::new(concurrency)),
            admitted: AtomicUsize::new(0),
            capacity: concurrency + queue,
            dummy_hash: bcrypt::hash("dummy password for timing equality", cost)?,
        })
    }

    /// Runs `f` on the blocking pool once a slot is free; refuses at once when the line is full.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> DomainResult<T> {
        let _admission = Admission::enter(&self.admitted, self.capacity)?;
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(DomainError::unexpected)?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(DomainError::unexpected)
    }
}

/// Counts a request in the line for as long as it lives.
struct Admission<'a>(&'a AtomicUsize);

impl<'a> Admission<'a> {
    fn enter(counter: &'a AtomicUsize, capacity: usize) -> DomainResult<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= capacity {
            counter.fetch_sub(1, Ordering::AcqRel);
            return Err(DomainError::Unavailable {
                retry_after_secs: 1,
            });
        }
        Ok(Self(counter))
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> DomainResult<String> {
        let (password, cost) = (password.as_str().to_owned(), self.cost);
        // `Password` holds at most 72 bytes, all of which bcrypt uses. `non_truncating_hash` would
        // count the C terminator it appends and refuse exactly 72; the only thing `hash` can cut
        // here is that terminator, which is what `verify` does too.
        self.run(move || bcrypt::hash(password, cost))
            .await?
            .map_err(DomainError::unexpected)
    }

    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool> {
        // A password bcrypt would truncate can never be right; it still costs one hash.
        let real = hash.filter(|_| password.len() <= BCRYPT_MAX_BYTES);
        let hash = real.unwrap_or(&self.dummy_hash).to_owned();
        let candidate: Vec<u8> = password
            .as_bytes()
            .iter()
            .take(BCRYPT_MAX_BYTES)
            .copied()
            .collect();
        let matched = self
            .run(move || bcrypt::verify(candidate, &hash).unwrap_or(false))
            .await?;
        Ok(matched && real.is_some())
    }

    fn needs_rehash(&self, hash: &str) -> bool {
        // "$2b$12$...": the cost is the third field.
        hash.split('$').nth(2).and_then(|c| c.parse::<u32>().ok()) != Some(self.cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verifies_and_spots_another_cost() -> DomainResult<()> {
        let h = BcryptHasher::new(4, 2, 2).map_err(DomainError::unexpected)?;
        let pw = Password::parse("correct horse")?;
        let hash = h.hash(&pw).await?;
        assert!(h.verify("correct horse", Some(&hash)).await?);
        assert!(!h.verify("wrong horse!", Some(&hash)).await?);
        assert!(!h.verify("correct horse", None).await?);
        assert!(!h.needs_rehash(&hash));
        assert!(
            BcryptHasher::new(5, 1, 0)
                .map_err(DomainError::unexpected)?
                .needs_rehash(&hash)
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_password_of_exactly_72_bytes_hashes_and_every_byte_counts() -> DomainResult<()> {
        let h = BcryptHasher::new(4, 1, 0).map_err(DomainError::unexpected)?;
        let full = "é".repeat(35) + "ab"; // 72 bytes, 37 characters
        assert_eq!(full.len(), BCRYPT_MAX_BYTES);
        let hash = h.hash(&Password::parse(&full)?).await?;
        assert!(h.verify(&full, Some(&hash)).await?);
        // The 72nd byte is part of the password, not cut off.
        let last_differs = "é".repeat(35) + "ac";
        assert!(!h.verify(&last_differs, Some(&hash)).await?);
        assert!(!h.verify(&full[..71], Some(&hash)).await?);
        Ok(())
    }

    #[tokio::test]
    async fn a_full_line_is_refused_with_unavailable() -> DomainResult<()> {
        let h = Arc::new(BcryptHasher::new(10, 1, 0).map_err(DomainError::unexpected)?);
        let busy = {
            let h = h.clone();
            tokio::spawn(async move { h.verify("password1", None).await })
        };
        // Let the first request take the only slot.
        while h.admitted.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            h.verify("password2", None).await,
            Err(DomainError::Unavailable {
                retry_after_secs: 1
            })
        ));
        assert!(matches!(busy.await, Ok(Ok(false))));
        Ok(())
    }
}
