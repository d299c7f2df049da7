//! `UserRepository`: the admin queries (list with filters, restore).

use chrono::Duration;
use user_service_db::{Database, DieselUsers};
use user_service_domain::DomainError;
use user_service_domain::model::{PageRequest, User};
use user_service_domain::ports::{UserFilter, UserRepository};

use crate::support::{create_namespace, insert_user, now, user};

contract!(
    list_pages_oldest_first_and_counts_all,
    list_filters_by_active_role_and_deleted,
    list_is_scoped_to_the_namespace,
    restore_brings_a_deleted_user_back,
    restore_is_refused_when_the_username_or_email_was_taken_meanwhile,
    restore_of_a_live_or_unknown_user_is_false,
);

fn nth(ns: &str, n: i64, roles: &[&str]) -> User {
    let mut u = user(ns, &format!("user_{n}"), Some(&format!("u{n}@example.com")));
    u.created_at = now() - Duration::hours(100 - n);
    u.roles = roles.iter().map(|r| r.to_string()).collect();
    u
}

fn page(offset: u64, limit: u64) -> PageRequest {
    PageRequest { offset, limit }
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

async fn list_pages_oldest_first_and_counts_all(db: Database) {
    create_namespace(&db, "shop").await;
    for n in 0..5 {
        insert_user(&db, &nth("shop", n, &["user"])).await;
    }
    let repo = DieselUsers::new(db);
    let p = repo
        .list("shop", &UserFilter::default(), page(1, 2))
        .await
        .expect("list");
    assert_eq!(names(&p.items), ["user_1", "user_2"]);
    assert_eq!((p.total, p.request), (5, page(1, 2)));
    let last = repo
        .list("shop", &UserFilter::default(), page(4, 2))
        .await
        .expect("list");
    assert_eq!(names(&last.items), ["user_4"]);
    let beyond = repo
        .list("shop", &UserFilter::default(), page(10, 2))
        .await
        .expect("list");
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
}

async fn list_filters_by_active_role_and_deleted(db: Database) {
    create_namespace(&db, "shop").await;
    let mut inactive = nth("shop", 0, &["user"]);
    inactive.is_active = false;
    insert_user(&db, &inactive).await;
    insert_user(&db, &nth("shop", 1, &["user", "admin"])).await;
    // `_` must not act as a LIKE wildcard: `a_min` is not `admin`.
    insert_user(&db, &nth("shop", 2, &["a_min"])).await;
    let deleted = nth("shop", 3, &["admin"]);
    insert_user(&db, &deleted).await;
    let repo = DieselUsers::new(db);
    assert!(
        repo.soft_delete("shop", deleted.id, now())
            .await
            .expect("delete")
    );
    let list = |f: UserFilter| {
        let repo = repo.clone();
        async move {
            let p = repo.list("shop", &f, page(0, 20)).await.expect("list");
            assert_eq!(p.total as usize, p.items.len());
            p.items
                .iter()
                .map(|u| u.username.clone())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(UserFilter::default()).await,
        ["user_0", "user_1", "user_2"]
    );
    assert_eq!(
        list(UserFilter {
            is_active: Some(true),
            ..Default::default()
        })
        .await,
        ["user_1", "user_2"]
    );
    assert_eq!(
        list(UserFilter {
            role: Some("admin".into()),
            ..Default::default()
        })
        .await,
        ["user_1"]
    );
    assert_eq!(
        list(UserFilter {
            role: Some("a_min".into()),
            ..Default::default()
        })
        .await,
        ["user_2"]
    );
    assert_eq!(
        list(UserFilter {
            role: Some("admin".into()),
            include_deleted: true,
            ..Default::default()
        })
        .await,
        ["user_1", "user_3"]
    );
    assert_eq!(
        list(UserFilter {
            is_active: Some(false),
            include_deleted: true,
            ..Default::default()
        })
        .await,
        ["user_0", "user_3"]
    );
}

async fn list_is_scoped_to_the_namespace(db: Database) {
    create_namespace(&db, "shop").await;
    create_namespace(&db, "other").await;
    insert_user(&db, &nth("shop", 0, &["user"])).await;
    insert_user(&db, &nth("other", 1, &["user"])).await;
    let p = DieselUsers::new(db)
        .list("other", &UserFilter::default(), page(0, 20))
        .await
        .expect("list");
    assert_eq!((names(&p.items), p.total), (vec!["user_1"], 1));
}

async fn restore_brings_a_deleted_user_back(db: Database) {
    create_namespace(&db, "shop").await;
    let u = nth("shop", 0, &["user"]);
    insert_user(&db, &u).await;
    let repo = DieselUsers::new(db);
    assert!(repo.soft_delete("shop", u.id, now()).await.expect("delete"));
    let at = now();
    assert!(repo.restore("shop", u.id, at).await.expect("restore"));
    let back = repo.get("shop", u.id).await.expect("get").expect("stored");
    assert_eq!(
        (back.deleted_at, back.is_active, back.updated_at),
        (None, true, at)
    );
    // The token version stays raised: tokens from before the delete remain dead.
    assert_eq!(back.token_version, u.token_version + 1);
}

async fn restore_is_refused_when_the_username_or_email_was_taken_meanwhile(db: Database) {
    create_namespace(&db, "shop").await;
    let repo = DieselUsers::new(db.clone());
    let by_name = nth("shop", 0, &["user"]);
    let by_email = nth("shop", 1, &["user"]);
    for u in [&by_name, &by_email] {
        insert_user(&db, u).await;
        assert!(repo.soft_delete("shop", u.id, now()).await.expect("delete"));
    }
    insert_user(&db, &user("shop", "USER_0", None)).await;
    insert_user(&db, &user("shop", "someone", Some("U1@example.com"))).await;
    let r = repo.restore("shop", by_name.id, now()).await;
    assert!(matches!(r, Err(DomainError::UsernameTaken { .. })), "{r:?}");
    let r = repo.restore("shop", by_email.id, now()).await;
    assert!(matches!(r, Err(DomainError::EmailTaken { .. })), "{r:?}");
    let still = repo
        .get("shop", by_name.id)
        .await
        .expect("get")
        .expect("stored");
    assert!(still.deleted_at.is_some());
}

async fn restore_of_a_live_or_unknown_user_is_false(db: Database) {
    create_namespace(&db, "shop").await;
    create_namespace(&db, "other").await;
    let u = nth("shop", 0, &["user"]);
    insert_user(&db, &u).await;
    let repo = DieselUsers::new(db);
    assert!(!repo.restore("shop", u.id, now()).await.expect("restore"));
    assert!(repo.soft_delete("shop", u.id, now()).await.expect("delete"));
    assert!(!repo.restore("other", u.id, now()).await.expect("restore"));
    assert!(
        !repo
            .restore("shop", uuid::Uuid::now_v7(), now())
            .await
            .expect("restore")
    );
}
