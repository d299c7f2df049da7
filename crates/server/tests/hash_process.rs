//! Password hashing in a child process (`adapters::hash_process`), with the real binary as the child.
//! Each test gives its hasher a thread count no other test uses, which the child's command line
//! shows, so a test finds its own child among this process's children.
#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use user_service::adapters::hash_process::CHILD_ARG;
use user_service::adapters::{BcryptHasher, HashCapacity};
use user_service_domain::DomainError;
use user_service_domain::model::Password;
use user_service_domain::ports::PasswordHasher;

fn hasher(cost: u32, threads: usize) -> BcryptHasher {
    BcryptHasher::new(
        cost,
        HashCapacity {
            threads,
            queue: 8,
            nice: 19,
            child: Some(PathBuf::from(env!("CARGO_BIN_EXE_user-service"))),
        },
    )
    .expect("a hasher")
}

/// The pids of this process's hashing children started with `threads` threads.
fn children(threads: usize) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let (Ok(stat), Ok(cmdline)) = (
            std::fs::read_to_string(format!("/proc/{pid}/stat")),
            std::fs::read(format!("/proc/{pid}/cmdline")),
        ) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let ours = stat_field(&stat, 4) == Some(me.to_string())
            && args.get(1) == Some(&CHILD_ARG.as_bytes())
            && args.get(2) == Some(&threads.to_string().as_bytes());
        if ours && stat_field(&stat, 3).as_deref() != Some("Z") {
            found.push(pid);
        }
    }
    found
}

/// Field `n` (1-based, as in proc(5)) of a `/proc/PID/stat` line; the name in parentheses is field 2.
fn stat_field(stat: &str, n: usize) -> Option<String> {
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(n - 3).map(str::to_owned)
}

/// Waits for `done`, letting the runtime's other tasks run meanwhile.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn a_child_hashes_and_verifies_as_the_threads_do() -> Result<(), DomainError> {
    let h = hasher(4, 1);
    let pw = Password::parse("correct horse")?;
    let hash = h.hash(&pw).await?;
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    assert!(h.verify("correct horse", Some(&hash)).await?);
    assert!(!h.verify("wrong horse!", Some(&hash)).await?);
    // No hash (an unknown user): still a verification, never a match.
    assert!(!h.verify("correct horse", None).await?);
    // Every one of 72 bytes counts, and a 73rd makes it a different password.
    let full = "é".repeat(35) + "ab";
    let hash = h.hash(&Password::parse(&full)?).await?;
    assert!(h.verify(&full, Some(&hash)).await?);
    assert!(!h.verify(&("é".repeat(35) + "ac"), Some(&hash)).await?);
    assert!(!h.verify(&(full.clone() + "x"), Some(&hash)).await?);
    // A hash the threads made verifies in the child, and the other way round.
    let threads = BcryptHasher::new(
        4,
        HashCapacity {
            threads: 1,
            queue: 0,
            nice: 0,
            child: None,
        },
    )
    .map_err(DomainError::unexpected)?;
    assert!(threads.verify(&full, Some(&hash)).await?);
    let by_threads = threads.hash(&pw).await?;
    assert!(h.verify("correct horse", Some(&by_threads)).await?);
    assert_eq!(children(1).len(), 1, "one child, started on first use");
    Ok(())
}

