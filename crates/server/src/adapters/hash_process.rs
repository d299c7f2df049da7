//! Password hashing in a child process with a scheduling group of its own (issue 14).
//!
//! Nice levels order threads only inside one scheduling group. With the kernel's autogroup (a group
//! per session, on by default in Debian's kernels) or a cgroup per service, a PostgreSQL on the same
//! host is in another group, and the service's nice-19 hashing threads count there as the service's
//! full share: during a login storm its backends waited up to 68 ms for a core while bcrypt ran
//! (`perf sched`), and every token check waiting on them with it (docs/BENCHMARKS.md). The child
//! starts a session of its own, so the kernel gives it a group of its own, and lowers that group by
//! the hashing's nice steps: bcrypt then yields to the requests and to the database alike.
//!
//! The parent writes jobs to the child's stdin; a reader thread hands each answer to its caller. The
//! child ends when its stdin closes (the hasher dropped, or the parent gone however it went); a child
//! that died fails the jobs it held, and the next job starts another.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;

use super::bcrypt_hasher::{Admission, HashAnswer, HashJob, HashThreads};

/// The first argument that makes the binary a hashing child instead of the service.
pub const CHILD_ARG: &str = "password-hash-worker";

/// Longer fields than this are not a password (72 bytes) or a bcrypt hash (60): the stream is corrupt.
const MAX_FIELD: usize = 256;

/// Runs the hashing child if the command line asks for it: `Some(exit code)` then, `None` otherwise.
/// Called first thing in `main`, before any runtime or configuration.
pub fn child_main() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != CHILD_ARG {
        return None;
    }
    let number = |arg: Option<OsString>| arg.and_then(|a| a.to_str()?.parse::<u8>().ok());
    let (Some(threads), Some(nice)) = (number(args.next()), number(args.next())) else {
        eprintln!("usage: user-service {CHILD_ARG} THREADS NICE");
        return Some(ExitCode::FAILURE);
    };
    Some(match serve_jobs(usize::from(threads.max(1)), nice) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("user-service {CHILD_ARG}: {e}");
            ExitCode::FAILURE
        }
    })
}

/// The child: answers the jobs on stdin on `threads` threads until stdin closes.
fn serve_jobs(threads: usize, nice: u8) -> io::Result<()> {
    own_scheduling_group(nice);
    let answers = Arc::new(Mutex::new(io::stdout()));
    let workers = HashThreads::start(threads, nice)?;
    let mut jobs = BufReader::new(io::stdin().lock());
    while let Some((id, job)) = read_job(&mut jobs)? {
        let answers = answers.clone();
        let sent = workers.send(Box::new(move || {
            let answer =
                catch_unwind(AssertUnwindSafe(|| job.perform())).unwrap_or(HashAnswer::Failed);
            // A parent that stopped reading has ended; its answers have nowhere to go.
            if let Ok(mut out) = answers.lock() {
                let _ = write_answer(&mut *out, id, &answer);
            }
        }));
        sent.map_err(io::Error::other)?;
    }
    Ok(())
}

/// A session of its own makes the kernel's autogroup put this process in a group of its own, whose
/// nice (`/proc/self/autogroup`) then weighs the whole group against the others. Without autogroup
/// (a kernel without it, or a process in a cgroup) both steps change nothing, and the threads'
/// own nice orders them inside the service's group, as in-process hashing does.
fn own_scheduling_group(nice: u8) {
    let _ = rustix::process::setsid();
    let _ = std::fs::write("/proc/self/autogroup", nice.to_string());
}

/// The parent's side: starts the child on first use and again after it died.
pub(crate) struct HashProcess {
    exe: PathBuf,
    threads: u8,
    nice: u8,
    child: Mutex<Option<Running>>,
    next_id: AtomicU64,
}

/// A live child: where its jobs go, and who waits for which answer (`None` once it has ended).
struct Running {
    jobs: ChildStdin,
    waiting: Arc<Waiting>,
}

type Waiting = Mutex<Option<HashMap<u64, Pending>>>;

/// A caller's answer, and its place in the hasher's line, held until the child has answered.
pub(crate) struct Pending {
    answer: oneshot::Sender<HashAnswer>,
    admission: Admission,
}

impl HashProcess {
    pub(crate) fn new(exe: PathBuf, threads: usize, nice: u8) -> Self {
        Self {
            exe,
            threads: u8::try_from(threads).unwrap_or(u8::MAX),
            nice,
            child: Mutex::new(None),
            next_id: AtomicU64::new(0),
        }
    }

