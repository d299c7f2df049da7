//! `UserRepository`.

use chrono::{Duration, TimeZone, Utc};
use user_service_db::{Database, DieselUsers};
use user_service_domain::DomainError;
use user_service_domain::model::{
    Change, Email, Extra, ExtraChange, PersonName, Phone, ProfileChanges, Role, User, UserChanges,
};
use user_service_domain::ports::{AvatarRef, LoginName, UserRepository};
use uuid::Uuid;

use crate::support::{bare_user, create_namespace, insert_user, namespace_with_user, now, user};

contract!(
    insert_then_get_round_trips_every_field,
    a_user_without_optional_fields_round_trips,
    get_is_scoped_to_the_namespace_and_none_when_unknown,
    a_username_differing_only_in_case_is_taken,
    an_email_differing_only_in_case_is_taken,
    a_username_and_an_email_both_taken_is_username_taken_on_every_backend,
    users_without_email_do_not_collide,
    the_same_username_and_email_in_another_namespace_are_free,
    a_user_of_an_unknown_namespace_is_namespace_not_found,
    a_soft_deleted_user_frees_username_and_email_and_stays_readable,
    find_live_by_username_or_email_case_insensitively,
    find_live_skips_deleted_users_and_finds_their_successor,
    update_sets_clears_and_merges_the_named_fields_only,
    a_profile_write_never_undoes_a_concurrent_deactivation_demotion_or_avatar,
    a_reactivation_or_role_change_keeps_the_token_version,
    concurrent_extra_merges_all_land,
    update_with_a_taken_email_is_email_taken_and_writes_nothing,
    a_merged_extra_over_its_limits_is_refused_and_writes_nothing,
    update_of_an_unknown_foreign_or_deleted_user_is_none,
    set_password_hash_without_revoke_keeps_the_token_version,
    set_password_hash_with_revoke_raises_the_token_version,
    bump_token_version_raises_it_by_one_each_time,
    soft_delete_happens_once,
    timestamps_keep_microseconds_and_drop_nanoseconds,
);

fn taken_username(result: Result<(), DomainError>, namespace: &str, username: &str) {
    match result {
        Err(DomainError::UsernameTaken {
            namespace: ns,
            username: name,
        }) => assert_eq!((ns.as_str(), name.as_str()), (namespace, username)),
        other => panic!("expected UsernameTaken, got {other:?}"),
    }
}

fn taken_email<T: std::fmt::Debug>(result: Result<T, DomainError>, namespace: &str) {
    match result {
        Err(DomainError::EmailTaken { namespace: ns }) => assert_eq!(ns, namespace),
        other => panic!("expected EmailTaken, got {other:?}"),
    }
}

async fn stored(repo: &DieselUsers, user: &User) -> User {
    repo.get(&user.namespace, user.id)
        .await
        .expect("get")
        .expect("the user is stored")
}

async fn insert_then_get_round_trips_every_field(db: Database) {
    create_namespace(&db, "acme").await;
    let repo = DieselUsers::new(db);
    let alice = user("acme", "Alice", Some("Alice@Example.COM"));
    repo.insert(&alice).await.expect("insert");
    assert_eq!(stored(&repo, &alice).await, alice);
}

async fn a_user_without_optional_fields_round_trips(db: Database) {
    create_namespace(&db, "acme").await;
    let repo = DieselUsers::new(db);
    let bare = bare_user("acme", "bare");
    repo.insert(&bare).await.expect("insert");
    assert_eq!(stored(&repo, &bare).await, bare);

    let deleted = User {
        deleted_at: Some(now()),
        ..bare_user("acme", "gone")
    };
    repo.insert(&deleted).await.expect("insert");
    assert_eq!(stored(&repo, &deleted).await, deleted);
}

async fn get_is_scoped_to_the_namespace_and_none_when_unknown(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    create_namespace(&db, "other").await;
    let repo = DieselUsers::new(db);
    assert_eq!(repo.get("other", alice.id).await.expect("get"), None);
    assert_eq!(repo.get("acme", Uuid::now_v7()).await.expect("get"), None);
    assert_eq!(repo.get("acme", alice.id).await.expect("get"), Some(alice));
}

async fn a_username_differing_only_in_case_is_taken(db: Database) {
    namespace_with_user(&db, "acme", "Alice").await;
    let repo = DieselUsers::new(db);
    let twin = user("acme", "aLICE", Some("different@example.com"));
    taken_username(repo.insert(&twin).await, "acme", "aLICE");
    assert_eq!(repo.get("acme", twin.id).await.expect("get"), None);
}

