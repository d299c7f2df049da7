//! `IdentityLinkRepository`: one user per `(issuer, subject)`, creation and link in one
//! transaction, lookups scoped to a namespace.

use std::sync::Arc;

use chrono::Duration;
use user_service_db::{Database, DieselIdentityLinks, DieselUsers};
use user_service_domain::DomainError;
use user_service_domain::model::{IdentityLink, User};
use user_service_domain::ports::{IdentityLinkRepository, UserRepository};
use uuid::Uuid;

use crate::support::{bare_user, create_namespace, insert_user, namespace_with_user, now, user};

contract!(
    a_created_user_and_its_link_round_trip,
    a_taken_pair_creates_nothing,
    a_taken_username_or_email_creates_nothing,
    an_existing_user_can_be_linked_once,
    linking_needs_a_live_user_of_the_namespace,
    lookups_by_subject_stay_in_the_namespace,
    racing_first_sights_create_one_user,
);

const ISS: &str = "https://idp.example.com/";

fn link(user: &User, issuer: &str, subject: &str) -> IdentityLink {
    IdentityLink {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        user_id: user.id,
        namespace: user.namespace.clone(),
        created_at: now() - Duration::microseconds(1_234_567),
    }
}

async fn a_created_user_and_its_link_round_trip(db: Database) {
    create_namespace(&db, "shop").await;
    let repo = DieselIdentityLinks::new(db.clone());
    let u = bare_user("shop", "auth0_123456");
    let l = link(&u, ISS, "auth0|123456");
    assert!(repo.create_linked(&u, &l).await.expect("create"));
    assert_eq!(
        repo.find(ISS, "auth0|123456").await.expect("find"),
        Some(l.clone())
    );
    assert_eq!(
        repo.find_in_namespace("shop", "auth0|123456")
            .await
            .expect("find in namespace"),
        vec![l]
    );
    let stored = DieselUsers::new(db).get("shop", u.id).await.expect("get");
    assert_eq!(stored, Some(u));
    assert_eq!(repo.find(ISS, "auth0|654321").await.expect("find"), None);
    assert_eq!(
        repo.find("https://other.example.com/", "auth0|123456")
            .await
            .expect("find"),
        None
    );
}

async fn a_taken_pair_creates_nothing(db: Database) {
    create_namespace(&db, "shop").await;
    let repo = DieselIdentityLinks::new(db.clone());
    let first = bare_user("shop", "first");
    assert!(
        repo.create_linked(&first, &link(&first, ISS, "sub-1"))
            .await
            .expect("first")
    );
    let second = bare_user("shop", "second");
    assert!(
        !repo
            .create_linked(&second, &link(&second, ISS, "sub-1"))
            .await
            .expect("second")
    );
    let users = DieselUsers::new(db);
    assert_eq!(users.get("shop", second.id).await.expect("get"), None);
    assert_eq!(
        repo.find(ISS, "sub-1")
            .await
            .expect("find")
            .map(|l| l.user_id),
        Some(first.id)
    );
}

async fn a_taken_username_or_email_creates_nothing(db: Database) {
    let existing = namespace_with_user(&db, "shop", "alice").await;
    let repo = DieselIdentityLinks::new(db.clone());
    let by_name = bare_user("shop", "ALICE");
    let err = repo
        .create_linked(&by_name, &link(&by_name, ISS, "sub-1"))
        .await
        .expect_err("username taken");
    assert!(matches!(err, DomainError::UsernameTaken { .. }), "{err:?}");
    let by_email = User {
        email: existing.email.clone(),
        ..bare_user("shop", "bob")
    };
    let err = repo
        .create_linked(&by_email, &link(&by_email, ISS, "sub-1"))
        .await
        .expect_err("email taken");
    assert!(matches!(err, DomainError::EmailTaken { .. }), "{err:?}");
    assert_eq!(repo.find(ISS, "sub-1").await.expect("find"), None);
    let users = DieselUsers::new(db);
    assert_eq!(users.get("shop", by_name.id).await.expect("get"), None);
    assert_eq!(users.get("shop", by_email.id).await.expect("get"), None);
}

