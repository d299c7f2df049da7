//! Fixed-window counters in Redis, so several instances enforce one limit. A hit is one Lua script
//! (INCR, and EXPIRE on the window's first hit), atomic on the server.
//!
//! When Redis cannot be reached the store fails open: it answers "nothing counted" and logs a
//! warning (at most every few seconds), because refusing every request while Redis is down would
//! turn a cache outage into a full outage. Limits are then not enforced until Redis returns.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use user_service_domain::error::DomainResult;
use user_service_domain::ports::{RateLimitStore, WindowCount};

/// Longest a request waits for Redis before going on without it.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed connect, requests do not try again for this long.
const RECONNECT_PAUSE: Duration = Duration::from_secs(2);
const WARN_EVERY: Duration = Duration::from_secs(10);

const HIT: &str = r"
local c = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {c, ttl}
";

const PEEK: &str = r"
local c = redis.call('GET', KEYS[1])
if not c then return {0, 0} end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {tonumber(c), ttl}
";

pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    hit: redis::Script,
    peek: redis::Script,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_failure: Mutex<Option<Instant>>,
    last_warning: Mutex<Option<Instant>>,
}

impl RedisStore {
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("rate_limit.redis_url: {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            hit: redis::Script::new(HIT),
            peek: redis::Script::new(PEEK),
            conn: tokio::sync::Mutex::new(None),
            last_failure: Mutex::new(None),
            last_warning: Mutex::new(None),
        })
    }

    fn warn(&self, what: &str, error: &dyn std::fmt::Display) {
        let mut last = self.last_warning.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(%error, "Redis {what} failed: rate limits are not enforced until it answers again");
        }
    }

    /// The shared connection, made on first use (Redis may start after the service).
    async fn connection(&self) -> Option<ConnectionManager> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Some(c.clone());
        }
        let paused = self
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() < RECONNECT_PAUSE);
        if paused {
            return None;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1);
        let made = tokio::time::timeout(
            CALL_TIMEOUT * 2,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await;
        match made {
            Ok(Ok(c)) => {
                *slot = Some(c.clone());
                Some(c)
            }
            Ok(Err(e)) => {
                self.connect_failed(&e);
                None
            }
            Err(e) => {
                self.connect_failed(&e);
                None
            }
        }
    }

    fn connect_failed(&self, e: &dyn std::fmt::Display) {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.warn("connection", e);
    }

    async fn run(&self, script: &redis::Script, key: &str, arg: u64) -> Option<(u64, u64)> {
        let mut conn = self.connection().await?;
        let key = format!("{}{key}", self.prefix);
        let mut call = script.key(key);
        call.arg(arg);
        match tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<(i64, i64)>(&mut conn)).await {
            Ok(Ok((c, ttl))) => Some((c.max(0) as u64, ttl.max(0) as u64)),
            Ok(Err(e)) => {
                self.warn("command", &e);
                None
            }
            Err(e) => {
                self.warn("command", &e);
                None
            }
        }
    }
}

#[async_trait]
impl RateLimitStore for RedisStore {
    async fn hit(&self, key: &str, window_secs: u64) -> DomainResult<WindowCount> {
        let window = window_secs.max(1);
        Ok(match self.run(&self.hit, key, window).await {
            Some((count, ttl)) => WindowCount {
                count,
                reset_after_secs: ttl,
            },
            None => WindowCount {
                count: 0,
                reset_after_secs: window,
            },
        })
    }

    async fn peek(&self, key: &str) -> DomainResult<WindowCount> {
        let (count, reset_after_secs) = self.run(&self.peek, key, 0).await.unwrap_or((0, 0));
        Ok(WindowCount {
            count,
            reset_after_secs,
        })
    }

    async fn clear(&self, key: &str) -> DomainResult<()> {
        if let Some(mut conn) = self.connection().await {
            let key = format!("{}{key}", self.prefix);
            let mut del = redis::cmd("DEL");
            del.arg(key);
            if let Ok(Err(e)) = tokio::time::timeout(CALL_TIMEOUT, del.exec_async(&mut conn)).await
            {
                self.warn("command", &e);
            }
        }
        Ok(())
    }
}