async fn an_email_differing_only_in_case_is_taken(db: Database) {
    create_namespace(&db, "acme").await;
    let repo = DieselUsers::new(db);
    repo.insert(&user("acme", "alice", Some("Alice@Example.com")))
        .await
        .expect("insert");
    let twin = user("acme", "bob", Some("ALICE@example.COM"));
    taken_email(repo.insert(&twin).await, "acme");
    assert_eq!(repo.get("acme", twin.id).await.expect("get"), None);
}

/// PostgreSQL and SQLite check their unique indexes in different orders; the answer is the same.
async fn a_username_and_an_email_both_taken_is_username_taken_on_every_backend(db: Database) {
    create_namespace(&db, "acme").await;
    let repo = DieselUsers::new(db);
    repo.insert(&user("acme", "alice", Some("alice@example.com")))
        .await
        .expect("insert");
    let twin = user("acme", "ALICE", Some("Alice@Example.com"));
    taken_username(repo.insert(&twin).await, "acme", "ALICE");
    assert_eq!(repo.get("acme", twin.id).await.expect("get"), None);
    // An email alone still names the email.
    let other = user("acme", "bob", Some("ALICE@example.com"));
    taken_email(repo.insert(&other).await, "acme");
}

async fn users_without_email_do_not_collide(db: Database) {
    create_namespace(&db, "acme").await;
    let repo = DieselUsers::new(db);
    let (a, b) = (user("acme", "a", None), user("acme", "b", None));
    repo.insert(&a).await.expect("first without email");
    repo.insert(&b).await.expect("second without email");
    assert_eq!(stored(&repo, &b).await.email, None);
}

async fn the_same_username_and_email_in_another_namespace_are_free(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    create_namespace(&db, "other").await;
    let repo = DieselUsers::new(db);
    let elsewhere = user("other", "ALICE", alice.email.as_deref());
    repo.insert(&elsewhere)
        .await
        .expect("insert in another namespace");
    assert_eq!(stored(&repo, &elsewhere).await, elsewhere);
    assert_eq!(stored(&repo, &alice).await, alice);
}

async fn a_user_of_an_unknown_namespace_is_namespace_not_found(db: Database) {
    let repo = DieselUsers::new(db);
    match repo.insert(&user("nowhere", "alice", None)).await {
        Err(DomainError::NamespaceNotFound(ns)) => assert_eq!(ns, "nowhere"),
        other => panic!("expected NamespaceNotFound, got {other:?}"),
    }
}

async fn a_soft_deleted_user_frees_username_and_email_and_stays_readable(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let at = now();
    assert!(
        repo.soft_delete("acme", alice.id, at)
            .await
            .expect("delete")
    );

    let successor = user("acme", "ALICE", alice.email.as_deref());
    repo.insert(&successor)
        .await
        .expect("username and email are free again");
    assert_eq!(stored(&repo, &successor).await, successor);

    let deleted = stored(&repo, &alice).await;
    assert_eq!(
        deleted,
        User {
            deleted_at: Some(at),
            is_active: false,
            token_version: alice.token_version + 1,
            updated_at: at,
            ..alice.clone()
        }
    );
    // The successor is live now: a third one collides with it, not with the deleted one.
    taken_username(
        repo.insert(&user("acme", "alice", None)).await,
        "acme",
        "alice",
    );
}

async fn find_live_by_username_or_email_case_insensitively(db: Database) {
    create_namespace(&db, "acme").await;
    create_namespace(&db, "other").await;
    let repo = DieselUsers::new(db);
    let alice = user("acme", "AliCe", Some("Alice.Smith@Example.COM"));
    repo.insert(&alice).await.expect("insert");

    let by_name = LoginName::Username("alice".into());
    let by_email = LoginName::Email("alice.smith@example.com".into());
    assert_eq!(
        repo.find_live("acme", &by_name).await.expect("find"),
        Some(alice.clone())
    );
    assert_eq!(
        repo.find_live("acme", &by_email).await.expect("find"),
        Some(alice.clone())
    );
    assert_eq!(repo.find_live("other", &by_name).await.expect("find"), None);
    assert_eq!(
        repo.find_live("other", &by_email).await.expect("find"),
        None
    );
    // A username is not an email and the other way round.
    assert_eq!(
        repo.find_live("acme", &LoginName::Email("alice".into()))
            .await
            .expect("find"),
        None
    );
    assert_eq!(
        repo.find_live("acme", &LoginName::Username("bob".into()))
            .await
            .expect("find"),
        None
    );

    assert!(
        repo.soft_delete("acme", alice.id, now())
            .await
            .expect("delete")
    );
    assert_eq!(repo.find_live("acme", &by_name).await.expect("find"), None);
    assert_eq!(repo.find_live("acme", &by_email).await.expect("find"), None);
}

