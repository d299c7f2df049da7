//! Brute-force protection of every password check (login, change-password, account deletion): who
//! is throttled, and for how long. The policy and its reasons are in `docs/RATE_LIMITS.md`; in short:
//!
//! - attempts are counted per account `(namespace, user)`, per `(account, client IP)` and per IP,
//!   each in a window of `cooldown_secs` that starts at its first attempt and is never extended;
//! - an attempt is counted *before* its password is hashed (one atomic increment per counter), so
//!   parallel guesses see each other: a burst gets no more hashes than a sequence. A success, or a
//!   check that could not run, takes its count back;
//! - the account is the user the name resolves to, so a login by username and one by email, and
//!   the current-password checks of change-password and deletion, share one count;
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
use uuid::Uuid;

use crate::error::{DomainError, DomainResult};
use crate::ports::{PasswordHasher, Pause, RateLimitStore, WindowCount};

/// When failed logins are slowed and then refused.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures before attempts are refused.
    pub max_failures: u64,
    /// How long refusals last.
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

/// Whose password is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account<'a> {
    /// An existing user, however it was named.
    User {
        /// Its namespace.
        namespace: &'a str,
        /// Its id.
        id: Uuid,
    },
    /// A login name (its normalized key) that resolves to no user: still counted, so unknown
    /// names behave exactly like known ones.
    Unknown {
        /// The namespace named.
        namespace: &'a str,
        /// The normalized login name.
        name: &'a str,
    },
}

impl<'a> Account<'a> {
    /// The account of `user`.
    pub fn of(user: &'a crate::model::User) -> Self {
        Account::User {
            namespace: &user.namespace,
            id: user.id,
        }
    }
}

struct Keys {
    account: String,
    pair: String,
    ip: String,
}

fn keys(account: Account<'_>, ip: &str) -> Keys {
    // Hashed, because names come from the request body unchecked: a key of fixed size keeps a
    // flood of huge names from filling the store.
    let id = match account {
        Account::User { namespace, id } => format!("{namespace}\0user\0{id}"),
        Account::Unknown { namespace, name } => format!("{namespace}\0name\0{name}"),
    };
    let digest = Sha256::digest(id);
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

/// The brute-force throttle of password checks (API.md 1.5).
pub struct LoginThrottle {
    store: Arc<dyn RateLimitStore>,
    pause: Arc<dyn Pause>,
    policy: ThrottlePolicy,
}

/// An attempt counted in advance, until its outcome is known.
struct Reserved(Keys);

impl LoginThrottle {
    /// The throttle on its counter store and timer.
    pub fn new(
        store: Arc<dyn RateLimitStore>,
        pause: Arc<dyn Pause>,
        policy: ThrottlePolicy,
    ) -> Self {
        Self {
            store,
            pause,
            policy,
        }
    }

    /// Checks `password` against `hash` for `account` from address `ip`, under the throttle: the
    /// attempt is counted first; refused (429) without hashing when over a limit; otherwise it waits
    /// its delay, the hash is checked, and the count stays only if the password was wrong.
    pub async fn verify(
        &self,
        hasher: &dyn PasswordHasher,
        account: Account<'_>,
        ip: &str,
        password: &str,
        hash: Option<&str>,
    ) -> DomainResult<bool> {
        let reserved = self.reserve(keys(account, ip)).await?;
        let checked = hasher.verify(password, hash).await;
        match checked {
            Ok(false) => {}
            // Right: forget the pair's failures and take back this attempt. Not the account's
            // failures: a success from one place says nothing about guesses from elsewhere.
            Ok(true) => {
                let k = &reserved.0;
                self.store.clear(&k.pair).await?;
                self.store.undo(&k.account).await?;
                self.store.undo(&k.ip).await?;
            }
            // The check did not happen (the hashing line was full): nothing was tried.
            Err(_) => self.release(&reserved).await?,
        }
        checked
    }

    async fn reserve(&self, k: Keys) -> DomainResult<Reserved> {
        let window = self.policy.cooldown_secs.max(1);
        // Each count includes this attempt and every one in flight beside it.
        let by_ip = self.store.hit(&k.ip, window).await?;
        let pair = self.store.hit(&k.pair, window).await?;
        let account = self.store.hit(&k.account, window).await?;
        let reserved = Reserved(k);
        let failed_before = pair.count.saturating_sub(1);
        let refusal = if by_ip.count > self.policy.max_ip_failures() {
            Some(by_ip)
        } else if pair.count > self.policy.max_failures {
            Some(pair)
        } else if failed_before > 0 && account.count > self.policy.max_failures {
            Some(account.min_reset(pair))
        } else {
            None
        };
        if let Some(w) = refusal {
            // A refused attempt checks nothing, so it is not a failure.
            self.release(&reserved).await?;
            return Err(refused(w));
        }
        let wait = delay(failed_before);
        if !wait.is_zero() {
            self.pause.pause(wait).await;
        }
        Ok(reserved)
    }

    async fn release(&self, reserved: &Reserved) -> DomainResult<()> {
        let k = &reserved.0;
        for key in [&k.account, &k.pair, &k.ip] {
            self.store.undo(key).await?;
        }
        Ok(())
    }
}

/// A password check, throttled when a throttle is configured (`rate_limit.enabled`).
pub(crate) async fn check_password(
    throttle: Option<&LoginThrottle>,
    hasher: &dyn PasswordHasher,
    account: Account<'_>,
    ip: &str,
    password: &str,
    hash: Option<&str>,
) -> DomainResult<bool> {
    match throttle {
        Some(t) => t.verify(hasher, account, ip, password, hash).await,
        None => hasher.verify(password, hash).await,
    }
}

/// The current password of `user` confirmed (throttled like a login of the account), else
/// `WrongPassword`. An account without a password (one that signs in through an external issuer,
/// or made by an admin without one) has nothing to confirm: 400 on `field`, never a guess counted
/// against the account.
pub(crate) async fn confirm_password(
    throttle: Option<&LoginThrottle>,
    hasher: &dyn PasswordHasher,
    user: &crate::model::User,
    ip: &str,
    password: &str,
    field: &str,
) -> DomainResult<()> {
    let Some(hash) = user.password_hash.as_deref() else {
        return Err(DomainError::field(
            field,
            "this account has no password: it signs in through its identity provider or a password reset",
        ));
    };
    if check_password(
        throttle,
        hasher,
        Account::of(user),
        ip,
        password,
        Some(hash),
    )
    .await?
    {
        Ok(())
    } else {
        Err(DomainError::WrongPassword)
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
