//! The kept per-namespace user counts (migration `user_counts`): an unfiltered list's `total` reads
//! them, so they must equal a real count after every kind of write, concurrent ones included, and
//! the migration must fill them from the users already there.

use std::sync::Arc;

use diesel::prelude::*;
use user_service_db::schema::users;
use user_service_db::{Database, DieselUsers};
use user_service_domain::model::{PageRequest, User};
use user_service_domain::ports::{UserFilter, UserRepository};

use crate::support::{create_namespace, insert_user, now, user};

contract!(
    totals_follow_inserts_deletes_and_restores,
    totals_stay_exact_under_a_concurrent_mix,
    the_migration_counts_the_users_already_there,
);

/// This migration's version: reverted and applied again by the last test.
const MIGRATION: &str = "2026-12-03-100014";

fn nth(ns: &str, n: usize) -> User {
    user(ns, &format!("user_{n}"), Some(&format!("u{n}@example.com")))
}

/// `(live, all)` counted over the rows themselves.
async fn real_counts(db: &Database, ns: &str) -> (u64, u64) {
    let ns = ns.to_owned();
    db.run(move |conn| {
        let mine = || users::table.filter(users::namespace.eq(ns.clone()));
        let live: i64 = mine()
            .filter(users::deleted_at.is_null())
            .count()
            .get_result(conn)
            .expect("count");
        let all: i64 = mine().count().get_result(conn).expect("count");
        Ok((live as u64, all as u64))
    })
    .await
    .expect("real count")
}

/// `(live, all)` as the unfiltered lists answer them.
async fn listed_totals(repo: &DieselUsers, ns: &str) -> (u64, u64) {
    let page = PageRequest {
        offset: 0,
        limit: 1,
    };
    let live = repo
        .list(ns, &UserFilter::default(), page)
        .await
        .expect("list");
    let all = repo
        .list(
            ns,
            &UserFilter {
                include_deleted: true,
                ..UserFilter::default()
            },
            page,
        )
        .await
        .expect("list");
    (live.total, all.total)
}

async fn totals_follow_inserts_deletes_and_restores(db: Database) {
    create_namespace(&db, "shop").await;
    create_namespace(&db, "other").await;
    let repo = DieselUsers::new(db.clone());
    assert_eq!(listed_totals(&repo, "shop").await, (0, 0));
    let mut shop = Vec::new();
    for n in 0..40 {
        let u = nth("shop", n);
        insert_user(&db, &u).await;
        shop.push(u);
    }
    insert_user(&db, &nth("other", 0)).await;
    assert_eq!(listed_totals(&repo, "shop").await, (40, 40));
    assert_eq!(listed_totals(&repo, "other").await, (1, 1));

    for u in &shop[..10] {
        assert!(repo.soft_delete("shop", u.id, now()).await.expect("delete"));
    }
    // A second delete of the same user changes nothing, so it counts nothing.
    assert!(
        !repo
            .soft_delete("shop", shop[0].id, now())
            .await
            .expect("delete")
    );
    assert_eq!(listed_totals(&repo, "shop").await, (30, 40));
    for u in &shop[..4] {
        assert!(repo.restore("shop", u.id, now()).await.expect("restore"));
    }
    assert!(
        !repo
            .restore("shop", shop[20].id, now())
            .await
            .expect("restore")
    );
    assert_eq!(listed_totals(&repo, "shop").await, (34, 40));
    assert_eq!(
        listed_totals(&repo, "shop").await,
        real_counts(&db, "shop").await
    );

    // A row removed outright (by an operator, say) leaves the counts too.
    let (gone_live, gone_deleted) = (shop[30].id.to_string(), shop[5].id.to_string());
    db.run(move |conn| {
        diesel::delete(users::table.filter(users::id.eq_any([gone_live, gone_deleted])))
            .execute(conn)
            .expect("delete rows");
        Ok(())
    })
    .await
    .expect("delete");
    assert_eq!(listed_totals(&repo, "shop").await, (33, 38));
    assert_eq!(
        listed_totals(&repo, "shop").await,
        real_counts(&db, "shop").await
    );
    assert_eq!(listed_totals(&repo, "other").await, (1, 1));
}

async fn totals_stay_exact_under_a_concurrent_mix(db: Database) {
    create_namespace(&db, "shop").await;
    let repo = Arc::new(DieselUsers::new(db.clone()));
    let mut existing = Vec::new();
    for n in 0..60 {
        let u = nth("shop", n);
        insert_user(&db, &u).await;
        existing.push(u);
    }
    for u in &existing[..20] {
        repo.soft_delete("shop", u.id, now()).await.expect("delete");
    }
    let mut tasks = tokio::task::JoinSet::new();
    // New users, deletes of live ones and restores of deleted ones, all at once; some deletes and
    // restores race each other on the same user.
    for n in 60..120 {
        let repo = Arc::clone(&repo);
        let u = nth("shop", n);
        tasks.spawn(async move { repo.insert(&u).await.map(|_| ()) });
    }
    for u in existing[15..50].iter().cloned() {
        let repo = Arc::clone(&repo);
        tasks.spawn(async move { repo.soft_delete("shop", u.id, now()).await.map(|_| ()) });
    }
    for u in existing[..25].iter().cloned() {
        let repo = Arc::clone(&repo);
        tasks.spawn(async move { repo.restore("shop", u.id, now()).await.map(|_| ()) });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("task").expect("write");
    }
    let real = real_counts(&db, "shop").await;
    assert_eq!(real.1, 120);
    assert_eq!(listed_totals(&repo, "shop").await, real);
}

async fn the_migration_counts_the_users_already_there(db: Database) {
    create_namespace(&db, "shop").await;
    create_namespace(&db, "empty").await;
    let repo = DieselUsers::new(db.clone());
    let mut shop = Vec::new();
    for n in 0..25 {
        let u = nth("shop", n);
        insert_user(&db, &u).await;
        shop.push(u);
    }
    for u in &shop[..7] {
        repo.soft_delete("shop", u.id, now()).await.expect("delete");
    }
    let revert = db.clone();
    tokio::task::spawn_blocking(move || revert.revert_migrations_from(MIGRATION))
        .await
        .expect("task")
        .expect("revert");
    // Written while the counts did not exist.
    insert_user(&db, &nth("shop", 100)).await;
    let migrate = db.clone();
    tokio::task::spawn_blocking(move || migrate.run_migrations())
        .await
        .expect("task")
        .expect("migrate");
    assert_eq!(listed_totals(&repo, "shop").await, (19, 26));
    assert_eq!(listed_totals(&repo, "empty").await, (0, 0));
}
