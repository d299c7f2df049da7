//! Group commit: writes that wait for the same writer share one transaction, and so one commit (one
//! WAL flush, one round of SQLite's locks), each with its own answer, given after that commit.
//! The ledger batches the changes of one account; refresh rotations batch on SQLite, where every
//! write waits for the one write lock anyway.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;

use crate::connection::{DbConnection, write_transaction};
use crate::database::Database;

/// The most jobs one transaction applies; more waiting ones go in the next.
const MAX_BATCH: usize = 128;

/// A write that can share its transaction with others of its kind.
pub(crate) trait Job: Send + 'static {
    type Answer: Send + 'static;

    /// Applies `jobs` in order inside the caller's transaction, each with its own answer; a job the
    /// rules refuse must write nothing. An `Err` is a statement the database failed, which undoes
    /// the whole transaction.
    fn apply(
        conn: &mut DbConnection,
        jobs: &[&Self],
    ) -> Result<Vec<DomainResult<Self::Answer>>, diesel::result::Error>;

    /// What a database failure of the job's statements tells its caller.
    fn failure(error: diesel::result::Error) -> DomainError;
}

/// A job waiting for its writer, and where its answer goes.
struct Pending<J: Job> {
    job: J,
    reply: oneshot::Sender<DomainResult<J::Answer>>,
}

/// Per key, the jobs waiting for its writer. A key has an entry exactly while a writer runs for it:
/// whoever finds no entry starts the writer, everyone else queues behind it. Writers of different
/// keys run side by side on the blocking pool.
pub(crate) struct GroupCommit<K, J: Job> {
    queues: Mutex<HashMap<K, Vec<Pending<J>>>>,
}

impl<K, J: Job> Default for GroupCommit<K, J> {
    fn default() -> Self {
        Self {
            queues: Mutex::default(),
        }
    }
}

impl<K, J: Job> std::fmt::Debug for GroupCommit<K, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<K, J: Job> GroupCommit<K, J> {
    fn queues(&self) -> MutexGuard<'_, HashMap<K, Vec<Pending<J>>>> {
        // A panicking writer leaves the map consistent (see `WriterGuard`), so poisoning is ignored.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone + Send + 'static, J: Job> GroupCommit<K, J> {
    /// Queues `job` behind `key`'s writer (starting one if none runs) and waits for its answer,
    /// which comes after the commit of the transaction that applied it.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        db: &Database,
        key: K,
        job: J,
    ) -> DomainResult<J::Answer> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queues = self.queues();
            match queues.entry(key.clone()) {
                Entry::Occupied(mut waiting) => {
                    waiting.get_mut().push(Pending { job, reply });
                    false
                }
                Entry::Vacant(slot) => {
                    slot.insert(vec![Pending { job, reply }]);
                    true
                }
            }
        };
        if start {
            // Detached: a request that goes away does not stop the writer the others wait for.
            let (writers, db) = (Arc::clone(self), db.clone());
            tokio::task::spawn_blocking(move || writers.write(&db, key));
        }
        answer.await.map_err(|_| {
            DomainError::unexpected("a group commit writer stopped without an answer")
        })?
    }

    /// The writer of `key`: applies what waits, batch after batch, until nothing does.
    fn write(&self, db: &Database, key: K) {
        let mut guard = WriterGuard {
            writers: self,
            key: &key,
            finished: false,
        };
        loop {
            let batch = {
                let mut queues = self.queues();
                let Some(waiting) = queues.get_mut(&key) else {
                    break;
                };
                if waiting.is_empty() {
                    queues.remove(&key);
                    break;
                }
                let n = waiting.len().min(MAX_BATCH);
                waiting.drain(..n).collect::<Vec<_>>()
            };
            match db.run_here(|conn| Ok(apply_batch(conn, &batch))) {
                Ok(answers) => {
                    for (pending, answer) in batch.into_iter().zip(answers) {
                        // The requester may have gone; its write stands all the same.
                        let _ = pending.reply.send(answer);
                    }
                }
                Err(e) => {
                    for pending in batch {
                        let _ = pending.reply.send(Err(same_error(&e)));
                    }
                }
            }
        }
        guard.finished = true;
    }
}

/// Clears the key's entry if its writer panics, so later jobs start a new writer; the jobs it held
/// are dropped, and their requests answered with an error.
struct WriterGuard<'a, K: Hash + Eq, J: Job> {
    writers: &'a GroupCommit<K, J>,
    key: &'a K,
    finished: bool,
}

impl<K: Hash + Eq, J: Job> Drop for WriterGuard<'_, K, J> {
    fn drop(&mut self) {
        if !self.finished {
            self.writers.queues().remove(self.key);
        }
    }
}

/// An error answered to every job of a batch: the database's failures are not `Clone`.
fn same_error(e: &DomainError) -> DomainError {
    match e {
        DomainError::Unavailable { retry_after_secs } => DomainError::Unavailable {
            retry_after_secs: *retry_after_secs,
        },
        other => DomainError::unexpected(other.to_string()),
    }
}

/// Applies a batch in one transaction and returns each job's answer, in order. When the database
/// fails a statement, nothing of the batch was committed, and each job is applied again in a
/// transaction of its own, so that one failing job fails alone; a failed commit fails them all
/// (whether it landed is unknown, so nothing is tried twice).
fn apply_batch<J: Job>(
    conn: &mut DbConnection,
    batch: &[Pending<J>],
) -> Vec<DomainResult<J::Answer>> {
    let mut statements_done = false;
    let jobs = batch.iter().map(|p| &p.job).collect::<Vec<_>>();
    let answers = write_transaction(conn, |conn| {
        let answers = J::apply(conn, &jobs)?;
        statements_done = true;
        Ok::<_, diesel::result::Error>(answers)
    });
    match answers {
        Ok(answers) => answers,
        Err(e) if statements_done || batch.len() == 1 => {
            let e = J::failure(e);
            batch.iter().map(|_| Err(same_error(&e))).collect()
        }
        Err(_) => jobs
            .iter()
            .map(|job| {
                write_transaction(conn, |conn| J::apply(conn, &[*job]))
                    .map_err(J::failure)
                    .and_then(|one| {
                        one.into_iter().next().unwrap_or_else(|| {
                            Err(DomainError::unexpected("a job of a batch had no answer"))
                        })
                    })
            })
            .collect(),
    }
}
