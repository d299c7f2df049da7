//! bcrypt on threads of its own, below the priority of requests, with a bounded waiting line; the
//! threads are this process's, or a child's with a scheduling group of its own (`hash_process`).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use tokio::sync::oneshot;
use user_service_domain::model::Password;
use user_service_domain::ports::PasswordHasher;
use user_service_domain::{DomainError, error::DomainResult};

use super::hash_process::HashProcess;

/// bcrypt reads at most this many bytes of a password.
const BCRYPT_MAX_BYTES: usize = 72;

/// How much hashing may run at once, wait, and how far below requests it runs.
#[derive(Debug, Clone)]
pub struct HashCapacity {
    /// Hashing threads (at least one).
    pub threads: usize,
    /// Hash requests allowed to wait for a thread; past it the answer is 503.
    pub queue: usize,
    /// Nice steps the hashing threads run below the process (0-19). A woken request thread then
    /// takes the core from a hash at once instead of waiting out its fair share: a login storm
    /// cannot push token checks and profile reads behind bcrypt, yet hashing keeps a share of a
    /// busy machine and all of an idle one (docs/DECISIONS.md).
    pub nice: u8,
    /// Hash in a child process of this executable (`hash_process`), so that hashing yields also
    /// to processes outside the service's scheduling group, such as a PostgreSQL on the same host;
    /// `None` hashes on threads of this process.
    pub child: Option<PathBuf>,
}

/// Why the hasher could not start.
#[derive(Debug, thiserror::Error)]
pub enum HasherError {
    #[error(transparent)]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("starting its threads: {0}")]
    Threads(#[from] std::io::Error),
}

pub struct BcryptHasher {
    cost: u32,
    workers: Workers,
    /// Requests admitted (running or waiting); above `capacity` the answer is 503.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    /// Verified against when there is no real hash, so an unknown user costs the same time.
    dummy_hash: String,
}

impl BcryptHasher {
    pub fn new(cost: u32, capacity: HashCapacity) -> Result<Self, HasherError> {
        let threads = capacity.threads.max(1);
        Ok(Self {
            cost,
            workers: match capacity.child {
                Some(exe) => Workers::Child(HashProcess::new(exe, threads, capacity.nice)),
                None => Workers::Threads(HashThreads::start(threads, capacity.nice)?),
            },
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: threads + capacity.queue,
            dummy_hash: bcrypt::hash("dummy password for timing equality", cost)?,
        })
    }

    /// Runs `job` in arrival order; refuses at once when the line is full.
    async fn perform(&self, job: HashJob) -> DomainResult<HashAnswer> {
        let admission = Admission::enter(self.admitted.clone(), self.capacity)?;
        match &self.workers {
            Workers::Threads(threads) => run_on(threads, admission, move || job.perform()).await,
            Workers::Child(child) => child
                .submit(job, admission)?
                .await
                .map_err(|_| DomainError::unexpected("the password hashing child ended")),
        }
    }
}

/// Where hashes run.
enum Workers {
    Threads(HashThreads),
    Child(HashProcess),
}

/// A hash or a verification, as data: it crosses to a child process as well as to a thread.
pub(crate) enum HashJob {
    Hash { password: String, cost: u32 },
    Verify { candidate: Vec<u8>, hash: String },
}

pub(crate) enum HashAnswer {
    Hashed(String),
    Verified(bool),
    Failed,
}

impl HashJob {
    pub(crate) fn perform(self) -> HashAnswer {
        match self {
            Self::Hash { password, cost } => {
                bcrypt::hash(password, cost).map_or(HashAnswer::Failed, HashAnswer::Hashed)
            }
            Self::Verify { candidate, hash } => {
                HashAnswer::Verified(bcrypt::verify(candidate, &hash).unwrap_or(false))
            }
        }
    }
}

/// Runs `f` on one of `threads` in arrival order, holding `admission` until it is done.
async fn run_on<T: Send + 'static>(
    threads: &HashThreads,
    admission: Admission,
    f: impl FnOnce() -> T + Send + 'static,
) -> DomainResult<T> {
    let (answer, answered) = oneshot::channel();
    threads.send(Box::new(move || {
        // The place in line is held until the work is done, even if its caller has left,
        // so the line bounds the work and not only the waiting callers. It is given up
        // before the answer, so a caller that asks again at once finds it free.
        let value = (!answer.is_closed()).then(|| catch_unwind(AssertUnwindSafe(f)));
        drop(admission);
        // A panic in `f` drops the answer unsent: its caller gets an error, and the thread
        // stays for the next job.
        if let Some(Ok(value)) = value {
            let _ = answer.send(value);
        }
    }))?;
    answered.await.map_err(DomainError::unexpected)
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs in arrival order; they end when the hasher is dropped.
pub(crate) struct HashThreads {
    jobs: mpsc::Sender<Job>,
}

impl HashThreads {
    pub(crate) fn start(count: usize, nice: u8) -> std::io::Result<Self> {
        let (jobs, line) = mpsc::channel::<Job>();
        let line = Arc::new(Mutex::new(line));
        for i in 0..count {
            let line = line.clone();
            std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    while let Some(job) = next_job(&line) {
                        job();
                    }
                })?;
        }
        Ok(Self { jobs })
    }

    pub(crate) fn send(&self, job: Job) -> DomainResult<()> {
        // The threads end only with the hasher, so this cannot fail while `self` lives.
        self.jobs
            .send(job)
            .map_err(|_| DomainError::unexpected("the password hashing threads have ended"))
    }
}

fn next_job(line: &Mutex<mpsc::Receiver<Job>>) -> Option<Job> {
    line.lock().ok()?.recv().ok()
}

