//! `IdempotencyStore`: one claim wins, records replay, release and expiry free a key.

use std::sync::Arc;

use chrono::Duration;
use user_service_db::{Database, DieselIdempotencyStore};
use user_service_domain::model::{Claim, StoredResponse};
use user_service_domain::ports::IdempotencyStore;

use crate::support::now;

contract!(
    claim_complete_and_find_again,
    release_frees_only_a_claim_in_flight,
    expired_records_count_as_absent_and_are_purged,
    keys_are_per_namespace,
    concurrent_claims_let_exactly_one_win,
);

fn response() -> StoredResponse {
    StoredResponse {
        status: 200,
        content_type: Some("application/json".into()),
        body: b"{\"data\":89.5}\x00\xff".to_vec(),
    }
}

async fn claim_complete_and_find_again(db: Database) {
    let store = DieselIdempotencyStore::new(db);
    let t = now();
    // Claimed for a short in-flight lease; completing keeps the response for the full time.
    let claim = store
        .claim("ns", "k", "h1", t, t + Duration::minutes(2))
        .await
        .expect("claim");
    assert_eq!(claim, Claim::Claimed);
    match store
        .claim("ns", "k", "h2", t, t + Duration::days(1))
        .await
        .expect("claim")
    {
        Claim::Taken(r) => assert_eq!((r.request_hash.as_str(), r.response), ("h1", None)),
        other => panic!("{other:?}"),
    }
    store
        .complete("ns", "k", &response(), t + Duration::days(1))
        .await
        .expect("complete");
    match store
        .claim("ns", "k", "h1", t, t + Duration::days(1))
        .await
        .expect("claim")
    {
        Claim::Taken(r) => {
            assert_eq!(r.response, Some(response()));
            assert_eq!((r.created_at, r.expires_at), (t, t + Duration::days(1)));
        }
        other => panic!("{other:?}"),
    }
}

async fn release_frees_only_a_claim_in_flight(db: Database) {
    let store = DieselIdempotencyStore::new(db);
    let t = now();
    store
        .claim("ns", "a", "h", t, t + Duration::days(1))
        .await
        .expect("claim");
    store.release("ns", "a").await.expect("release");
    assert_eq!(
        store
            .claim("ns", "a", "h", t, t + Duration::days(1))
            .await
            .expect("claim"),
        Claim::Claimed
    );
    store
        .complete("ns", "a", &response(), t + Duration::days(1))
        .await
        .expect("complete");
    store.release("ns", "a").await.expect("release");
    assert!(matches!(
        store.claim("ns", "a", "h", t, t + Duration::days(1)).await.expect("claim"),
        Claim::Taken(r) if r.response == Some(response())
    ));
}

async fn expired_records_count_as_absent_and_are_purged(db: Database) {
    let store = DieselIdempotencyStore::new(db);
    let t = now();
    store
        .claim("ns", "old", "h", t, t + Duration::seconds(10))
        .await
        .expect("claim");
    store
        .complete("ns", "old", &response(), t + Duration::seconds(10))
        .await
        .expect("complete");
    store
        .claim("ns", "other", "h", t, t + Duration::seconds(10))
        .await
        .expect("claim");
    store
        .claim("ns", "fresh", "h", t, t + Duration::days(1))
        .await
        .expect("claim");
    let later = t + Duration::seconds(10);
    assert_eq!(
        store
            .claim("ns", "old", "new-hash", later, later + Duration::days(1))
            .await
            .expect("claim"),
        Claim::Claimed
    );
    assert_eq!(store.purge_expired(later).await.expect("purge"), 1);
    assert!(matches!(
        store
            .claim("ns", "fresh", "h", later, later)
            .await
            .expect("claim"),
        Claim::Taken(_)
    ));
}

async fn keys_are_per_namespace(db: Database) {
    let store = DieselIdempotencyStore::new(db);
    let t = now();
    assert_eq!(
        store
            .claim("a", "k", "h", t, t + Duration::days(1))
            .await
            .expect("claim"),
        Claim::Claimed
    );
    assert_eq!(
        store
            .claim("b", "k", "h", t, t + Duration::days(1))
            .await
            .expect("claim"),
        Claim::Claimed
    );
}

async fn concurrent_claims_let_exactly_one_win(db: Database) {
    let store = Arc::new(DieselIdempotencyStore::new(db));
    let t = now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            store
                .claim("ns", "hot", "h", t, t + Duration::days(1))
                .await
        });
    }
    let mut won = 0;
    while let Some(joined) = tasks.join_next().await {
        if joined.expect("task").expect("claim") == Claim::Claimed {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}
