//! `SigningKeyRepository`: at most one active key, atomic rotation, and what `list` returns.

use std::sync::Arc;

use chrono::Duration;
use user_service_db::{Database, DieselSigningKeys};
use user_service_domain::model::{SigningAlgorithm, SigningKeyRecord};
use user_service_domain::ports::SigningKeyRepository;

use crate::support::now;

contract!(
    a_key_round_trips_every_column,
    only_the_first_of_two_first_keys_is_stored,
    rotation_retires_the_active_key_and_activates_the_new_one,
    list_leaves_out_keys_retired_long_ago,
    racing_rotations_leave_one_active_key,
);

/// A record with made-up key material: the repository stores bytes and text, it never reads them.
fn key(kid: &str, algorithm: SigningAlgorithm) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm,
        public_jwk: format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"x-of-{kid}","kid":"{kid}"}}"#),
        // Every byte value, so nothing in between (text encodings, NUL handling) can alter them.
        sealed_private_key: (0..=255u8).rev().chain(0..=255u8).collect(),
        created_at: now() - Duration::microseconds(1_234_567),
        retired_at: None,
    }
}

fn active(keys: &[SigningKeyRecord]) -> Vec<&str> {
    keys.iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.kid.as_str())
        .collect()
}

async fn a_key_round_trips_every_column(db: Database) {
    let repo = DieselSigningKeys::new(db);
    let k = key("k1", SigningAlgorithm::Rs256);
    assert!(repo.insert_first(&k).await.expect("insert"));
    let listed = repo.list(now() - Duration::days(1)).await.expect("list");
    assert_eq!(listed, vec![k]);
}

async fn only_the_first_of_two_first_keys_is_stored(db: Database) {
    let repo = DieselSigningKeys::new(db);
    assert!(
        repo.insert_first(&key("k1", SigningAlgorithm::EdDsa))
            .await
            .expect("first")
    );
    assert!(
        !repo
            .insert_first(&key("k2", SigningAlgorithm::EdDsa))
            .await
            .expect("second")
    );
    let listed = repo.list(now()).await.expect("list");
    assert_eq!(active(&listed), vec!["k1"]);
    assert_eq!(listed.len(), 1);
}

async fn rotation_retires_the_active_key_and_activates_the_new_one(db: Database) {
    let repo = DieselSigningKeys::new(db);
    // Rotating with no key at all simply stores the new one.
    assert!(
        repo.rotate(&key("k1", SigningAlgorithm::EdDsa), now())
            .await
            .expect("rotate")
    );
    let at = now() + Duration::seconds(10);
    let mut k2 = key("k2", SigningAlgorithm::EdDsa);
    k2.created_at = at;
    assert!(repo.rotate(&k2, at).await.expect("rotate"));
    let listed = repo.list(at - Duration::seconds(1)).await.expect("list");
    assert_eq!(
        listed.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        vec!["k1", "k2"]
    );
    assert_eq!(listed[0].retired_at, Some(at));
    assert_eq!(active(&listed), vec!["k2"]);
    assert!(
        !repo
            .insert_first(&key("k3", SigningAlgorithm::EdDsa))
            .await
            .expect("insert")
    );
}

async fn list_leaves_out_keys_retired_long_ago(db: Database) {
    let repo = DieselSigningKeys::new(db);
    let t = now();
    repo.rotate(&key("old", SigningAlgorithm::EdDsa), t)
        .await
        .expect("rotate");
    repo.rotate(
        &key("mid", SigningAlgorithm::EdDsa),
        t + Duration::seconds(10),
    )
    .await
    .expect("rotate");
    repo.rotate(
        &key("new", SigningAlgorithm::EdDsa),
        t + Duration::seconds(20),
    )
    .await
    .expect("rotate");
    // `old` retired at t+10, `mid` at t+20: strictly after is kept.
    let kids = |keys: Vec<SigningKeyRecord>| keys.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(repo.list(t + Duration::seconds(10)).await.expect("list")),
        vec!["mid", "new"]
    );
    assert_eq!(
        kids(repo.list(t + Duration::seconds(9)).await.expect("list")),
        vec!["old", "mid", "new"]
    );
    assert_eq!(
        kids(repo.list(t + Duration::seconds(30)).await.expect("list")),
        vec!["new"]
    );
}

async fn racing_rotations_leave_one_active_key(db: Database) {
    let repo = Arc::new(DieselSigningKeys::new(db));
    repo.insert_first(&key("k0", SigningAlgorithm::EdDsa))
        .await
        .expect("insert");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                repo.rotate(&key(&format!("k{}", i + 1), SigningAlgorithm::EdDsa), now())
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.expect("task").expect("rotate") {
            won += 1;
        }
    }
    let listed = repo.list(now() - Duration::days(1)).await.expect("list");
    assert_eq!(active(&listed).len(), 1, "{listed:?}");
    assert_eq!(
        listed.len(),
        won + 1,
        "every winner stored its key, no loser did"
    );
    assert!(won >= 1);
}
