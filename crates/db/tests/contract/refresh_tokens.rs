//! `RefreshTokenRepository`.

use std::sync::Arc;

use chrono::Duration;
use user_service_db::{Database, DieselRefreshTokens};
use user_service_domain::model::RefreshToken;
use user_service_domain::ports::RefreshTokenRepository;
use uuid::Uuid;

use crate::support::{insert_user, namespace_with_user, now, token, user};

contract!(
    insert_then_find_round_trips,
    find_of_an_unknown_hash_is_none,
    rotate_spends_the_old_token_and_stores_the_new_one,
    a_spent_token_rotates_no_more,
    a_revoked_token_does_not_rotate,
    an_unknown_token_does_not_rotate,
    revoke_family_revokes_that_family_only,
    revoke_all_for_user_revokes_that_user_only,
    concurrent_rotations_of_one_token_let_exactly_one_win,
);

async fn stored(repo: &DieselRefreshTokens, hash: &str) -> RefreshToken {
    repo.find(hash)
        .await
        .expect("find")
        .expect("the token is stored")
}

async fn insert_then_find_round_trips(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let fresh = token(&alice, Uuid::now_v7(), "fresh");
    let used = RefreshToken {
        spent_at: Some(now() - Duration::minutes(1)),
        revoked_at: Some(now()),
        ..token(&alice, Uuid::now_v7(), "used")
    };
    repo.insert(&fresh).await.expect("insert");
    repo.insert(&used).await.expect("insert");
    assert_eq!(stored(&repo, "fresh").await, fresh);
    assert_eq!(stored(&repo, "used").await, used);
}

async fn find_of_an_unknown_hash_is_none(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    repo.insert(&token(&alice, Uuid::now_v7(), "known"))
        .await
        .expect("insert");
    assert_eq!(repo.find("unknown").await.expect("find"), None);
}

async fn rotate_spends_the_old_token_and_stores_the_new_one(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let family = Uuid::now_v7();
    let old = token(&alice, family, "old");
    repo.insert(&old).await.expect("insert");
    let at = now();
    let new = RefreshToken {
        issued_at: at,
        expires_at: at + Duration::days(30),
        ..token(&alice, family, "new")
    };
    assert!(repo.rotate("old", &new, at).await.expect("rotate"));
    assert_eq!(
        stored(&repo, "old").await,
        RefreshToken {
            spent_at: Some(at),
            ..old
        }
    );
    assert_eq!(stored(&repo, "new").await, new);
}

async fn a_spent_token_rotates_no_more(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let family = Uuid::now_v7();
    repo.insert(&token(&alice, family, "old"))
        .await
        .expect("insert");
    let first_at = now();
    assert!(
        repo.rotate("old", &token(&alice, family, "first"), first_at)
            .await
            .expect("rotate")
    );
    let later = first_at + Duration::seconds(5);
    assert!(
        !repo
            .rotate("old", &token(&alice, family, "second"), later)
            .await
            .expect("rotate")
    );
    assert_eq!(repo.find("second").await.expect("find"), None);
    assert_eq!(stored(&repo, "old").await.spent_at, Some(first_at));
    assert_eq!(stored(&repo, "first").await.spent_at, None);
}

async fn a_revoked_token_does_not_rotate(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let family = Uuid::now_v7();
    let old = token(&alice, family, "old");
    repo.insert(&old).await.expect("insert");
    let revoked_at = now();
    repo.revoke_family(family, revoked_at)
        .await
        .expect("revoke");
    assert!(
        !repo
            .rotate("old", &token(&alice, family, "new"), now())
            .await
            .expect("rotate")
    );
    assert_eq!(repo.find("new").await.expect("find"), None);
    assert_eq!(
        stored(&repo, "old").await,
        RefreshToken {
            revoked_at: Some(revoked_at),
            ..old
        }
    );
}

async fn an_unknown_token_does_not_rotate(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    assert!(
        !repo
            .rotate("nothing", &token(&alice, Uuid::now_v7(), "new"), now())
            .await
            .expect("rotate")
    );
    assert_eq!(repo.find("new").await.expect("find"), None);
}

async fn revoke_family_revokes_that_family_only(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let (family, other_family) = (Uuid::now_v7(), Uuid::now_v7());
    let earlier = now() - Duration::hours(1);
    let already = RefreshToken {
        revoked_at: Some(earlier),
        ..token(&alice, family, "f1-already-revoked")
    };
    for t in [
        token(&alice, family, "f1-a"),
        token(&alice, family, "f1-b"),
        already.clone(),
        token(&alice, other_family, "f2-a"),
    ] {
        repo.insert(&t).await.expect("insert");
    }
    let at = now();
    repo.revoke_family(family, at).await.expect("revoke");

    assert_eq!(stored(&repo, "f1-a").await.revoked_at, Some(at));
    assert_eq!(stored(&repo, "f1-b").await.revoked_at, Some(at));
    // Revocation keeps its first date.
    assert_eq!(stored(&repo, "f1-already-revoked").await, already);
    assert_eq!(stored(&repo, "f2-a").await.revoked_at, None);
    // Revoking a family that does not exist is not an error.
    repo.revoke_family(Uuid::now_v7(), at)
        .await
        .expect("revoke");
}

async fn revoke_all_for_user_revokes_that_user_only(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let bob = user("acme", "bob", None);
    insert_user(&db, &bob).await;
    let repo = DieselRefreshTokens::new(db);
    for t in [
        token(&alice, Uuid::now_v7(), "alice-1"),
        token(&alice, Uuid::now_v7(), "alice-2"),
        token(&bob, Uuid::now_v7(), "bob-1"),
    ] {
        repo.insert(&t).await.expect("insert");
    }
    let at = now();
    repo.revoke_all_for_user(alice.id, at)
        .await
        .expect("revoke");
    assert_eq!(stored(&repo, "alice-1").await.revoked_at, Some(at));
    assert_eq!(stored(&repo, "alice-2").await.revoked_at, Some(at));
    assert_eq!(stored(&repo, "bob-1").await.revoked_at, None);
}

async fn concurrent_rotations_of_one_token_let_exactly_one_win(db: Database) {
    const CONTENDERS: usize = 20;
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = Arc::new(DieselRefreshTokens::new(db));
    let family = Uuid::now_v7();
    repo.insert(&token(&alice, family, "contested"))
        .await
        .expect("insert");

    let start = Arc::new(tokio::sync::Barrier::new(CONTENDERS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..CONTENDERS {
        let (repo, start) = (Arc::clone(&repo), Arc::clone(&start));
        let next = token(&alice, family, &format!("next-{i}"));
        tasks.spawn(async move {
            start.wait().await;
            repo.rotate("contested", &next, now()).await
        });
    }
    let mut winners = 0;
    while let Some(joined) = tasks.join_next().await {
        if joined.expect("task").expect("rotate") {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    let mut stored_successors = 0;
    for i in 0..CONTENDERS {
        if repo
            .find(&format!("next-{i}"))
            .await
            .expect("find")
            .is_some()
        {
            stored_successors += 1;
        }
    }
    assert_eq!(stored_successors, 1);
    assert!(stored(&repo, "contested").await.spent_at.is_some());
}
