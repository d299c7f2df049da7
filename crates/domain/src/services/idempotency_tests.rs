//! `IdempotencyService`: claim, replay, reused, in use, release on a server error, purging.

use std::sync::Arc;

use chrono::Duration;

use super::idempotency::{Begin, IdempotencyService, ScopedKey, fingerprint};
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{Claim, IdempotencyKey, IdempotencyRecord, Principal, StoredResponse};
use crate::ports::MockIdempotencyStore;

fn key() -> IdempotencyKey {
    IdempotencyKey::parse("k-1").expect("valid key")
}

fn service_key() -> Principal {
    Principal::Service {
        namespace: NS.into(),
    }
}

fn scoped() -> ScopedKey {
    ScopedKey::new(&service_key(), &key()).expect("a namespace caller")
}

fn response(status: u16) -> StoredResponse {
    StoredResponse {
        status,
        content_type: Some("application/json".into()),
        body: b"{}".to_vec(),
    }
}

fn taken(hash: &str, response: Option<StoredResponse>) -> Claim {
    Claim::Taken(IdempotencyRecord {
        namespace: NS.into(),
        key: "k-1".into(),
        request_hash: hash.into(),
        response,
        created_at: t0(),
        expires_at: t0() + Duration::days(1),
    })
}

fn service(store: MockIdempotencyStore) -> IdempotencyService {
    IdempotencyService::new(Arc::new(store), Arc::new(fixed_clock()), 86_400)
}

fn store_answering(claim: Claim) -> MockIdempotencyStore {
    let mut store = MockIdempotencyStore::new();
    store.expect_purge_expired().returning(|_| Ok(0));
    store
        .expect_claim()
        .withf(|ns, k, _, now, exp| {
            ns == NS
                && k == scoped().stored_key()
                && *now == t0()
                && *exp == t0() + Duration::minutes(2)
        })
        .returning(move |_, _, _, _, _| Ok(claim.clone()));
    store
}

#[tokio::test]
async fn the_four_answers_of_begin() {
    let b = service(store_answering(Claim::Claimed))
        .begin(&scoped(), "h")
        .await;
    assert_eq!(b.ok(), Some(Begin::Proceed));
    let b = service(store_answering(taken("h", Some(response(201)))))
        .begin(&scoped(), "h")
        .await;
    assert_eq!(b.ok(), Some(Begin::Replay(response(201))));
    let b = service(store_answering(taken("other", Some(response(201)))))
        .begin(&scoped(), "h")
        .await;
    assert!(matches!(b, Err(DomainError::IdempotencyKeyReused)), "{b:?}");
    let b = service(store_answering(taken("other", None)))
        .begin(&scoped(), "h")
        .await;
    assert!(matches!(b, Err(DomainError::IdempotencyKeyReused)), "{b:?}");
    let b = service(store_answering(taken("h", None)))
        .begin(&scoped(), "h")
        .await;
    assert!(matches!(b, Err(DomainError::IdempotencyKeyInUse)), "{b:?}");
}

#[tokio::test]
async fn finish_keeps_4xx_and_releases_5xx() {
    let mut store = MockIdempotencyStore::new();
    store
        .expect_complete()
        .withf(|_, _, r, exp| r.status == 400 && *exp == t0() + Duration::days(1))
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    store.expect_release().times(1).returning(|_, _| Ok(()));
    let s = service(store);
    s.finish(&scoped(), &response(400)).await.expect("kept");
    s.finish(&scoped(), &response(503)).await.expect("released");
}

#[tokio::test]
async fn purging_happens_at_most_once_a_minute_and_never_fails_a_request() {
    let mut store = MockIdempotencyStore::new();
    store
        .expect_purge_expired()
        .times(1)
        .returning(|_| Err(DomainError::unexpected("down")));
    store
        .expect_claim()
        .times(3)
        .returning(|_, _, _, _, _| Ok(Claim::Claimed));
    let s = service(store);
    for _ in 0..3 {
        assert_eq!(s.begin(&scoped(), "h").await.ok(), Some(Begin::Proceed));
    }
}

#[test]
fn keys_and_fingerprints() {
    assert!(IdempotencyKey::parse("").is_err());
    assert!(IdempotencyKey::parse(&"é".repeat(255)).is_ok());
    assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    assert_eq!(fingerprint(&[b"a", b"bc"]), fingerprint(&[b"a", b"bc"]));
    assert_ne!(fingerprint(&[b"ab", b"c"]), fingerprint(&[b"a", b"bc"]));
    assert_eq!(fingerprint(&[]).len(), 64);
}

#[test]
fn keys_belong_to_their_caller() {
    let other_service = Principal::Service {
        namespace: "other".into(),
    };
    let mine = scoped();
    let theirs = ScopedKey::new(&other_service, &key()).expect("a namespace caller");
    assert_eq!(mine.namespace(), NS);
    assert_ne!(mine.stored_key(), theirs.stored_key());
    // The bug this prevents: a plain user's key blocking the service's later request with it.
    let user = ScopedKey::new(&Principal::User(user()), &key()).expect("a namespace caller");
    assert_eq!(user.namespace(), mine.namespace());
    assert_ne!(user.stored_key(), mine.stored_key());
    assert_eq!(
        mine.stored_key().len(),
        64,
        "fixed length, never the client's text"
    );
    assert!(!mine.stored_key().contains("k-1"));
    assert_eq!(ScopedKey::new(&Principal::Operator, &key()), None);
}
