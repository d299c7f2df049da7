//! Reads by key that wait together on one thread go to PostgreSQL as one query (issue 14): the read
//! every authenticated request makes, its principal, arrives in bursts (a worker parses every request
//! its socket wakeup brought before any of them reads), and one `= ANY($1)` for the burst costs the
//! server one execution and this process one statement, where one query per read cost both a round
//! of encoding, a wake-up of the connection's task and an executor turn per read.
//!
//! Per thread, at most one query is in flight: a read finding none starts one in a task of its own
//! (so a cancelled request cannot strand the others), which runs after the reads the thread already
//! has ready have queued; reads arriving while it is out wait for it and go together in the next.
//! Every read is answered by a query sent after it queued, so a write committed before the request
//! arrived is seen, as with a query of its own: no read is served from an earlier one.
//!
//! When there is no async connection to use, or the query fails, every read of the batch is told so
//! and reads through the pool as before (`Lease::failed` has marked the connection): this only makes
//! reads cheaper.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use thread_local::ThreadLocal;
use tokio::sync::oneshot;

use crate::async_pg::AsyncPg;

/// The most reads one query answers; a larger burst is answered by consecutive queries.
const MAX_BATCH: usize = 128;

/// A read by key that can answer many keys with one query.
pub(crate) trait BatchRead: Send + Sync + 'static {
    type Key: PartialEq + Clone + Send + Sync + 'static;
    type Row: Clone + Send + 'static;

    /// The rows of `keys` (distinct), in any order; a key without a row has none.
    fn load<'a>(
        conn: &'a AsyncPgConnection,
        keys: &'a [Self::Key],
    ) -> impl Future<Output = QueryResult<Vec<Self::Row>>> + Send + 'a;

    /// Whether `row` is the answer to `key`.
    fn answers(row: &Self::Row, key: &Self::Key) -> bool;
}

/// The answer to one read: its row (or none), or `Err` when it is to read through the pool.
type Answer<R> = Result<Option<R>, Unbatched>;

/// The batch could not answer: read the way `first_hot!` does.
#[derive(Debug)]
pub(crate) struct Unbatched;

/// A queued read: its key, and where its answer goes.
type Waiting<Q> = (
    <Q as BatchRead>::Key,
    oneshot::Sender<Answer<<Q as BatchRead>::Row>>,
);

/// One thread's queue.
struct Queue<Q: BatchRead> {
    waiting: Vec<Waiting<Q>>,
    /// A task is sending or about to send this queue's next query.
    flushing: bool,
}

/// Batched reads of `Q` over one database's async connections. Cloning shares the queues.
pub(crate) struct ReadBatch<Q: BatchRead> {
    pg: AsyncPg,
    queues: Arc<ThreadLocal<Arc<Mutex<Queue<Q>>>>>,
}

impl<Q: BatchRead> Clone for ReadBatch<Q> {
    fn clone(&self) -> Self {
        Self {
            pg: self.pg.clone(),
            queues: Arc::clone(&self.queues),
        }
    }
}

impl<Q: BatchRead> std::fmt::Debug for ReadBatch<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadBatch").finish_non_exhaustive()
    }
}

impl<Q: BatchRead> ReadBatch<Q> {
    pub(crate) fn new(pg: AsyncPg) -> Self {
        Self {
            pg,
            queues: Arc::new(ThreadLocal::new()),
        }
    }

    /// The row of `key`, read together with the other reads waiting on this thread.
    pub(crate) async fn read(&self, key: Q::Key) -> Answer<Q::Row> {
        // Outside a runtime there is no task to send the query.
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Unbatched)?;
        let queue = self.queues.get_or(|| {
            Arc::new(Mutex::new(Queue {
                waiting: Vec::new(),
                flushing: false,
            }))
        });
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.waiting.push((key, answer));
            !std::mem::replace(&mut q.flushing, true)
        };
        if start {
            let flusher = Flusher {
                queue: Arc::clone(queue),
                finished: false,
            };
            runtime.spawn(flush(self.pg.clone(), flusher));
        }
        // A dropped sender means the flushing task died with the runtime.
        answered.await.unwrap_or(Err(Unbatched))
    }
}

/// The right to send a queue's queries. Dropped before it finished (its task cancelled, or never
/// run, when the runtime shuts down), it hands the queue back: its reads, told so, use the pool, and
/// the thread's next read (on another runtime, say) starts a task of its own.
struct Flusher<Q: BatchRead> {
    queue: Arc<Mutex<Queue<Q>>>,
    finished: bool,
}

impl<Q: BatchRead> Drop for Flusher<Q> {
    fn drop(&mut self) {
        if !self.finished {
            let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.flushing = false;
            q.waiting.clear();
        }
    }
}

/// Sends a queue's reads, a query at a time, until it finds the queue empty.
async fn flush<Q: BatchRead>(pg: AsyncPg, mut flusher: Flusher<Q>) {
    let queue = Arc::clone(&flusher.queue);
    loop {
        let batch: Vec<_> = {
            let mut q = queue.lock().unwrap_or_else(PoisonError::into_inner);
            if q.waiting.is_empty() {
                q.flushing = false;
                flusher.finished = true;
                return;
            }
            let n = q.waiting.len().min(MAX_BATCH);
            q.waiting.drain(..n).collect()
        };
        let (keys, answers): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let mut distinct: Vec<Q::Key> = Vec::with_capacity(keys.len());
        for key in &keys {
            if !distinct.contains(key) {
                distinct.push(key.clone());
            }
        }
        let rows = load::<Q>(&pg, &distinct).await;
        for (key, answer) in keys.iter().zip(answers) {
            let found = match &rows {
                Ok(rows) => Ok(rows.iter().find(|row| Q::answers(row, key)).cloned()),
                Err(Unbatched) => Err(Unbatched),
            };
            // The reader may have gone (its request was cancelled).
            let _ = answer.send(found);
        }
    }
}

async fn load<Q: BatchRead>(pg: &AsyncPg, keys: &[Q::Key]) -> Result<Vec<Q::Row>, Unbatched> {
    let lease = pg.connection().await.ok_or(Unbatched)?;
    match Q::load(lease.connection(), keys).await {
        Ok(rows) => Ok(rows),
        Err(error) => {
            lease.failed(&error);
            Err(Unbatched)
        }
    }
}
