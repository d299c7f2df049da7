//! Brute-force protection of login: who is throttled, and for how long. The policy and its reasons
//! are in `docs/RATE_LIMITS.md`; in short:
//!
//! - failures are counted per account `(namespace, username)`, per `(account, client IP)` and per IP,
//!   each in a window of `cooldown_secs` that starts at its first failure and is never extended;
//! - from the second failure of a pair the next attempt from that pair waits, doubling each time;
//! - `max_failures` failures of a pair, or `4 × max_failures` from one IP, refuse every attempt from
//!   it with 429 until its window ends, whatever the password;
//! - once an account has `max_failures` failures from anywhere, an IP that has failed on it even once
//!   is refused too (a botnet gets one guess per address), but an IP that has not failed on it is
//!   still let in: an attacker cannot lock the real user out of their account, and every lock ends
//!   with its window.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{DomainError, DomainResult};
use crate::ports::{RateLimitStore, WindowCount};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub max_failures: u64,
    pub cooldown_secs: u64,
}

impl ThrottlePolicy {
    /// An address failing on many accounts (credential stuffing) is stopped at this many failures.
    pub fn max_ip_failures(&self) -> u64 {
        self.max_failures.saturating_mul(4)
    }
}

/// The delay before the n-th attempt of a pair that has failed `failures` times.
const FIRST_DELAY_MS: u64 = 250;
const MAX_DELAY_MS: u64 = 4_000;

pub struct LoginThrottle {
    store: Arc<dyn RateLimitStore>,
    policy: ThrottlePolicy,
}

struct Keys {
    account: String,
    pair: String,
    ip: String,
}

fn keys(namespace: &str, login: &str, ip: &str) -> Keys {
    // Lowercased: `Alice` and `alice` are one account. Hashed, because both strings come from the
    // request body unchecked: a key of fixed size keeps a flood of huge names from filling the store.
    let digest = Sha256::digest(format!("{namespace}\0{}", login.to_lowercase()));
    let account = format!("login:acct:{}", hex::encode(&digest[..16]));
    Keys {
        pair: format!("{account}|{ip}"),
        account,
        ip: format!("login:ip:{ip}"),
    }
}

fn refused(w: WindowCount) -> DomainError {
    DomainError::RateLimited {
        retry_after_secs: w.reset_after_secs.max(1),
    }
}

impl LoginThrottle {
    pub fn new(store: Arc<dyn RateLimitStore>, policy: ThrottlePolicy) -> Self {
        Self { store, policy }
    }

    /// Before the password is looked at: refused (429), or how long to wait first.
    pub async fn check(&self, namespace: &str, login: &str, ip: &str) -> DomainResult<Duration> {
        let k = keys(namespace, login, ip);
        let by_ip = self.store.peek(&k.ip).await?;
        if by_ip.count >= self.policy.max_ip_failures() {
            return Err(refused(by_ip));
        }
        let pair = self.store.peek(&k.pair).await?;
        if pair.count >= self.policy.max_failures {
            return Err(refused(pair));
        }
        if pair.count > 0 {
            let account = self.store.peek(&k.account).await?;
            if account.count >= self.policy.max_failures {
                return Err(refused(account.min_reset(pair)));
            }
        }
        Ok(delay(pair.count))
    }

    pub async fn record_failure(&self, namespace: &str, login: &str, ip: &str) -> DomainResult<()> {
        let k = keys(namespace, login, ip);
        let window = self.policy.cooldown_secs.max(1);
        for key in [&k.account, &k.pair, &k.ip] {
            self.store.hit(key, window).await?;
        }
        Ok(())
    }

    /// A successful login forgets the pair's failures, not the account's: a success from one place
    /// says nothing about guesses from elsewhere.
    pub async fn record_success(&self, namespace: &str, login: &str, ip: &str) -> DomainResult<()> {
        self.store.clear(&keys(namespace, login, ip).pair).await
    }
}

impl WindowCount {
    /// The earlier of two windows' ends: refused until either lock lifts.
    fn min_reset(self, other: WindowCount) -> WindowCount {
        WindowCount {
            count: self.count,
            reset_after_secs: self.reset_after_secs.min(other.reset_after_secs),
        }
    }
}

/// No wait for the first failure (typos happen), then 250 ms doubling to at most 4 s.
pub fn delay(failures: u64) -> Duration {
    if failures < 2 {
        return Duration::ZERO;
    }
    let shift = (failures - 2).min(16) as u32;
    Duration::from_millis(FIRST_DELAY_MS.saturating_mul(1 << shift).min(MAX_DELAY_MS))
}