async fn an_existing_user_can_be_linked_once(db: Database) {
    let alice = namespace_with_user(&db, "shop", "alice").await;
    let repo = DieselIdentityLinks::new(db.clone());
    assert!(
        repo.link(&link(&alice, ISS, "google-1"))
            .await
            .expect("link")
    );
    // A second identity of another issuer for the same account is fine; the same pair again is not.
    assert!(
        repo.link(&link(&alice, "https://accounts.google.com", "google-1"))
            .await
            .expect("second issuer")
    );
    let bob = user("shop", "bob", None);
    insert_user(&db, &bob).await;
    assert!(
        !repo
            .link(&link(&bob, ISS, "google-1"))
            .await
            .expect("taken")
    );
    let found = repo
        .find_in_namespace("shop", "google-1")
        .await
        .expect("find");
    assert_eq!(
        found
            .iter()
            .map(|l| (l.issuer.as_str(), l.user_id))
            .collect::<Vec<_>>(),
        vec![("https://accounts.google.com", alice.id), (ISS, alice.id)]
    );
}

async fn linking_needs_a_live_user_of_the_namespace(db: Database) {
    let alice = namespace_with_user(&db, "shop", "alice").await;
    create_namespace(&db, "blog").await;
    let repo = DieselIdentityLinks::new(db.clone());
    let elsewhere = IdentityLink {
        namespace: "blog".into(),
        ..link(&alice, ISS, "s")
    };
    assert!(matches!(
        repo.link(&elsewhere).await,
        Err(DomainError::UserNotFound)
    ));
    let ghost = IdentityLink {
        user_id: Uuid::now_v7(),
        ..link(&alice, ISS, "s")
    };
    assert!(matches!(
        repo.link(&ghost).await,
        Err(DomainError::UserNotFound)
    ));
    let users = DieselUsers::new(db);
    users
        .soft_delete("shop", alice.id, now())
        .await
        .expect("soft delete");
    assert!(matches!(
        repo.link(&link(&alice, ISS, "s")).await,
        Err(DomainError::UserNotFound)
    ));
    assert_eq!(repo.find(ISS, "s").await.expect("find"), None);
}

async fn lookups_by_subject_stay_in_the_namespace(db: Database) {
    create_namespace(&db, "shop").await;
    create_namespace(&db, "blog").await;
    let repo = DieselIdentityLinks::new(db);
    let in_shop = bare_user("shop", "s1");
    let in_blog = bare_user("blog", "s1");
    assert!(
        repo.create_linked(&in_shop, &link(&in_shop, ISS, "same-sub"))
            .await
            .expect("shop")
    );
    assert!(
        repo.create_linked(
            &in_blog,
            &link(&in_blog, "https://blog-idp.example.com", "same-sub")
        )
        .await
        .expect("blog")
    );
    let ids = |links: Vec<IdentityLink>| links.into_iter().map(|l| l.user_id).collect::<Vec<_>>();
    assert_eq!(
        ids(repo
            .find_in_namespace("shop", "same-sub")
            .await
            .expect("shop")),
        vec![in_shop.id]
    );
    assert_eq!(
        ids(repo
            .find_in_namespace("blog", "same-sub")
            .await
            .expect("blog")),
        vec![in_blog.id]
    );
    assert!(
        repo.find_in_namespace("other", "same-sub")
            .await
            .expect("other")
            .is_empty()
    );
}

async fn racing_first_sights_create_one_user(db: Database) {
    create_namespace(&db, "shop").await;
    let repo = Arc::new(DieselIdentityLinks::new(db.clone()));
    // Eight requests seeing the same identity for the first time at once, each with its own new
    // user of the same username (as the domain makes them).
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let u = bare_user("shop", "racer");
                let created = repo.create_linked(&u, &link(&u, ISS, "racer-sub")).await;
                (u.id, created)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (id, created) = t.await.expect("task");
        match created {
            Ok(true) => winners.push(id),
            Ok(false) | Err(DomainError::UsernameTaken { .. }) => {}
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let linked = repo.find(ISS, "racer-sub").await.expect("find");
    assert_eq!(linked.map(|l| l.user_id), Some(winners[0]));
    let users = DieselUsers::new(db);
    let live = users
        .find_live(
            "shop",
            &user_service_domain::ports::LoginName::Username("racer".into()),
        )
        .await
        .expect("find");
    assert_eq!(live.map(|u| u.id), Some(winners[0]));
}
