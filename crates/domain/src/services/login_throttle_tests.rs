//! The login throttle's policy against in-test counters and a hasher that counts its checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::login_throttle::delay;
use super::test_support::{rate_limited, throttle};
use super::{Account, LoginThrottle};
use crate::error::{DomainError, DomainResult};
use crate::model::Password;
use crate::ports::PasswordHasher;

const RIGHT: &str = "the-right-password";

/// Right only for `RIGHT`; counts the checks it ran. With a gate, each check waits for a permit,
/// so a test can hold many checks in flight at once.
#[derive(Default)]
struct CountingHasher {
    checks: AtomicU64,
    gate: Option<Arc<Semaphore>>,
    unavailable: bool,
}

#[async_trait]
impl PasswordHasher for CountingHasher {
    async fn hash(&self, _password: &Password) -> DomainResult<String> {
        Ok(String::new())
    }
    async fn verify(&self, password: &str, _hash: Option<&str>) -> DomainResult<bool> {
        if self.unavailable {
            return Err(DomainError::Unavailable {
                retry_after_secs: 1,
            });
        }
        self.checks.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            let _permit = gate.acquire().await.expect("gate open");
        }
        Ok(password == RIGHT)
    }
    fn needs_rehash(&self, _hash: &str) -> bool {
        false
    }
}

fn alice() -> Account<'static> {
    Account::User {
        namespace: "shop",
        id: Uuid::from_u128(0xa11ce),
    }
}

async fn attempt(
    t: &LoginThrottle,
    h: &CountingHasher,
    account: Account<'_>,
    ip: &str,
    password: &str,
) -> DomainResult<bool> {
    t.verify(h, account, ip, password, Some("stored")).await
}

#[test]
fn the_delay_escalates_and_is_bounded() {
    let d: Vec<u64> = (0..9).map(|f| delay(f).as_millis() as u64).collect();
    assert_eq!(d, [0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    assert_eq!(delay(u64::MAX), Duration::from_millis(4000));
}

#[tokio::test]
async fn a_pair_is_slowed_then_refused_without_hashing_even_with_the_right_password()
-> DomainResult<()> {
    let (t, _, pauses) = throttle();
    let h = CountingHasher::default();
    for _ in 0..5 {
        assert!(!attempt(&t, &h, alice(), "1.1.1.1", "wrong").await?);
    }
    // No wait for the first two attempts, then 250 ms doubling.
    assert_eq!(
        *pauses.0.lock().expect("lock"),
        [250, 500, 1000].map(Duration::from_millis)
    );
    rate_limited(attempt(&t, &h, alice(), "1.1.1.1", RIGHT).await);
    assert_eq!(
        h.checks.load(Ordering::SeqCst),
        5,
        "the refused attempt hashed nothing"
    );
    // Another namespace's account is another count.
    let other = Account::User {
        namespace: "other",
        id: Uuid::from_u128(0xa11ce),
    };
    assert!(attempt(&t, &h, other, "1.1.1.1", RIGHT).await?);
    Ok(())
}

/// Finding 9.3: 40 guesses in flight at once get exactly as many hashes as 40 in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_guesses_get_no_more_hashes_than_a_sequence() {
    let (t, counters, _) = throttle();
    let gate = Arc::new(Semaphore::new(0));
    let h = Arc::new(CountingHasher {
        gate: Some(gate.clone()),
        ..Default::default()
    });
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (t, h) = (t.clone(), h.clone());
            tokio::spawn(
                async move { attempt(&t, &h, alice(), "6.6.6.6", &format!("guess-{i}")).await },
            )
        })
        .collect();
    // Wait until every attempt has either been refused or is inside its hash.
    loop {
        let refused = tasks.iter().filter(|t| t.is_finished()).count() as u64;
        if refused + h.checks.load(Ordering::SeqCst) == 40 {
            break;
        }
        tokio::task::yield_now().await;
    }
    gate.add_permits(40);
    let mut answers = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(false) => answers.0 += 1,
            Err(DomainError::RateLimited { .. }) => answers.1 += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(answers, (5, 35));
    assert_eq!(h.checks.load(Ordering::SeqCst), 5);
    // Refused attempts were taken back: the counts are the five failures.
    assert_eq!(counters.total("login:ip:"), 5);
}

#[tokio::test]
async fn an_attacked_account_stays_open_to_addresses_that_never_failed_on_it() -> DomainResult<()> {
    let (t, _, _) = throttle();
    let h = CountingHasher::default();
    // Five attackers, one failure each: the account is now under attack.
    for n in 1..=5 {
        assert!(!attempt(&t, &h, alice(), &format!("6.6.6.{n}"), "wrong").await?);
    }
    rate_limited(attempt(&t, &h, alice(), "6.6.6.1", RIGHT).await);
    // The real user from a clean address is let in.
    assert!(attempt(&t, &h, alice(), "10.0.0.7", RIGHT).await?);
    // After one failure there, that address is treated like the attackers' until the window ends.
    assert!(!attempt(&t, &h, alice(), "10.0.0.8", "typo").await?);
    rate_limited(attempt(&t, &h, alice(), "10.0.0.8", RIGHT).await);
    Ok(())
}

#[tokio::test]
async fn success_forgets_the_pair_only_and_takes_back_its_own_count() -> DomainResult<()> {
    let (t, counters, pauses) = throttle();
    let h = CountingHasher::default();
    for _ in 0..3 {
        assert!(!attempt(&t, &h, alice(), "1.1.1.1", "wrong").await?);
    }
    assert!(attempt(&t, &h, alice(), "1.1.1.1", RIGHT).await?);
    // The pair starts over (no delay next time); the account keeps its three failures.
    pauses.0.lock().expect("lock").clear();
    assert!(!attempt(&t, &h, alice(), "1.1.1.1", "wrong").await?);
    assert!(pauses.0.lock().expect("lock").is_empty());
    assert_eq!(counters.total("login:ip:"), 4);
    Ok(())
}

#[tokio::test]
async fn a_check_that_could_not_run_is_not_counted() {
    let (t, counters, _) = throttle();
    let h = CountingHasher {
        unavailable: true,
        ..Default::default()
    };
    for _ in 0..10 {
        assert!(matches!(
            attempt(&t, &h, alice(), "1.1.1.1", "wrong").await,
            Err(DomainError::Unavailable { .. })
        ));
    }
    assert_eq!(counters.total("login:"), 0);
}

#[tokio::test]
async fn an_address_spraying_many_accounts_is_refused_everywhere() -> DomainResult<()> {
    let (t, _, _) = throttle();
    let h = CountingHasher::default();
    for n in 0..20 {
        let name = format!("user{n}");
        let account = Account::Unknown {
            namespace: "shop",
            name: &name,
        };
        assert!(!attempt(&t, &h, account, "9.9.9.9", "wrong").await?);
    }
    rate_limited(attempt(&t, &h, alice(), "9.9.9.9", RIGHT).await);
    assert!(attempt(&t, &h, alice(), "9.9.9.8", RIGHT).await?);
    Ok(())
}