    /// Hands `job` to the child; the answer comes on the returned channel, which closes unanswered if
    /// the child dies first.
    pub(crate) fn submit(
        &self,
        job: HashJob,
        admission: Admission,
    ) -> DomainResult<oneshot::Receiver<HashAnswer>> {
        let (answer, answered) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut pending = Pending { answer, admission };
        // Held across the pipe write, which does not wait on hashing: a job is ~150 bytes, and the
        // child's main thread moves each into its own queue as it arrives.
        let mut child = self
            .child
            .lock()
            .map_err(|_| DomainError::unexpected("the hashing child's lock is poisoned"))?;
        // A child found dead is replaced once; a fresh one that cannot take the job is an error.
        for _ in 0..2 {
            let running = match child.take() {
                Some(running) if !running.ended() => running,
                _ => self.spawn()?,
            };
            match running.send(id, &job, pending) {
                Ok(()) => {
                    *child = Some(running);
                    return Ok(answered);
                }
                Err(back) => pending = back,
            }
        }
        Err(DomainError::unexpected(
            "the password hashing child takes no jobs",
        ))
    }

    fn spawn(&self) -> DomainResult<Running> {
        let mut child = Command::new(&self.exe)
            // `/proc/self/exe` would be its name in `ps`.
            .arg0("user-service")
            .arg(CHILD_ARG)
            .arg(self.threads.to_string())
            .arg(self.nice.to_string())
            // It needs no configuration, and gets none of the secrets in the environment.
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| {
                DomainError::unexpected(format!("starting the password hashing child: {e}"))
            })?;
        let (Some(jobs), Some(answers)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(DomainError::unexpected("the hashing child has no pipes"));
        };
        let waiting: Arc<Waiting> = Arc::new(Mutex::new(Some(HashMap::new())));
        let reader = waiting.clone();
        std::thread::Builder::new()
            .name("password-hash-answers".into())
            .spawn(move || hand_out_answers(answers, &reader, child))
            .map_err(DomainError::unexpected)?;
        Ok(Running { jobs, waiting })
    }
}

impl Running {
    fn ended(&self) -> bool {
        self.waiting.lock().map_or(true, |w| w.is_none())
    }

    /// Registers `pending` and writes the job; gives `pending` back if the child is gone.
    fn send(&self, id: u64, job: &HashJob, pending: Pending) -> Result<(), Pending> {
        let Ok(mut waiting) = self.waiting.lock() else {
            return Err(pending);
        };
        let Some(map) = waiting.as_mut() else {
            return Err(pending);
        };
        // Registered before it is written: the answer may come back before this returns.
        map.insert(id, pending);
        drop(waiting);
        if write_job(&mut &self.jobs, id, job).is_ok() {
            return Ok(());
        }
        let back = self
            .waiting
            .lock()
            .ok()
            .and_then(|mut w| w.as_mut()?.remove(&id));
        // Not there: the reader saw the child end and failed it already, so its caller has its error.
        back.map_or(Ok(()), Err)
    }
}

/// The reader thread: each answer to its caller; when the child ends, every job it held fails.
fn hand_out_answers(answers: impl Read, waiting: &Waiting, mut child: Child) {
    let mut answers = BufReader::new(answers);
    while let Ok(Some((id, answer))) = read_answer(&mut answers) {
        let pending = waiting
            .lock()
            .ok()
            .and_then(|mut w| w.as_mut()?.remove(&id));
        if let Some(Pending {
            answer: to,
            admission,
        }) = pending
        {
            // The place in line is given up before the answer, so a caller that asks again at once
            // finds it free.
            drop(admission);
            let _ = to.send(answer);
        }
    }
    // Dropping the senders answers every waiting caller with an error.
    if let Ok(mut w) = waiting.lock() {
        *w = None;
    }
    let _ = child.kill();
    let _ = child.wait();
}

// The frames: little-endian integers, each byte string preceded by its u32 length.
// job:    id u64 | op u8 (0 hash, 1 verify) | cost u32 | password | hash
// answer: id u64 | kind u8 (0 hashed, 1 verified, 2 failed) | value

fn write_job(out: &mut impl Write, id: u64, job: &HashJob) -> io::Result<()> {
    let (op, cost, password, hash): (u8, u32, &[u8], &[u8]) = match job {
        HashJob::Hash { password, cost } => (0, *cost, password.as_bytes(), b""),
        HashJob::Verify { candidate, hash } => (1, 0, candidate, hash.as_bytes()),
    };
    let mut frame = Vec::with_capacity(21 + password.len() + hash.len());
    frame.extend_from_slice(&id.to_le_bytes());
    frame.push(op);
    frame.extend_from_slice(&cost.to_le_bytes());
    put_bytes(&mut frame, password);
    put_bytes(&mut frame, hash);
    out.write_all(&frame)?;
    out.flush()
}

/// The next job, or `None` when the stream ends cleanly between two jobs.
fn read_job(input: &mut impl Read) -> io::Result<Option<(u64, HashJob)>> {
    let mut head = [0u8; 13];
    if !read_or_end(input, &mut head)? {
        return Ok(None);
    }
    let id = u64::from_le_bytes(take(&head[..8]));
    let cost = u32::from_le_bytes(take(&head[9..]));
    let password = get_bytes(input)?;
    let hash = get_bytes(input)?;
    let job = match head[8] {
        0 => HashJob::Hash {
            password: String::from_utf8(password).map_err(invalid)?,
            cost,
        },
        1 => HashJob::Verify {
            candidate: password,
            hash: String::from_utf8(hash).map_err(invalid)?,
        },
        op => return Err(invalid(format!("unknown hashing job {op}"))),
    };
    Ok(Some((id, job)))
}

