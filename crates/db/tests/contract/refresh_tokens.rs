//! `RefreshTokenRepository`.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use user_service_db::{Database, DieselRefreshTokens, DieselUsers, write_transaction};
use user_service_domain::DomainError;
use user_service_domain::model::{RefreshToken, Rotation, User, UserChanges};
use user_service_domain::ports::{RefreshTokenRepository, UserRepository};
use uuid::Uuid;

use crate::support::{insert_user, namespace_with_user, now, token, user};

contract!(
    insert_then_find_round_trips,
    find_of_an_unknown_hash_is_none,
    rotate_spends_the_old_token_and_stores_the_new_one,
    a_spent_token_is_reissued_within_the_leeway_and_replayed_after_it,
    a_revoked_unknown_expired_or_foreign_token_is_refused,
    a_token_of_an_older_version_or_an_ended_user_is_refused,
    a_family_keeps_at_most_five_live_tokens,
    revoke_family_revokes_that_family_only,
    revoke_all_for_user_revokes_that_user_only,
    concurrent_rotations_of_one_token_let_exactly_one_win,
    rotations_at_once_are_each_decided_alone,
    rotations_racing_a_logout_leave_no_live_token_in_the_family,
    rotations_racing_a_version_raise_leave_no_token_of_the_current_version,
    live_rotations_racing_a_version_raise_leave_no_token_of_the_current_version,
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

/// The reuse leeway the tests present: 30 s before `at`.
fn leeway(at: DateTime<Utc>) -> DateTime<Utc> {
    at - Duration::seconds(30)
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
    assert_eq!(
        repo.rotate("old", &new, leeway(at), at)
            .await
            .expect("rotate"),
        Rotation::Rotated
    );
    assert_eq!(
        stored(&repo, "old").await,
        RefreshToken {
            spent_at: Some(at),
            ..old
        }
    );
    assert_eq!(stored(&repo, "new").await, new);
}

async fn a_spent_token_is_reissued_within_the_leeway_and_replayed_after_it(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let family = Uuid::now_v7();
    repo.insert(&token(&alice, family, "old"))
        .await
        .expect("insert");
    let first_at = now();
    let rotate = |hash: &'static str, at| {
        let repo = repo.clone();
        let next = token(&alice, family, hash);
        async move {
            repo.rotate("old", &next, leeway(at), at)
                .await
                .expect("rotate")
        }
    };
    assert_eq!(rotate("first", first_at).await, Rotation::Rotated);
    // Another tab, 30 s later: still inside the leeway, a sibling is stored.
    let inside = first_at + Duration::seconds(30);
    assert_eq!(rotate("second", inside).await, Rotation::Reissued);
    assert_eq!(stored(&repo, "second").await.spent_at, None);
    // One microsecond past it: a replay, nothing stored.
    let past = inside + Duration::microseconds(1);
    assert_eq!(rotate("third", past).await, Rotation::Replayed);
    assert_eq!(repo.find("third").await.expect("find"), None);
    assert_eq!(stored(&repo, "old").await.spent_at, Some(first_at));
    assert_eq!(stored(&repo, "first").await.spent_at, None);
}

async fn a_revoked_unknown_expired_or_foreign_token_is_refused(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let bob = user("acme", "bob", None);
    insert_user(&db, &bob).await;
    let repo = DieselRefreshTokens::new(db);
    let (family, other) = (Uuid::now_v7(), Uuid::now_v7());
    let at = now();
    let expired = RefreshToken {
        expires_at: at - Duration::seconds(1),
        ..token(&alice, family, "expired")
    };
    let revoked = RefreshToken {
        revoked_at: Some(at - Duration::seconds(1)),
        ..token(&alice, family, "revoked")
    };
    for t in [expired, revoked, token(&alice, family, "live")] {
        repo.insert(&t).await.expect("insert");
    }
    for (old, next) in [
        ("nothing", token(&alice, family, "n1")),
        ("expired", token(&alice, family, "n2")),
        ("revoked", token(&alice, family, "n3")),
        // The presented token must be of the successor's family and user.
        ("live", token(&alice, other, "n4")),
        ("live", token(&bob, family, "n5")),
    ] {
        assert_eq!(
            repo.rotate(old, &next, leeway(at), at)
                .await
                .expect("rotate"),
            Rotation::Refused,
            "{old} -> {}",
            next.token_hash
        );
        assert_eq!(repo.find(&next.token_hash).await.expect("find"), None);
    }
    assert_eq!(stored(&repo, "live").await.spent_at, None);
}