/// Moves the calling thread `steps` nice levels below where it is. Only on Linux, where nice is a
/// thread's own: elsewhere `setpriority` would move the whole process, so hashing stays at the
/// requests' priority there. Lowering one's own priority needs no privilege; if it fails anyway,
/// hashing runs at the requests' priority, as before, and each hashing thread logs it.
fn lower_priority(steps: u8) {
    if steps == 0 || !cfg!(target_os = "linux") {
        return;
    }
    let lowered = rustix::process::getpriority_process(None).and_then(|current| {
        rustix::process::setpriority_process(None, (current + i32::from(steps)).min(19))
    });
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "password hashing runs at the priority of requests");
    }
}

/// Counts a request in the line for as long as it lives.
pub(crate) struct Admission(Arc<AtomicUsize>);

impl Admission {
    fn enter(counter: Arc<AtomicUsize>, capacity: usize) -> DomainResult<Self> {
        if counter.fetch_add(1, Ordering::AcqRel) >= capacity {
            counter.fetch_sub(1, Ordering::AcqRel);
            return Err(DomainError::Unavailable {
                retry_after_secs: 1,
            });
        }
        Ok(Self(counter))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash(&self, password: &Password) -> DomainResult<String> {
        // `Password` holds at most 72 bytes, all of which bcrypt uses. `non_truncating_hash` would
        // count the C terminator it appends and refuse exactly 72; the only thing `hash` can cut
        // here is that terminator, which is what `verify` does too.
        let job = HashJob::Hash {
            password: password.as_str().to_owned(),
            cost: self.cost,
        };
        match self.perform(job).await? {
            HashAnswer::Hashed(hash) => Ok(hash),
            _ => Err(DomainError::unexpected(
                "bcrypt could not hash the password",
            )),
        }
    }

    async fn verify(&self, password: &str, hash: Option<&str>) -> DomainResult<bool> {
        // A password bcrypt would truncate can never be right; it still costs one hash.
        let real = hash.filter(|_| password.len() <= BCRYPT_MAX_BYTES);
        let job = HashJob::Verify {
            candidate: password
                .as_bytes()
                .iter()
                .take(BCRYPT_MAX_BYTES)
                .copied()
                .collect(),
            hash: real.unwrap_or(&self.dummy_hash).to_owned(),
        };
        // A verification that failed is the service's fault, not a wrong password: an error.
        let HashAnswer::Verified(matched) = self.perform(job).await? else {
            return Err(DomainError::unexpected(
                "bcrypt could not verify the password",
            ));
        };
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

    fn capacity(threads: usize, queue: usize) -> HashCapacity {
        HashCapacity {
            threads,
            queue,
            nice: 10,
            child: None,
        }
    }

    impl BcryptHasher {
        /// Runs `f` where this hasher's jobs run, in its line.
        async fn run<T: Send + 'static>(
            &self,
            f: impl FnOnce() -> T + Send + 'static,
        ) -> DomainResult<T> {
            let Workers::Threads(threads) = &self.workers else {
                return Err(DomainError::unexpected("a closure cannot cross to a child"));
            };
            run_on(
                threads,
                Admission::enter(self.admitted.clone(), self.capacity)?,
                f,
            )
            .await
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_below_the_priority_of_its_callers() -> DomainResult<()> {
        let h = BcryptHasher::new(4, capacity(1, 0)).map_err(DomainError::unexpected)?;
        let here = rustix::process::getpriority_process(None).map_err(DomainError::unexpected)?;
        let there = h
            .run(|| rustix::process::getpriority_process(None))
            .await?
            .map_err(DomainError::unexpected)?;
        assert_eq!(there, (here + 10).min(19));
        // Only the hashing thread moved.
        assert_eq!(
            rustix::process::getpriority_process(None).map_err(DomainError::unexpected)?,
            here
        );
        let unmoved = BcryptHasher::new(
            4,
            HashCapacity {
                nice: 0,
                ..capacity(1, 0)
            },
        )
        .map_err(DomainError::unexpected)?;
        let there = unmoved
            .run(|| rustix::process::getpriority_process(None))
            .await?
            .map_err(DomainError::unexpected)?;
        assert_eq!(there, here);
        Ok(())
    }

    #[tokio::test]
    async fn a_panicking_job_answers_an_error_and_the_thread_serves_on() -> DomainResult<()> {
        let h = BcryptHasher::new(4, capacity(1, 0)).map_err(DomainError::unexpected)?;
        let failed = h.run(|| -> u8 { panic!("a job that fails") }).await;
        assert!(matches!(failed, Err(DomainError::Unexpected(_))));
        assert_eq!(h.admitted.load(Ordering::Acquire), 0);
        assert!(h.verify("password1", None).await.is_ok_and(|m| !m));
        Ok(())
    }

    #[tokio::test]
    async fn hashes_verifies_and_spots_another_cost() -> DomainResult<()> {
        let h = BcryptHasher::new(4, capacity(2, 2)).map_err(DomainError::unexpected)?;
        let pw = Password::parse("correct horse")?;
        let hash = h.hash(&pw).await?;
        assert!(h.verify("correct horse", Some(&hash)).await?);
        assert!(!h.verify("wrong horse!", Some(&hash)).await?);
        assert!(!h.verify("correct horse", None).await?);
        assert!(!h.needs_rehash(&hash));
        assert!(
            BcryptHasher::new(5, capacity(1, 0))
                .map_err(DomainError::unexpected)?
                .needs_rehash(&hash)
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_password_of_exactly_72_bytes_hashes_and_every_byte_counts() -> DomainResult<()> {
        let h = BcryptHasher::new(4, capacity(1, 0)).map_err(DomainError::unexpected)?;
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
        let h = Arc::new(BcryptHasher::new(10, capacity(1, 0)).map_err(DomainError::unexpected)?);
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
