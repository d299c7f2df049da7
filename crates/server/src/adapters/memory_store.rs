//! Fixed-window counters in process: a sharded map so workers rarely contend, with expiry and a
//! bound on the number of keys so a flood of distinct clients cannot grow memory without limit.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use user_service_domain::error::DomainResult;
use user_service_domain::ports::{Clock, RateLimitStore, WindowCount};

const SHARDS: usize = 64;

type Instant = DateTime<Utc>;

struct Entry {
    count: u64,
    expires: Instant,
}

/// Windows are timed by the wiring's clock, so tests move time instead of waiting for it.
pub struct MemoryStore {
    shards: Vec<Mutex<HashMap<String, Entry>>>,
    per_shard: usize,
    clock: Arc<dyn Clock>,
}

fn secs_until(expires: Instant, now: Instant) -> u64 {
    let left = (expires - now).max(Duration::zero());
    // Rounded up: "reset in 0 s" while the window is still live would invite an instant retry.
    let secs = left.num_seconds().max(0) as u64;
    secs + u64::from(left > Duration::seconds(secs as i64))
}

impl MemoryStore {
    /// About 100 bytes a key: a million keys is on the order of 100 MiB at worst.
    pub const DEFAULT_CAPACITY: usize = 1_000_000;

    pub fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: (capacity / SHARDS).max(1),
            clock,
        }
    }

    fn shard(&self, key: &str) -> &Mutex<HashMap<String, Entry>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// Counts a hit at `now`; separate from the trait so tests can move time.
    pub fn hit_at(&self, key: &str, window: Duration, now: Instant) -> WindowCount {
        let mut map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) && map.len() >= self.per_shard {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.per_shard {
                // Still full of live windows: forget the one closest to its end, the least useful.
                if let Some(k) = map
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
                {
                    map.remove(&k);
                }
            }
        }
        let e = map.entry(key.to_owned()).or_insert(Entry {
            count: 0,
            expires: now + window,
        });
        if e.expires <= now {
            *e = Entry {
                count: 0,
                expires: now + window,
            };
        }
        e.count += 1;
        WindowCount {
            count: e.count,
            reset_after_secs: secs_until(e.expires, now),
        }
    }

    pub fn peek_at(&self, key: &str, now: Instant) -> WindowCount {
        let map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(e) if e.expires > now => WindowCount {
                count: e.count,
                reset_after_secs: secs_until(e.expires, now),
            },
            _ => WindowCount {
                count: 0,
                reset_after_secs: 0,
            },
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn hit(&self, key: &str, window_secs: u64) -> DomainResult<WindowCount> {
        let window = Duration::seconds(i64::try_from(window_secs).unwrap_or(i64::MAX / 1000));
        Ok(self.hit_at(key, window, self.clock.now()))
    }

    async fn peek(&self, key: &str) -> DomainResult<WindowCount> {
        Ok(self.peek_at(key, self.clock.now()))
    }

    async fn undo(&self, key: &str) -> DomainResult<()> {
        let now = self.clock.now();
        let mut map = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = map.get_mut(key)
            && e.expires > now
        {
            e.count = e.count.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear(&self, key: &str) -> DomainResult<()> {
        self.shard(key)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use user_service_domain::ports::SystemClock;

    fn store(capacity: usize) -> MemoryStore {
        MemoryStore::new(capacity, Arc::new(SystemClock))
    }

    #[test]
    fn counts_within_a_window_and_starts_over_after_it() {
        let s = store(1000);
        let t0 = Utc::now();
        let w = Duration::seconds(60);
        assert_eq!(s.hit_at("k", w, t0).count, 1);
        let second = s.hit_at("k", w, t0 + Duration::milliseconds(30_500));
        assert_eq!((second.count, second.reset_after_secs), (2, 30));
        assert_eq!(s.peek_at("k", t0 + Duration::seconds(59)).count, 2);
        assert_eq!(s.peek_at("k", t0 + w).count, 0);
        let fresh = s.hit_at("k", w, t0 + w);
        assert_eq!((fresh.count, fresh.reset_after_secs), (1, 60));
        assert_eq!(s.hit_at("other", w, t0).count, 1);
    }

    #[actix_web::test]
    async fn undo_takes_back_one_hit_and_never_goes_below_zero() -> DomainResult<()> {
        let s = store(1000);
        s.hit("k", 60).await?;
        s.hit("k", 60).await?;
        s.undo("k").await?;
        assert_eq!(s.peek("k").await?.count, 1);
        s.undo("k").await?;
        s.undo("k").await?;
        s.undo("absent").await?;
        assert_eq!(s.peek("k").await?.count, 0);
        assert_eq!(s.hit("k", 60).await?.count, 1);
        Ok(())
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_keys() {
        let s = store(SHARDS * 10);
        let t0 = Utc::now();
        for i in 0..10_000 {
            s.hit_at(&format!("ip:{i}"), Duration::seconds(60), t0);
        }
        assert!(s.len() <= SHARDS * 10, "{}", s.len());
        // Expired windows are swept first when a shard fills up.
        let later = t0 + Duration::seconds(61);
        for i in 0..10_000 {
            s.hit_at(&format!("late:{i}"), Duration::seconds(60), later);
        }
        assert!(s.len() <= SHARDS * 10);
        assert_eq!(s.peek_at("ip:1", later).count, 0);
    }
}