#[actix_web::test]
async fn the_child_runs_in_a_scheduling_group_of_its_own_below_requests() -> Result<(), DomainError>
{
    let h = hasher(4, 2);
    assert!(children(2).is_empty(), "no child before the first hash");
    h.hash(&Password::parse("correct horse")?).await?;
    let [child] = children(2)[..] else {
        panic!("one child: {:?}", children(2));
    };
    let stat =
        std::fs::read_to_string(format!("/proc/{child}/stat")).map_err(DomainError::unexpected)?;
    // A session of its own (field 6), which it leads: with autogroup, a scheduling group of its own.
    assert_eq!(stat_field(&stat, 6), Some(child.to_string()));
    let mine = std::fs::read_to_string("/proc/self/stat").map_err(DomainError::unexpected)?;
    assert_ne!(stat_field(&mine, 6), Some(child.to_string()));
    // That group weighs as nice 19 where the kernel has autogroup.
    if let Ok(group) = std::fs::read_to_string(format!("/proc/{child}/autogroup")) {
        assert!(group.trim_end().ends_with("nice 19"), "{group}");
    }
    // And its hashing threads are at nice 19 inside it (field 19), for kernels without autogroup.
    // Each names and lowers itself when it first runs, which an idle one may not have done yet.
    let lowered = |child: u32| -> usize {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{child}/task")) else {
            return 0;
        };
        tasks
            .flatten()
            .filter(|task| {
                let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
                name.starts_with("password-hash") && stat_field(&stat, 19).as_deref() == Some("19")
            })
            .count()
    };
    eventually("both hashing threads at nice 19", || lowered(child) == 2).await;
    // It got none of this process's environment (the secrets are there).
    let environ =
        std::fs::read(format!("/proc/{child}/environ")).map_err(DomainError::unexpected)?;
    assert!(environ.is_empty(), "{}", String::from_utf8_lossy(&environ));
    Ok(())
}

#[actix_web::test]
async fn a_child_that_dies_fails_its_jobs_and_the_next_job_starts_another()
-> Result<(), DomainError> {
    let h = std::sync::Arc::new(hasher(14, 3));
    let slow = {
        let h = h.clone();
        // Cost 14 takes about a second: long enough to kill the child under it.
        actix_web::rt::spawn(async move { h.verify("password1", None).await })
    };
    eventually("the child started", || children(3).len() == 1).await;
    let [first] = children(3)[..] else {
        panic!("one child");
    };
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(first as i32).expect("a pid"),
        rustix::process::Signal::KILL,
    )
    .map_err(DomainError::unexpected)?;
    let failed = slow.await.map_err(DomainError::unexpected)?;
    assert!(
        matches!(failed, Err(DomainError::Unexpected(_))),
        "{failed:?}"
    );
    // Another child serves the next job.
    let hash = bcrypt::hash("password2", 4).map_err(DomainError::unexpected)?;
    assert!(h.verify("password2", Some(&hash)).await?);
    let [second] = children(3)[..] else {
        panic!("one child again: {:?}", children(3));
    };
    assert_ne!(first, second);
    Ok(())
}

#[actix_web::test]
async fn dropping_the_hasher_ends_its_child() -> Result<(), DomainError> {
    let h = hasher(4, 4);
    h.hash(&Password::parse("correct horse")?).await?;
    assert_eq!(children(4).len(), 1);
    drop(h);
    eventually("the child ended", || children(4).is_empty()).await;
    Ok(())
}

#[actix_web::test]
async fn a_job_in_the_child_holds_its_place_in_line_until_answered() -> Result<(), DomainError> {
    let h = std::sync::Arc::new(
        BcryptHasher::new(
            12,
            HashCapacity {
                threads: 5,
                queue: 0,
                nice: 19,
                child: Some(PathBuf::from(env!("CARGO_BIN_EXE_user-service"))),
            },
        )
        .map_err(DomainError::unexpected)?,
    );
    let busy = {
        let h = h.clone();
        actix_web::rt::spawn(async move { h.verify("password1", None).await })
    };
    eventually("the first job reached the child", || children(5).len() == 1).await;
    // Five threads, but a line of five places: the sixth caller is refused at once.
    let more: Vec<_> = (0..4)
        .map(|_| {
            let h = h.clone();
            actix_web::rt::spawn(async move { h.verify("password1", None).await })
        })
        .collect();
    actix_web::rt::task::yield_now().await;
    assert!(matches!(
        h.verify("password2", None).await,
        Err(DomainError::Unavailable {
            retry_after_secs: 1
        })
    ));
    assert!(matches!(busy.await, Ok(Ok(false))));
    for m in more {
        assert!(matches!(m.await, Ok(Ok(false))));
    }
    // Answered, the places are free again.
    assert!(!h.verify("password3", None).await?);
    Ok(())
}
