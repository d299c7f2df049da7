//! The login throttle's policy against an in-test store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::login_throttle::delay;
use super::{LoginThrottle, ThrottlePolicy};
use crate::error::{DomainError, DomainResult};
use crate::ports::{RateLimitStore, WindowCount};

/// Counters without time: the windows' ends are the store adapters' business, tested there.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, u64>>);

const RESET: u64 = 600;

#[async_trait]
impl RateLimitStore for Counters {
    async fn hit(&self, key: &str, _window: u64) -> DomainResult<WindowCount> {
        let mut m = self.0.lock().expect("lock");
        let c = m.entry(key.to_owned()).or_default();
        *c += 1;
        Ok(WindowCount {
            count: *c,
            reset_after_secs: RESET,
        })
    }
    async fn peek(&self, key: &str) -> DomainResult<WindowCount> {
        let m = self.0.lock().expect("lock");
        Ok(WindowCount {
            count: m.get(key).copied().unwrap_or(0),
            reset_after_secs: RESET,
        })
    }
    async fn clear(&self, key: &str) -> DomainResult<()> {
        self.0.lock().expect("lock").remove(key);
        Ok(())
    }
}

fn throttle() -> LoginThrottle {
    LoginThrottle::new(
        Arc::new(Counters::default()),
        ThrottlePolicy {
            max_failures: 5,
            cooldown_secs: 900,
        },
    )
}

fn refused(r: DomainResult<Duration>) {
    match r {
        Err(DomainError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, RESET),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}

#[test]
fn the_delay_escalates_and_is_bounded() {
    let d: Vec<u64> = (0..9).map(|f| delay(f).as_millis() as u64).collect();
    assert_eq!(d, [0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    assert_eq!(delay(u64::MAX), Duration::from_millis(4000));
}

#[tokio::test]
async fn a_pair_is_slowed_then_refused_and_case_does_not_help() -> DomainResult<()> {
    let t = throttle();
    for i in 0..5u64 {
        assert_eq!(t.check("shop", "Alice", "1.1.1.1").await?, delay(i));
        t.record_failure(
            "shop",
            if i % 2 == 0 { "alice" } else { "ALICE" },
            "1.1.1.1",
        )
        .await?;
    }
    refused(t.check("shop", "alice", "1.1.1.1").await);
    // Another namespace's alice is another account.
    assert_eq!(t.check("other", "alice", "1.1.1.1").await?, Duration::ZERO);
    Ok(())
}

#[tokio::test]
async fn an_attacked_account_stays_open_to_addresses_that_never_failed_on_it() -> DomainResult<()> {
    let t = throttle();
    // Five attackers, one failure each: the account is now under attack.
    for n in 1..=5 {
        t.record_failure("shop", "alice", &format!("6.6.6.{n}"))
            .await?;
    }
    refused(t.check("shop", "alice", "6.6.6.1").await);
    // The real user from a clean address is let in, without delay.
    assert_eq!(t.check("shop", "alice", "10.0.0.7").await?, Duration::ZERO);
    // After one failure there, that address is treated like the attackers' until the window ends.
    t.record_failure("shop", "alice", "10.0.0.7").await?;
    refused(t.check("shop", "alice", "10.0.0.7").await);
    Ok(())
}

#[tokio::test]
async fn success_forgets_the_pair_only() -> DomainResult<()> {
    let t = throttle();
    for _ in 0..3 {
        t.record_failure("shop", "alice", "1.1.1.1").await?;
    }
    assert_eq!(t.check("shop", "alice", "1.1.1.1").await?, delay(3));
    t.record_success("shop", "alice", "1.1.1.1").await?;
    assert_eq!(t.check("shop", "alice", "1.1.1.1").await?, Duration::ZERO);
    Ok(())
}

#[tokio::test]
async fn an_address_spraying_many_accounts_is_refused_everywhere() -> DomainResult<()> {
    let t = throttle();
    for n in 0..20 {
        t.record_failure("shop", &format!("user{n}"), "9.9.9.9")
            .await?;
    }
    refused(t.check("shop", "fresh-account", "9.9.9.9").await);
    assert_eq!(
        t.check("shop", "fresh-account", "9.9.9.8").await?,
        Duration::ZERO
    );
    Ok(())
}
