//! The Redis-backed limiter store against the real Redis on 127.0.0.1:6379 (`TEST_REDIS_URL`), each
//! test under its own key prefix.

use user_service::adapters::RedisStore;
use user_service_domain::ports::RateLimitStore;

fn url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn prefix() -> String {
    format!("us-test:{}:", uuid::Uuid::now_v7())
}

#[actix_web::test]
async fn counts_in_a_fixed_window_shared_by_every_store_on_the_same_redis() {
    let p = prefix();
    let a = RedisStore::new(&url(), &p).expect("a valid URL");
    let b = RedisStore::new(&url(), &p).expect("a valid URL");
    let first = a.hit("k", 60).await.expect("hit");
    assert_eq!(first.count, 1);
    assert!((59..=60).contains(&first.reset_after_secs), "{first:?}");
    // A second instance sees and adds to the same counter.
    assert_eq!(b.hit("k", 60).await.expect("hit").count, 2);
    assert_eq!(a.peek("k").await.expect("peek").count, 2);
    // Later hits never extend the window.
    let third = b.hit("k", 3600).await.expect("hit");
    assert_eq!(third.count, 3);
    assert!(third.reset_after_secs <= 60, "{third:?}");
    // Undo takes back one hit, and never goes below zero.
    a.undo("k").await.expect("undo");
    assert_eq!(b.peek("k").await.expect("peek").count, 2);
    a.undo("absent").await.expect("undo");
    assert_eq!(a.peek("absent").await.expect("peek").count, 0);
    a.clear("k").await.expect("clear");
    assert_eq!(b.peek("k").await.expect("peek").count, 0);
    // Other prefixes are other counters.
    let c = RedisStore::new(&url(), &prefix()).expect("a valid URL");
    assert_eq!(c.hit("k", 60).await.expect("hit").count, 1);
}

#[actix_web::test]
async fn a_window_ends() {
    let s = RedisStore::new(&url(), &prefix()).expect("a valid URL");
    assert_eq!(s.hit("short", 1).await.expect("hit").count, 1);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(s.peek("short").await.expect("peek").count, 0);
    assert_eq!(s.hit("short", 1).await.expect("hit").count, 1);
}

#[actix_web::test]
async fn an_unreachable_redis_fails_fast_with_an_error() {
    // Nothing listens on port 1.
    let s = RedisStore::new("redis://127.0.0.1:1", &prefix()).expect("a valid URL");
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert!(s.hit("k", 60).await.is_err());
    }
    assert!(s.peek("k").await.is_err());
    assert!(s.clear("k").await.is_err());
    assert!(s.undo("k").await.is_err());
    // One bounded connect attempt, then a pause: requests are not held up.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(RedisStore::new("not a url", "p").is_err());
}