async fn find_live_skips_deleted_users_and_finds_their_successor(db: Database) {
    let first = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    assert!(
        repo.soft_delete("acme", first.id, now())
            .await
            .expect("delete")
    );
    let second = user("acme", "Alice", first.email.as_deref());
    repo.insert(&second).await.expect("insert");
    let found = repo
        .find_live("acme", &LoginName::Username("alice".into()))
        .await
        .expect("find");
    assert_eq!(found, Some(second.clone()));
    let found = repo
        .find_live("acme", &LoginName::Email("alice@example.com".into()))
        .await
        .expect("find");
    assert_eq!(found, Some(second));
}

fn set_names(first: &str) -> ProfileChanges {
    ProfileChanges {
        first_name: Change::Set(PersonName::parse(first).expect("valid name")),
        ..ProfileChanges::default()
    }
}

fn merge_extra(pairs: &[(&str, Option<&str>)]) -> ExtraChange {
    ExtraChange::Merge(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect(),
    )
}

async fn update_sets_clears_and_merges_the_named_fields_only(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let at = now();
    let changes = UserChanges::profile(ProfileChanges {
        email: Change::Set(Email::parse("New.Address@Example.org").expect("valid")),
        full_name: Change::Clear,
        first_name: Change::Set(PersonName::parse("Alicia").expect("valid")),
        last_name: Change::Keep,
        phone: Change::Set(Phone::parse("+442071234567").expect("valid")),
        extra: merge_extra(&[("plan", None), ("team", Some("wonderland"))]),
    });
    let updated = repo
        .update("acme", alice.id, &changes, at)
        .await
        .expect("update")
        .expect("alice is live");
    let mut extra = alice.extra.clone();
    extra.remove("plan");
    extra.insert("team".into(), "wonderland".into());
    let expected = User {
        email: Some("New.Address@Example.org".into()),
        full_name: None,
        first_name: Some("Alicia".into()),
        phone: Some("+442071234567".into()),
        extra,
        updated_at: at,
        ..alice.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(stored(&repo, &alice).await, expected);
    // The email key moved with the email.
    let found = repo
        .find_live("acme", &LoginName::Email("new.address@example.org".into()))
        .await
        .expect("find");
    assert_eq!(found.map(|u| u.id), Some(alice.id));
    let found = repo
        .find_live("acme", &LoginName::Email("alice@example.com".into()))
        .await
        .expect("find");
    assert_eq!(found, None);
    // Clearing `extra` empties it.
    let cleared = UserChanges::profile(ProfileChanges {
        extra: ExtraChange::Clear,
        email: Change::Clear,
        ..ProfileChanges::default()
    });
    let updated = repo
        .update("acme", alice.id, &cleared, at)
        .await
        .expect("update")
        .expect("alice is live");
    assert_eq!((updated.extra.len(), updated.email), (0, None));
    // Its old email is free for someone else now.
    repo.insert(&user("acme", "bob", Some("new.address@example.org")))
        .await
        .expect("insert");
}

/// The lost update of issue 9: a write prepared from a copy read before a deactivation, a demotion
/// and an avatar change lands after them, and none of them is undone.
async fn a_profile_write_never_undoes_a_concurrent_deactivation_demotion_or_avatar(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let before = stored(&repo, &alice).await;
    assert_eq!((before.is_active, before.is_admin()), (true, true));
    let at = now();
    let demote = UserChanges::default()
        .with_roles(vec![Role::parse("user").expect("valid")])
        .with_active(false);
    repo.update("acme", alice.id, &demote, at)
        .await
        .expect("update")
        .expect("live");
    let avatar = AvatarRef {
        key: "avatars/acme/new.webp".into(),
        url: "https://cdn.example.com/new.webp".into(),
    };
    assert!(
        repo.swap_avatar(
            "acme",
            alice.id,
            before.avatar_key.clone(),
            Some(avatar.clone()),
            at
        )
        .await
        .expect("swap")
    );
    // The profile write, prepared from `before`, arrives now.
    let updated = repo
        .update(
            "acme",
            alice.id,
            &UserChanges::profile(set_names("Late")),
            at,
        )
        .await
        .expect("update")
        .expect("live");
    assert_eq!(updated.first_name.as_deref(), Some("Late"));
    assert_eq!(
        (updated.is_active, updated.roles.clone()),
        (false, vec!["user".to_string()])
    );
    assert_eq!(
        (updated.avatar_key.as_deref(), updated.avatar_url.as_deref()),
        (Some(avatar.key.as_str()), Some(avatar.url.as_str()))
    );
    // Only the deactivation raised the token version, and by one.
    assert_eq!(updated.token_version, before.token_version + 1);
    assert_eq!(stored(&repo, &alice).await, updated);
}

async fn a_reactivation_or_role_change_keeps_the_token_version(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let changes = UserChanges::default()
        .with_roles(vec![
            Role::parse("editor").expect("valid"),
            Role::parse("editor").expect("valid"),
        ])
        .with_active(true);
    let updated = repo
        .update("acme", alice.id, &changes, now())
        .await
        .expect("update")
        .expect("live");
    assert_eq!(
        (updated.roles, updated.is_active, updated.token_version),
        (vec!["editor".to_string()], true, alice.token_version)
    );
}

/// Merges of `extra` from many requests at once all land: each is applied to the row as the previous
/// one left it, never to a copy read before it.
async fn concurrent_extra_merges_all_land(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..12 {
        let repo = repo.clone();
        writes.spawn(async move {
            let key = format!("k{i}");
            let changes = UserChanges::profile(ProfileChanges {
                extra: merge_extra(&[(key.as_str(), Some("v"))]),
                ..ProfileChanges::default()
            });
            repo.update("acme", alice.id, &changes, now()).await
        });
    }
    while let Some(w) = writes.join_next().await {
        assert!(matches!(w, Ok(Ok(Some(_)))), "{w:?}");
    }
    let extra = stored(&repo, &alice).await.extra;
    for i in 0..12 {
        assert_eq!(
            extra.get(&format!("k{i}")).map(String::as_str),
            Some("v"),
            "{extra:?}"
        );
    }
    assert_eq!(extra.len(), alice.extra.len() + 12);
}

async fn update_with_a_taken_email_is_email_taken_and_writes_nothing(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let bob = user("acme", "bob", Some("bob@example.com"));
    insert_user(&db, &bob).await;
    let repo = DieselUsers::new(db);
    let grab = UserChanges::profile(ProfileChanges {
        email: Change::Set(Email::parse("ALICE@example.com").expect("valid")),
        ..set_names("Thief")
    })
    .with_active(false);
    taken_email(repo.update("acme", bob.id, &grab, now()).await, "acme");
    assert_eq!(stored(&repo, &bob).await, bob);
    assert_eq!(stored(&repo, &alice).await, alice);
}

async fn a_merged_extra_over_its_limits_is_refused_and_writes_nothing(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    // Each write is within the limit alone; together with what is stored they are one key too many.
    let keys: Vec<String> = (0..Extra::MAX_KEYS - alice.extra.len() + 1)
        .map(|i| format!("k{i}"))
        .collect();
    let changes = UserChanges::profile(ProfileChanges {
        extra: merge_extra(
            &keys
                .iter()
                .map(|k| (k.as_str(), Some("v")))
                .collect::<Vec<_>>(),
        ),
        ..set_names("Over")
    });
    let r = repo.update("acme", alice.id, &changes, now()).await;
    assert!(
        matches!(&r, Err(DomainError::Validation(d)) if d[0].field == "extra"),
        "{r:?}"
    );
    assert_eq!(stored(&repo, &alice).await, alice);
}

async fn update_of_an_unknown_foreign_or_deleted_user_is_none(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    create_namespace(&db, "other").await;
    let carol = user("acme", "carol", None);
    insert_user(&db, &carol).await;
    let repo = DieselUsers::new(db);
    assert!(
        repo.soft_delete("acme", carol.id, now())
            .await
            .expect("delete")
    );
    let deleted = stored(&repo, &carol).await;
    let changes = UserChanges::profile(set_names("Mallory")).with_active(true);
    for (ns, id) in [
        ("acme", Uuid::now_v7()),
        ("other", alice.id),
        ("acme", carol.id),
    ] {
        assert_eq!(
            repo.update(ns, id, &changes, now()).await.expect("update"),
            None
        );
    }
    assert_eq!(stored(&repo, &alice).await, alice);
    assert_eq!(stored(&repo, &carol).await, deleted);
}

async fn set_password_hash_without_revoke_keeps_the_token_version(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let at = now();
    let version = repo
        .set_password_hash("acme", alice.id, "rehashed", false, at)
        .await
        .expect("set");
    assert_eq!(version, alice.token_version);
    assert_eq!(
        stored(&repo, &alice).await,
        User {
            password_hash: Some("rehashed".into()),
            updated_at: at,
            ..alice.clone()
        }
    );
    match repo
        .set_password_hash("other", alice.id, "x", false, at)
        .await
    {
        Err(DomainError::UserNotFound) => {}
        other => panic!("expected UserNotFound, got {other:?}"),
    }
}

async fn set_password_hash_with_revoke_raises_the_token_version(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let at = now();
    let version = repo
        .set_password_hash("acme", alice.id, "changed", true, at)
        .await
        .expect("set");
    assert_eq!(version, alice.token_version + 1);
    assert_eq!(
        stored(&repo, &alice).await,
        User {
            password_hash: Some("changed".into()),
            token_version: alice.token_version + 1,
            updated_at: at,
            ..alice.clone()
        }
    );
    let again = repo
        .set_password_hash("acme", alice.id, "changed-again", true, at)
        .await
        .expect("set");
    assert_eq!(again, alice.token_version + 2);
    match repo
        .set_password_hash("acme", Uuid::now_v7(), "x", true, at)
        .await
    {
        Err(DomainError::UserNotFound) => {}
        other => panic!("expected UserNotFound, got {other:?}"),
    }
}

async fn bump_token_version_raises_it_by_one_each_time(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let bob = user("acme", "bob", None);
    insert_user(&db, &bob).await;
    let repo = DieselUsers::new(db);
    let at = now();
    let first = repo
        .bump_token_version("acme", alice.id, at)
        .await
        .expect("bump");
    let second = repo
        .bump_token_version("acme", alice.id, at)
        .await
        .expect("bump");
    assert_eq!(
        (first, second),
        (alice.token_version + 1, alice.token_version + 2)
    );
    assert_eq!(
        stored(&repo, &alice).await,
        User {
            token_version: second,
            updated_at: at,
            ..alice.clone()
        }
    );
    assert_eq!(stored(&repo, &bob).await, bob);
    match repo.bump_token_version("other", alice.id, at).await {
        Err(DomainError::UserNotFound) => {}
        other => panic!("expected UserNotFound, got {other:?}"),
    }
}

async fn soft_delete_happens_once(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsers::new(db);
    let first = now();
    assert!(
        repo.soft_delete("acme", alice.id, first)
            .await
            .expect("delete")
    );
    let later = first + Duration::minutes(1);
    assert!(
        !repo
            .soft_delete("acme", alice.id, later)
            .await
            .expect("delete")
    );
    let deleted = stored(&repo, &alice).await;
    assert_eq!(deleted.deleted_at, Some(first));
    assert_eq!(deleted.token_version, alice.token_version + 1);
    assert!(!deleted.is_active);
    assert!(
        !repo
            .soft_delete("acme", Uuid::now_v7(), later)
            .await
            .expect("delete")
    );
    assert!(
        !repo
            .soft_delete("other", alice.id, later)
            .await
            .expect("delete")
    );
}

async fn timestamps_keep_microseconds_and_drop_nanoseconds(db: Database) {
    create_namespace(&db, "acme").await;
    let repo = DieselUsers::new(db);
    let base = Utc
        .with_ymd_and_hms(2031, 12, 31, 23, 59, 59)
        .single()
        .expect("a valid date");
    let precise = base + Duration::nanoseconds(123_456_789);
    let alice = User {
        created_at: precise,
        updated_at: base + Duration::microseconds(999_999),
        deleted_at: Some(base),
        ..user("acme", "alice", None)
    };
    repo.insert(&alice).await.expect("insert");
    let read = stored(&repo, &alice).await;
    assert_eq!(read.created_at, base + Duration::microseconds(123_456));
    assert_eq!(read.updated_at, alice.updated_at);
    assert_eq!(read.deleted_at, Some(base));
}
