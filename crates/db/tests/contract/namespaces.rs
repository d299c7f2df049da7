//! `NamespaceRepository`.

use chrono::Duration;
use user_service_db::{Database, DieselNamespaces};
use user_service_domain::DomainError;
use user_service_domain::model::{Namespace, PageRequest};
use user_service_domain::ports::NamespaceRepository;

use crate::support::{key_hash, namespace, now};

contract!(
    create_then_get_round_trips,
    a_namespace_without_name_or_description_round_trips,
    get_of_an_unknown_slug_is_none,
    a_taken_slug_is_namespace_exists,
    list_orders_by_creation_then_slug_and_counts_all,
    find_by_api_key_hash,
    set_api_key_hash_replaces_the_key,
);

async fn create_then_get_round_trips(db: Database) {
    let repo = DieselNamespaces::new(db);
    let ns = namespace("acme", now());
    repo.create(&ns, &key_hash("acme")).await.expect("create");
    assert_eq!(repo.get("acme").await.expect("get"), Some(ns));
}

async fn a_namespace_without_name_or_description_round_trips(db: Database) {
    let repo = DieselNamespaces::new(db);
    let ns = Namespace {
        slug: "bare".into(),
        name: None,
        description: None,
        created_at: now(),
        settings: Default::default(),
    };
    repo.create(&ns, "h").await.expect("create");
    assert_eq!(repo.get("bare").await.expect("get"), Some(ns));
}

async fn get_of_an_unknown_slug_is_none(db: Database) {
    let repo = DieselNamespaces::new(db);
    repo.create(&namespace("acme", now()), "h")
        .await
        .expect("create");
    assert_eq!(repo.get("acme-2").await.expect("get"), None);
    assert_eq!(repo.get("ACME").await.expect("get"), None);
}

async fn a_taken_slug_is_namespace_exists(db: Database) {
    let repo = DieselNamespaces::new(db);
    let first = namespace("acme", now());
    repo.create(&first, "h1").await.expect("create");
    let second = Namespace {
        name: Some("Another".into()),
        ..namespace("acme", now())
    };
    match repo.create(&second, "h2").await {
        Err(DomainError::NamespaceExists(slug)) => assert_eq!(slug, "acme"),
        other => panic!("expected NamespaceExists, got {other:?}"),
    }
    assert_eq!(repo.get("acme").await.expect("get"), Some(first));
    assert_eq!(repo.find_by_api_key_hash("h2").await.expect("find"), None);
}

async fn list_orders_by_creation_then_slug_and_counts_all(db: Database) {
    let repo = DieselNamespaces::new(db);
    let t0 = now() - Duration::hours(1);
    // Created out of order, and two at the same instant, which the slug orders.
    let specs = [
        ("delta", t0 + Duration::seconds(3)),
        ("bravo", t0 + Duration::microseconds(1)),
        ("alpha", t0 + Duration::seconds(2)),
        ("echo", t0),
        ("charlie", t0 + Duration::microseconds(1)),
    ];
    for (slug, at) in specs {
        repo.create(&namespace(slug, at), &key_hash(slug))
            .await
            .expect("create");
    }
    let slugs = |page: &user_service_domain::model::Paged<Namespace>| {
        page.items
            .iter()
            .map(|n| n.slug.clone())
            .collect::<Vec<_>>()
    };

    let all = repo.list(PageRequest::default()).await.expect("list");
    assert_eq!(slugs(&all), ["echo", "bravo", "charlie", "alpha", "delta"]);
    assert_eq!(all.total, 5);
    assert_eq!(all.request, PageRequest::default());
    assert_eq!(all.items[4], namespace("delta", t0 + Duration::seconds(3)));

    let window = PageRequest {
        offset: 1,
        limit: 2,
    };
    let page = repo.list(window).await.expect("list");
    assert_eq!(slugs(&page), ["bravo", "charlie"]);
    assert_eq!((page.total, page.request), (5, window));

    let beyond = repo
        .list(PageRequest {
            offset: 10,
            limit: 2,
        })
        .await
        .expect("list");
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);
}

async fn find_by_api_key_hash(db: Database) {
    let repo = DieselNamespaces::new(db);
    let acme = namespace("acme", now());
    let other = namespace("other", now());
    repo.create(&acme, &key_hash("acme")).await.expect("create");
    repo.create(&other, &key_hash("other"))
        .await
        .expect("create");
    assert_eq!(
        repo.find_by_api_key_hash(&key_hash("acme"))
            .await
            .expect("find"),
        Some(acme)
    );
    assert_eq!(
        repo.find_by_api_key_hash(&key_hash("other"))
            .await
            .expect("find"),
        Some(other)
    );
    assert_eq!(
        repo.find_by_api_key_hash("no-such-hash")
            .await
            .expect("find"),
        None
    );
}

async fn set_api_key_hash_replaces_the_key(db: Database) {
    let repo = DieselNamespaces::new(db);
    let acme = namespace("acme", now());
    repo.create(&acme, "old-hash").await.expect("create");

    assert!(
        repo.set_api_key_hash("acme", "new-hash")
            .await
            .expect("set")
    );
    assert_eq!(
        repo.find_by_api_key_hash("old-hash").await.expect("find"),
        None
    );
    assert_eq!(
        repo.find_by_api_key_hash("new-hash").await.expect("find"),
        Some(acme.clone())
    );
    assert_eq!(repo.get("acme").await.expect("get"), Some(acme));

    assert!(
        !repo
            .set_api_key_hash("nobody", "other-hash")
            .await
            .expect("set")
    );
    assert_eq!(
        repo.find_by_api_key_hash("other-hash").await.expect("find"),
        None
    );
}