async fn a_token_of_an_older_version_or_an_ended_user_is_refused(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db.clone());
    let users = DieselUsers::new(db.clone());
    let family = Uuid::now_v7();
    repo.insert(&token(&alice, family, "old"))
        .await
        .expect("insert");
    let at = now();
    // Logout-all (or a password change) raised the version: the token and its successor are of
    // the old one.
    users
        .bump_token_version("acme", alice.id, at)
        .await
        .expect("bump");
    assert_eq!(
        repo.rotate("old", &token(&alice, family, "new"), leeway(at), at)
            .await
            .expect("rotate"),
        Rotation::Refused
    );
    assert_eq!(repo.find("new").await.expect("find"), None);
    assert_eq!(stored(&repo, "old").await.spent_at, None);

    // A token of the current version of a deactivated or deleted user is refused as well.
    for end in ["deactivate", "delete"] {
        let u = user("acme", end, None);
        insert_user(&db, &u).await;
        let fam = Uuid::now_v7();
        let current = RefreshToken {
            token_version: u.token_version,
            ..token(&u, fam, &format!("{end}-old"))
        };
        repo.insert(&current).await.expect("insert");
        let ended = match end {
            "deactivate" => users
                .update("acme", u.id, &UserChanges::default().with_active(false), at)
                .await
                .expect("update")
                .map(|u| u.token_version),
            _ => {
                users.soft_delete("acme", u.id, at).await.expect("delete");
                None
            }
        };
        // Even a successor stamped with the version the user has now is refused: it cannot log in.
        let next = RefreshToken {
            token_version: ended.unwrap_or(u.token_version + 1),
            ..token(&u, fam, &format!("{end}-new"))
        };
        for successor in [token(&u, fam, &format!("{end}-same")), next] {
            assert_eq!(
                repo.rotate(&current.token_hash, &successor, leeway(at), at)
                    .await
                    .expect("rotate"),
                Rotation::Refused,
                "{end}"
            );
            assert_eq!(repo.find(&successor.token_hash).await.expect("find"), None);
        }
    }
}

