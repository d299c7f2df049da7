//! Fixtures shared by the service tests: a fixed clock, deterministic ids and secrets, fixture users,
//! and a recorder for the values the mocked ports were called with.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use async_trait::async_trait;

use crate::error::{DomainError, DomainResult, FieldError};
use crate::model::{Namespace, Principal, User};
use crate::ports::{MockClock, MockIdGenerator, Pause, RateLimitStore, WindowCount};
use crate::services::{LoginThrottle, ThrottlePolicy};
use crate::tokens::AccessTokens;

pub const NS: &str = "shop";
/// The client address of every request in the service tests.
pub const IP: &str = "203.0.113.9";
pub const OTHER_NS: &str = "other-shop";
pub const STORED_HASH: &str = "$2b$12$stored.hash.of.the.right.password";
pub const ACCESS_TTL: u64 = 900;
pub const REFRESH_TTL: u64 = 30 * 24 * 3600;
pub const REUSE_LEEWAY: u64 = 30;
const JWT_SECRET: &[u8] = b"test-jwt-secret";
const ISSUER: &str = "user-service";

/// The instant every test runs at.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5)
        .single()
        .expect("a valid instant")
}

pub fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

/// A clock that always answers `t0()`, however often it is asked.
pub fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(t0());
    clock
}

const GENERATED: u128 = 0x6e6e_0000_0000_7000_8000_0000_0000_0000;

/// The n-th id the deterministic generator hands out (1-based).
pub fn generated_id(n: u32) -> Uuid {
    Uuid::from_u128(GENERATED | u128::from(n))
}

/// Whether `id` was minted by the deterministic generator (rather than taken from a fixture).
pub fn is_generated(id: Uuid) -> bool {
    id.as_u128() & !u128::from(u32::MAX) == GENERATED
}

/// The n-th secret the deterministic generator hands out (1-based).
pub fn generated_secret(n: u32) -> String {
    format!("generated-secret-{n}")
}

/// Ids and secrets counting up from 1, each call a new one.
pub fn sequential_ids() -> MockIdGenerator {
    let mut ids = MockIdGenerator::new();
    let mut next_id = 0;
    ids.expect_new_id().returning(move || {
        next_id += 1;
        generated_id(next_id)
    });
    let mut next_secret = 0;
    ids.expect_new_secret().returning(move || {
        next_secret += 1;
        generated_secret(next_secret)
    });
    ids
}

pub fn access_tokens() -> AccessTokens {
    AccessTokens::new(JWT_SECRET, ISSUER, ACCESS_TTL)
}

/// A live plain user of `NS` with a password, token version 3.
pub fn user() -> User {
    let created = t0() - Duration::days(10);
    User {
        id: Uuid::from_u128(0xa11ce),
        namespace: NS.into(),
        username: "alice".into(),
        email: Some("alice@example.com".into()),
        email_verified: true,
        password_hash: Some(STORED_HASH.into()),
        full_name: Some("Alice Liddell".into()),
        first_name: Some("Alice".into()),
        last_name: Some("Liddell".into()),
        phone: Some("+14155550123".into()),
        avatar_url: None,
        avatar_key: None,
        extra: BTreeMap::from([
            ("plan".to_string(), "free".to_string()),
            ("theme".to_string(), "dark".to_string()),
        ]),
        roles: vec!["user".into()],
        is_active: true,
        token_version: 3,
        created_at: created,
        updated_at: created,
        deleted_at: None,
    }
}

/// An admin user of `namespace`.
pub fn admin_of(namespace: &str) -> User {
    User {
        id: Uuid::from_u128(0xad_0000),
        namespace: namespace.into(),
        username: "root".into(),
        roles: vec!["user".into(), "admin".into()],
        ..user()
    }
}

pub fn service_of(namespace: &str) -> Principal {
    Principal::Service {
        namespace: namespace.into(),
    }
}

pub fn namespace(slug: &str) -> Namespace {
    Namespace {
        slug: slug.into(),
        name: Some("Shop".into()),
        description: None,
        created_at: t0() - Duration::days(100),
        settings: Default::default(),
    }
}

/// The fields named by a `Validation` error, in order; panics on any other result.
pub fn validation_fields<T: std::fmt::Debug>(result: Result<T, DomainError>) -> Vec<String> {
    match result {
        Err(DomainError::Validation(details)) => details
            .into_iter()
            .map(|FieldError { field, .. }| field)
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Keeps what a mocked port was called with, for assertions after the call.
pub struct Recorder<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Recorder<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Recorder<T> {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Clone> Recorder<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, value: T) {
        self.0.lock().expect("recorder lock").push(value);
    }

    /// Every recorded value, in order.
    pub fn all(&self) -> Vec<T> {
        self.0.lock().expect("recorder lock").clone()
    }

    /// The one recorded value; panics unless exactly one was recorded.
    pub fn only(&self) -> T {
        let all = self.0.lock().expect("recorder lock");
        assert_eq!(all.len(), 1, "expected exactly one recorded call");
        all[0].clone()
    }
}

/// Rate-limit counters without time: the windows' ends are the store adapters' business, tested there.
#[derive(Default)]
pub struct Counters(Mutex<std::collections::HashMap<String, u64>>);

/// Every window of `Counters` ends this many seconds from now.
pub const RESET: u64 = 600;

impl Counters {
    /// The sum of every counter whose key starts with `prefix`.
    pub fn total(&self, prefix: &str) -> u64 {
        let m = self.0.lock().expect("lock");
        m.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v)
            .sum()
    }
}

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
    async fn undo(&self, key: &str) -> DomainResult<()> {
        if let Some(c) = self.0.lock().expect("lock").get_mut(key) {
            *c = c.saturating_sub(1);
        }
        Ok(())
    }
}

/// Records the throttle's delays instead of spending them.
#[derive(Default)]
pub struct RecordedPauses(pub Mutex<Vec<std::time::Duration>>);

#[async_trait]
impl Pause for RecordedPauses {
    async fn pause(&self, duration: std::time::Duration) {
        self.0.lock().expect("lock").push(duration);
    }
}

/// A throttle of 5 failures over `Counters`, and what it counted and paused.
pub fn throttle() -> (Arc<LoginThrottle>, Arc<Counters>, Arc<RecordedPauses>) {
    let counters = Arc::new(Counters::default());
    let pauses = Arc::new(RecordedPauses::default());
    let t = LoginThrottle::new(
        counters.clone(),
        pauses.clone(),
        ThrottlePolicy {
            max_failures: 5,
            cooldown_secs: 900,
        },
    );
    (Arc::new(t), counters, pauses)
}

/// Panics unless `result` is the throttle's 429.
pub fn rate_limited<T: std::fmt::Debug>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::RateLimited { retry_after_secs }) => assert_eq!(retry_after_secs, RESET),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}