fn write_answer(out: &mut impl Write, id: u64, answer: &HashAnswer) -> io::Result<()> {
    let (kind, value): (u8, &[u8]) = match answer {
        HashAnswer::Hashed(hash) => (0, hash.as_bytes()),
        HashAnswer::Verified(matched) => (1, if *matched { b"\x01" } else { b"\x00" }),
        HashAnswer::Failed => (2, b""),
    };
    let mut frame = Vec::with_capacity(13 + value.len());
    frame.extend_from_slice(&id.to_le_bytes());
    frame.push(kind);
    put_bytes(&mut frame, value);
    out.write_all(&frame)?;
    out.flush()
}

fn read_answer(input: &mut impl Read) -> io::Result<Option<(u64, HashAnswer)>> {
    let mut head = [0u8; 9];
    if !read_or_end(input, &mut head)? {
        return Ok(None);
    }
    let id = u64::from_le_bytes(take(&head[..8]));
    let value = get_bytes(input)?;
    let answer = match (head[8], value.as_slice()) {
        (0, _) => HashAnswer::Hashed(String::from_utf8(value).map_err(invalid)?),
        (1, [matched]) => HashAnswer::Verified(*matched == 1),
        (2, []) => HashAnswer::Failed,
        (kind, _) => return Err(invalid(format!("malformed hashing answer {kind}"))),
    };
    Ok(Some((id, answer)))
}

fn put_bytes(frame: &mut Vec<u8>, bytes: &[u8]) {
    // Every field is a password or a hash, far below u32::MAX.
    frame.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
    frame.extend_from_slice(bytes);
}

fn get_bytes(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FIELD {
        return Err(invalid(format!("a field of {len} bytes")));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Fills `buf`; `false` if the stream ended before its first byte.
fn read_or_end(input: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn take<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_round_trip(job: &HashJob) -> io::Result<(u64, HashJob)> {
        let mut frame = Vec::new();
        write_job(&mut frame, 7, job)?;
        read_job(&mut frame.as_slice())?.ok_or_else(|| invalid("no job"))
    }

    #[test]
    fn jobs_and_answers_cross_the_pipe_unchanged() -> io::Result<()> {
        let hash = HashJob::Hash {
            password: "é".repeat(36),
            cost: 10,
        };
        let (id, back) = job_round_trip(&hash)?;
        assert_eq!(id, 7);
        assert!(matches!(back, HashJob::Hash { password, cost: 10 } if password == "é".repeat(36)));
        // A candidate cut at 72 bytes may end inside a character: bytes, not text.
        let verify = HashJob::Verify {
            candidate: vec![0xc3, 0x00, 0xff],
            hash: "$2b$04$abc".into(),
        };
        let (_, back) = job_round_trip(&verify)?;
        assert!(matches!(back, HashJob::Verify { candidate, hash }
            if candidate == [0xc3, 0x00, 0xff] && hash == "$2b$04$abc"));

        let mut frames = Vec::new();
        write_answer(&mut frames, 1, &HashAnswer::Hashed("$2b$04$xyz".into()))?;
        write_answer(&mut frames, 2, &HashAnswer::Verified(true))?;
        write_answer(&mut frames, 3, &HashAnswer::Verified(false))?;
        write_answer(&mut frames, 4, &HashAnswer::Failed)?;
        let mut input = frames.as_slice();
        let mut read = || read_answer(&mut input);
        assert!(matches!(read()?, Some((1, HashAnswer::Hashed(h))) if h == "$2b$04$xyz"));
        assert!(matches!(read()?, Some((2, HashAnswer::Verified(true)))));
        assert!(matches!(read()?, Some((3, HashAnswer::Verified(false)))));
        assert!(matches!(read()?, Some((4, HashAnswer::Failed))));
        assert!(read()?.is_none());
        Ok(())
    }

    #[test]
    fn a_corrupt_stream_is_an_error_not_a_job() -> io::Result<()> {
        let mut frame = Vec::new();
        write_job(
            &mut frame,
            1,
            &HashJob::Hash {
                password: "pw".into(),
                cost: 4,
            },
        )?;
        // Cut short inside a frame.
        assert!(read_job(&mut &frame[..frame.len() - 1]).is_err());
        // An unknown operation.
        let mut unknown = frame.clone();
        unknown[8] = 9;
        assert!(read_job(&mut unknown.as_slice()).is_err());
        // A length no password has.
        let mut huge = frame[..13].to_vec();
        huge.extend_from_slice(&10_000u32.to_le_bytes());
        assert!(read_job(&mut huge.as_slice()).is_err());
        Ok(())
    }
}
