//! Fixed-window counters in Redis, so several instances enforce one limit. A hit is one Lua script
//! (INCR, and EXPIRE on the window's first hit), atomic on the server.
//!
//! When Redis cannot be reached every call fails fast with `Unavailable` (one bounded connect
//! attempt, then a pause before the next); `FailoverStore` then counts in process instead.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::ports::{RateLimitStore, WindowCount};

/// Longest a request waits for Redis before going on without it.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed connect, requests do not try again for this long.
const RECONNECT_PAUSE: Duration = Duration::from_secs(2);

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

const UNDO: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c > 0 then c = redis.call('DECR', KEYS[1]) end
return {c, 0}
";

pub struct RedisStore {
    client: redis::Client,
    prefix: String,
    hit: redis::Script,
    peek: redis::Script,
    undo: redis::Script,
    conn: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_failure: Mutex<Option<Instant>>,
}

fn unreachable(what: &str, e: &dyn std::fmt::Display) -> DomainError {
    DomainError::unexpected(format!("Redis {what} failed: {e}"))
}

impl RedisStore {
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("rate_limit.redis_url: {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            hit: redis::Script::new(HIT),
            peek: redis::Script::new(PEEK),
            undo: redis::Script::new(UNDO),
            conn: tokio::sync::Mutex::new(None),
            last_failure: Mutex::new(None),
        })
    }

    /// The shared connection, made on first use (Redis may start after the service).
    async fn connection(&self) -> DomainResult<ConnectionManager> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let paused = self
            .last_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|t| t.elapsed() < RECONNECT_PAUSE);
        if paused {
            return Err(unreachable("connection", &"paused after a failed attempt"));
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
                Ok(c)
            }
            Ok(Err(e)) => Err(self.connect_failed(&e)),
            Err(e) => Err(self.connect_failed(&e)),
        }
    }

    fn connect_failed(&self, e: &dyn std::fmt::Display) -> DomainError {
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        unreachable("connection", e)
    }

    async fn run(&self, script: &redis::Script, key: &str, arg: u64) -> DomainResult<(u64, u64)> {
        let mut conn = self.connection().await?;
        let key = format!("{}{key}", self.prefix);
        let mut call = script.key(key);
        call.arg(arg);
        match tokio::time::timeout(CALL_TIMEOUT, call.invoke_async::<(i64, i64)>(&mut conn)).await {
            Ok(Ok((c, ttl))) => Ok((c.max(0) as u64, ttl.max(0) as u64)),
            Ok(Err(e)) => Err(unreachable("command", &e)),
            Err(e) => Err(unreachable("command", &e)),
        }
    }
}

#[async_trait]
impl RateLimitStore for RedisStore {
    async fn hit(&self, key: &str, window_secs: u64) -> DomainResult<WindowCount> {
        let (count, reset_after_secs) = self.run(&self.hit, key, window_secs.max(1)).await?;
        Ok(WindowCount {
            count,
            reset_after_secs,
        })
    }

    async fn peek(&self, key: &str) -> DomainResult<WindowCount> {
        let (count, reset_after_secs) = self.run(&self.peek, key, 0).await?;
        Ok(WindowCount {
            count,
            reset_after_secs,
        })
    }

    async fn undo(&self, key: &str) -> DomainResult<()> {
        self.run(&self.undo, key, 0).await.map(|_| ())
    }

    async fn clear(&self, key: &str) -> DomainResult<()> {
        let mut conn = self.connection().await?;
        let key = format!("{}{key}", self.prefix);
        let mut del = redis::cmd("DEL");
        del.arg(key);
        match tokio::time::timeout(CALL_TIMEOUT, del.exec_async(&mut conn)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(unreachable("command", &e)),
            Err(e) => Err(unreachable("command", &e)),
        }
    }
}
