//! `UserRepository::swap_avatar`: a compare-and-set on the avatar key that writes nothing else.

use chrono::Duration;
use user_service_db::{Database, DieselUsers};
use user_service_domain::model::User;
use user_service_domain::ports::{AvatarRef, UserRepository};
use uuid::Uuid;

use crate::support::{namespace_with_user, now};

contract!(
    swap_avatar_sets_and_clears_only_the_avatar_and_updated_at,
    swap_avatar_refuses_when_the_key_changed_meanwhile,
    swap_avatar_of_an_unknown_or_foreign_user_is_false,
);

fn avatar(n: u32) -> AvatarRef {
    AvatarRef {
        key: format!("avatars/acme/u/{n}.png"),
        url: format!("/uploads/avatars/acme/u/{n}.png"),
    }
}

async fn stored(repo: &DieselUsers, user: &User) -> User {
    repo.get(&user.namespace, user.id)
        .await
        .expect("get")
        .expect("the user exists")
}

async fn swap_avatar_sets_and_clears_only_the_avatar_and_updated_at(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let later = now() + Duration::seconds(5);
    assert!(
        repo.swap_avatar(
            "acme",
            alice.id,
            alice.avatar_key.clone(),
            Some(avatar(1)),
            later
        )
        .await
        .expect("swap")
    );
    let with_avatar = User {
        avatar_key: Some(avatar(1).key),
        avatar_url: Some(avatar(1).url),
        updated_at: later,
        ..alice.clone()
    };
    assert_eq!(stored(&repo, &alice).await, with_avatar);

    let cleared_at = later + Duration::seconds(5);
    assert!(
        repo.swap_avatar("acme", alice.id, Some(avatar(1).key), None, cleared_at)
            .await
            .expect("swap")
    );
    let cleared = User {
        avatar_key: None,
        avatar_url: None,
        updated_at: cleared_at,
        ..alice.clone()
    };
    assert_eq!(stored(&repo, &alice).await, cleared);
    // From no avatar at all.
    assert!(
        repo.swap_avatar("acme", alice.id, None, Some(avatar(2)), cleared_at)
            .await
            .expect("swap")
    );
    assert_eq!(stored(&repo, &alice).await.avatar_key, Some(avatar(2).key));
}

async fn swap_avatar_refuses_when_the_key_changed_meanwhile(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let t = now() + Duration::seconds(1);
    assert!(
        repo.swap_avatar(
            "acme",
            alice.id,
            alice.avatar_key.clone(),
            Some(avatar(1)),
            t
        )
        .await
        .expect("swap")
    );
    // A second request that still believes there is no avatar, or names another one, loses.
    for stale in [None, Some(avatar(9).key), alice.avatar_key.clone()] {
        assert!(
            !repo
                .swap_avatar("acme", alice.id, stale, Some(avatar(2)), t)
                .await
                .expect("swap")
        );
    }
    assert_eq!(stored(&repo, &alice).await.avatar_key, Some(avatar(1).key));
}

async fn swap_avatar_of_an_unknown_or_foreign_user_is_false(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let t = now();
    assert!(
        !repo
            .swap_avatar(
                "acme",
                Uuid::now_v7(),
                alice.avatar_key.clone(),
                Some(avatar(1)),
                t
            )
            .await
            .expect("swap")
    );
    assert!(
        !repo
            .swap_avatar(
                "other",
                alice.id,
                alice.avatar_key.clone(),
                Some(avatar(1)),
                t
            )
            .await
            .expect("swap")
    );
    assert_eq!(stored(&repo, &alice).await, alice);
}