async fn a_family_keeps_at_most_five_live_tokens(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselRefreshTokens::new(db);
    let family = Uuid::now_v7();
    let other = token(&alice, Uuid::now_v7(), "other-family");
    repo.insert(&other).await.expect("insert");
    repo.insert(&token(&alice, family, "spent"))
        .await
        .expect("insert");
    let at = now();
    let first = token(&alice, family, "first");
    assert_eq!(
        repo.rotate("spent", &first, leeway(at), at)
            .await
            .expect("rotate"),
        Rotation::Rotated
    );
    // Ten replays of the spent token inside the leeway, each a little later than the last.
    for i in 0..10 {
        let t = at + Duration::milliseconds(i + 1);
        let next = RefreshToken {
            issued_at: t,
            ..token(&alice, family, &format!("replay-{i}"))
        };
        assert_eq!(
            repo.rotate("spent", &next, leeway(t), t)
                .await
                .expect("rotate"),
            Rotation::Reissued
        );
    }
    let mut live = Vec::new();
    for hash in std::iter::once("first".to_owned()).chain((0..10).map(|i| format!("replay-{i}"))) {
        let t = stored(&repo, &hash).await;
        if t.revoked_at.is_none() {
            live.push(hash);
        }
    }
    assert_eq!(
        live,
        ["replay-5", "replay-6", "replay-7", "replay-8", "replay-9"],
        "the newest five stay live"
    );
    // Another family of the same user is not touched.
    assert_eq!(stored(&repo, "other-family").await, other);
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
    let at = now();
    for i in 0..CONTENDERS {
        let (repo, start) = (Arc::clone(&repo), Arc::clone(&start));
        let next = token(&alice, family, &format!("next-{i}"));
        tasks.spawn(async move {
            start.wait().await;
            // No leeway (only a spend after `at` would be reused): whoever comes second is a replay.
            repo.rotate("contested", &next, at + Duration::seconds(1), at)
                .await
        });
    }
    let mut winners = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task").expect("rotate") {
            Rotation::Rotated => winners += 1,
            other => assert_eq!(other, Rotation::Replayed),
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

/// Many rotations at once (on SQLite they share transactions, see the adapter): live tokens rotate,
/// unknown ones are refused, and one whose successor cannot be stored (its hash is taken) fails
/// alone, each with its own answer and nothing written for the ones that did not rotate.
async fn rotations_at_once_are_each_decided_alone(db: Database) {
    const LIVE: usize = 60;
    const UNKNOWN: usize = 20;
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = Arc::new(DieselRefreshTokens::new(db.clone()));
    for i in 0..LIVE {
        repo.insert(&token(&alice, Uuid::now_v7(), &format!("live-{i}")))
            .await
            .expect("insert");
    }
    let doomed = token(&alice, Uuid::now_v7(), "doomed");
    repo.insert(&doomed).await.expect("insert");

    // SQLite's write lock held a while by another connection, so the rotations pile up behind the
    // first and share a transaction (on PostgreSQL nothing waits).
    let lock = db.clone();
    let holder = tokio::spawn(async move {
        lock.run(|conn| {
            write_transaction(conn, |_| {
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(|e| DomainError::unexpected(e.to_string()))
        })
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    let at = now();
    let start = Arc::new(tokio::sync::Barrier::new(LIVE + UNKNOWN + 1));
    let mut tasks = tokio::task::JoinSet::new();
    let mut spawn = |old: String, next: RefreshToken| {
        let (repo, start) = (Arc::clone(&repo), Arc::clone(&start));
        tasks.spawn(async move {
            start.wait().await;
            let answer = repo.rotate(&old, &next, leeway(at), at).await;
            (old, answer)
        });
    };
    for i in 0..LIVE {
        let family = stored(&repo, &format!("live-{i}")).await.family_id;
        spawn(
            format!("live-{i}"),
            token(&alice, family, &format!("next-{i}")),
        );
    }
    // Its successor's hash is a stored token's: the insert fails.
    spawn("doomed".into(), token(&alice, doomed.family_id, "live-0"));
    for i in 0..UNKNOWN {
        spawn(
            format!("unknown-{i}"),
            token(&alice, Uuid::now_v7(), &format!("lost-{i}")),
        );
    }

    while let Some(joined) = tasks.join_next().await {
        let (old, answer) = joined.expect("task");
        if old.starts_with("live-") {
            assert_eq!(answer.expect("rotate"), Rotation::Rotated, "{old}");
        } else if old.starts_with("unknown-") {
            assert_eq!(answer.expect("rotate"), Rotation::Refused, "{old}");
        } else {
            assert!(answer.is_err(), "{old}: {answer:?}");
        }
    }
    for i in 0..LIVE {
        assert_eq!(stored(&repo, &format!("live-{i}")).await.spent_at, Some(at));
        assert_eq!(stored(&repo, &format!("next-{i}")).await.spent_at, None);
    }
    for i in 0..UNKNOWN {
        assert_eq!(repo.find(&format!("lost-{i}")).await.expect("find"), None);
    }
    // The failed rotation spent nothing: its transaction was undone.
    assert_eq!(stored(&repo, "doomed").await.spent_at, None);
    holder.await.expect("task").expect("the lock's transaction");
}

const REPLAYS: usize = 16;

/// Alice's login with its first token spent just now, and `REPLAYS` replays of that token inside the
/// leeway running while `end` ends the sessions. Returns every token of the family as stored after
/// all have finished, and what `end` returned.
async fn replays_racing<F, Fut, T>(db: &Database, end: F) -> (Vec<RefreshToken>, T)
where
    F: FnOnce(Arc<DieselRefreshTokens>, User) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let alice = namespace_with_user(db, "acme", "alice").await;
    let repo = Arc::new(DieselRefreshTokens::new(db.clone()));
    let family = Uuid::now_v7();
    repo.insert(&token(&alice, family, "spent"))
        .await
        .expect("insert");
    let at = now();
    repo.rotate("spent", &token(&alice, family, "first"), leeway(at), at)
        .await
        .expect("rotate");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REPLAYS {
        let repo = Arc::clone(&repo);
        let next = token(&alice, family, &format!("replay-{i}"));
        tasks.spawn(async move { repo.rotate("spent", &next, leeway(at), at).await });
    }
    let ended = end(Arc::clone(&repo), alice).await;
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task").expect("rotate");
    }
    let mut family_tokens = Vec::new();
    for hash in
        std::iter::once("first".to_owned()).chain((0..REPLAYS).map(|i| format!("replay-{i}")))
    {
        family_tokens.extend(repo.find(&hash).await.expect("find"));
    }
    (family_tokens, ended)
}

/// Replays racing a logout of the family: when the logout has returned, no token of the family is
/// live, whichever way each race went.
async fn rotations_racing_a_logout_leave_no_live_token_in_the_family(db: Database) {
    let (tokens, ()) = replays_racing(&db, |repo, _| async move {
        let family = repo
            .find("spent")
            .await
            .expect("find")
            .expect("stored")
            .family_id;
        repo.revoke_family(family, now()).await.expect("logout");
    })
    .await;
    for t in tokens {
        assert!(
            t.revoked_at.is_some(),
            "{} survived the logout",
            t.token_hash
        );
    }
}

/// What logout-all does (`AuthService::logout_all`): raise the version, revoke every token. Returns
/// the new version.
async fn logout_all(users: &DieselUsers, repo: &DieselRefreshTokens, alice: &User) -> i64 {
    let version = users
        .bump_token_version("acme", alice.id, now())
        .await
        .expect("bump");
    repo.revoke_all_for_user(alice.id, now())
        .await
        .expect("revoke");
    version
}

/// The same race against logout-all: afterwards every token of the user is revoked or of an older
/// version than the user's, so none refreshes.
async fn rotations_racing_a_version_raise_leave_no_token_of_the_current_version(db: Database) {
    let users = DieselUsers::new(db.clone());
    let (tokens, version) = replays_racing(&db, |repo, alice| async move {
        logout_all(&users, &repo, &alice).await
    })
    .await;
    for t in tokens {
        assert!(
            t.revoked_at.is_some() || t.token_version < version,
            "{} would refresh after logout-all",
            t.token_hash
        );
    }
}

/// Rotations of live tokens (the common case, one statement on PostgreSQL) racing logout-all: once
/// it has returned, no token of the user, spent, stored or successor, refreshes.
async fn live_rotations_racing_a_version_raise_leave_no_token_of_the_current_version(db: Database) {
    const LOGINS: usize = 24;
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = Arc::new(DieselRefreshTokens::new(db.clone()));
    let users = DieselUsers::new(db);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..LOGINS {
        let family = Uuid::now_v7();
        repo.insert(&token(&alice, family, &format!("login-{i}")))
            .await
            .expect("insert");
        let repo = Arc::clone(&repo);
        let next = token(&alice, family, &format!("next-{i}"));
        tasks.spawn(async move {
            let at = now();
            repo.rotate(&format!("login-{i}"), &next, leeway(at), at)
                .await
        });
    }
    let version = logout_all(&users, &repo, &alice).await;
    while let Some(joined) = tasks.join_next().await {
        let answer = joined.expect("task").expect("rotate");
        assert!(
            matches!(answer, Rotation::Rotated | Rotation::Refused),
            "{answer:?}"
        );
    }
    for hash in (0..LOGINS).flat_map(|i| [format!("login-{i}"), format!("next-{i}")]) {
        if let Some(t) = repo.find(&hash).await.expect("find") {
            assert!(
                t.revoked_at.is_some() || t.token_version < version,
                "{hash} would refresh after logout-all"
            );
        }
    }
}
