//! The rules of `NamespaceService` and of `Principal`, against a mocked repository.

use std::sync::Arc;

use super::test_support::*;
use super::{NamespaceService, NewNamespace};
use crate::error::DomainError;
use crate::model::{Namespace, NamespaceSlug, PageRequest, Paged, Principal};
use crate::ports::MockNamespaceRepository;
use crate::tokens::hash_secret;

fn service(repo: MockNamespaceRepository, creation_open: bool) -> NamespaceService {
    NamespaceService::new(
        Arc::new(repo),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
        creation_open,
    )
}

fn new_namespace() -> NewNamespace {
    NewNamespace {
        slug: NamespaceSlug::parse("my-new-site").expect("valid slug"),
        name: Some("My New Site".into()),
        description: Some("Auth tenant".into()),
    }
}

fn created() -> Namespace {
    Namespace {
        slug: "my-new-site".into(),
        name: Some("My New Site".into()),
        description: Some("Auth tenant".into()),
        created_at: t0(),
        settings: Default::default(),
    }
}

/// `create` is called once with `created()`; the key hash it got is recorded.
fn expect_create_once(repo: &mut MockNamespaceRepository) -> Recorder<String> {
    let hashes = Recorder::new();
    let rec = hashes.clone();
    repo.expect_create()
        .withf(|ns, _| *ns == created())
        .times(1)
        .returning(move |_, hash| {
            rec.record(hash.to_owned());
            Ok(())
        });
    hashes
}

/// The key is a fresh `usk_` secret, and the repository got its hash, never the key itself.
fn assert_key_stored_as_hash(key: &str, stored_hash: &str) {
    assert_eq!(key, format!("usk_{}", generated_secret(1)));
    assert!(key.starts_with("usk_"));
    assert_eq!(stored_hash, hash_secret(key));
    assert!(!stored_hash.contains(key) && !stored_hash.contains(&generated_secret(1)));
}

fn plain_user_of(ns: &str) -> Principal {
    Principal::User(crate::model::User {
        namespace: ns.into(),
        ..user()
    })
}

/// Checks the error a caller gets.
type ErrorCheck = fn(&DomainError) -> bool;

/// Callers other than the operator, and what they get on an operator-only operation: no credentials
/// is an authentication problem, anyone else is forbidden.
fn non_operators() -> [(Option<Principal>, ErrorCheck); 3] {
    [
        (None, |e| matches!(e, DomainError::ApiKeyInvalid)),
        (Some(service_of(NS)), |e| {
            matches!(e, DomainError::Forbidden(_))
        }),
        (Some(Principal::User(admin_of(NS))), |e| {
            matches!(e, DomainError::Forbidden(_))
        }),
    ]
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_with_creation_open_needs_no_caller_and_stores_only_the_key_hash() {
    let mut repo = MockNamespaceRepository::new();
    let hashes = expect_create_once(&mut repo);
    let (ns, key) = service(repo, true)
        .create(None, new_namespace())
        .await
        .expect("created");
    assert_eq!(ns, created());
    assert_key_stored_as_hash(&key, &hashes.only());
}

#[tokio::test]
async fn create_with_creation_closed_and_no_caller_is_api_key_invalid() {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_create().never();
    let result = service(repo, false).create(None, new_namespace()).await;
    assert!(
        matches!(result, Err(DomainError::ApiKeyInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn create_with_creation_closed_by_a_service_key_or_an_admin_is_forbidden() {
    for caller in [service_of(NS), Principal::User(admin_of(NS))] {
        let mut repo = MockNamespaceRepository::new();
        repo.expect_create().never();
        let result = service(repo, false)
            .create(Some(&caller), new_namespace())
            .await;
        assert!(
            matches!(result, Err(DomainError::Forbidden(_))),
            "{caller:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn create_with_creation_closed_by_the_operator_is_ok() {
    let mut repo = MockNamespaceRepository::new();
    let hashes = expect_create_once(&mut repo);
    let (ns, key) = service(repo, false)
        .create(Some(&Principal::Operator), new_namespace())
        .await
        .expect("created");
    assert_eq!(ns, created());
    assert_key_stored_as_hash(&key, &hashes.only());
}

#[tokio::test]
async fn create_passes_namespace_exists_through() {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_create()
        .times(1)
        .returning(|ns, _| Err(DomainError::NamespaceExists(ns.slug.clone())));
    let result = service(repo, true)
        .create(Some(&Principal::Operator), new_namespace())
        .await;
    assert!(
        matches!(&result, Err(DomainError::NamespaceExists(s)) if s == "my-new-site"),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// list

#[tokio::test]
async fn list_by_the_operator_returns_the_repositorys_page() {
    let page = PageRequest {
        offset: 20,
        limit: 10,
    };
    let mut repo = MockNamespaceRepository::new();
    repo.expect_list()
        .withf(move |p| *p == page)
        .times(1)
        .returning(|request| {
            Ok(Paged {
                items: vec![namespace(NS), namespace(OTHER_NS)],
                total: 22,
                request,
            })
        });
    let listed = service(repo, true)
        .list(Some(&Principal::Operator), page)
        .await
        .expect("listed");
    assert_eq!(
        listed,
        Paged {
            items: vec![namespace(NS), namespace(OTHER_NS)],
            total: 22,
            request: page,
        }
    );
}

#[tokio::test]
async fn list_is_operator_only_even_with_creation_open() {
    for (caller, expected) in non_operators() {
        let mut repo = MockNamespaceRepository::new();
        repo.expect_list().never();
        let result = service(repo, true)
            .list(caller.as_ref(), PageRequest::default())
            .await;
        assert!(
            result.as_ref().is_err_and(expected),
            "{caller:?}: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// get

/// `get(NS)` is asked once and finds it.
fn repo_finding_ns() -> MockNamespaceRepository {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_get()
        .withf(|slug| slug == NS)
        .times(1)
        .returning(|slug| Ok(Some(namespace(slug))));
    repo
}

#[tokio::test]
async fn get_by_the_operator_its_service_key_or_its_admin_shows_it() {
    for caller in [
        Principal::Operator,
        service_of(NS),
        Principal::User(admin_of(NS)),
    ] {
        let shown = service(repo_finding_ns(), true)
            .get(Some(&caller), NS)
            .await
            .unwrap_or_else(|e| panic!("{caller:?}: {e:?}"));
        assert_eq!(shown, namespace(NS));
    }
}

#[tokio::test]
async fn get_by_a_plain_user_of_the_namespace_is_forbidden() {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_get().never();
    let result = service(repo, true).get(Some(&plain_user_of(NS)), NS).await;
    assert!(
        matches!(result, Err(DomainError::Forbidden(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn get_by_a_principal_of_another_namespace_is_not_found_never_forbidden() {
    for caller in [
        service_of(OTHER_NS),
        Principal::User(admin_of(OTHER_NS)),
        plain_user_of(OTHER_NS),
    ] {
        let mut repo = MockNamespaceRepository::new();
        repo.expect_get().never();
        let result = service(repo, true).get(Some(&caller), NS).await;
        assert!(
            matches!(&result, Err(DomainError::NamespaceNotFound(s)) if s == NS),
            "{caller:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn get_of_a_missing_namespace_is_not_found() {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_get()
        .withf(|slug| slug == "nowhere")
        .times(1)
        .returning(|_| Ok(None));
    let result = service(repo, true)
        .get(Some(&Principal::Operator), "nowhere")
        .await;
    assert!(
        matches!(&result, Err(DomainError::NamespaceNotFound(s)) if s == "nowhere"),
        "{result:?}"
    );
}

#[tokio::test]
async fn get_without_a_caller_is_api_key_invalid() {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_get().never();
    let result = service(repo, true).get(None, NS).await;
    assert!(
        matches!(result, Err(DomainError::ApiKeyInvalid)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// rotate_key

#[tokio::test]
async fn rotate_key_by_the_operator_stores_the_new_key_as_a_hash() {
    let mut repo = MockNamespaceRepository::new();
    let hashes = Recorder::new();
    let rec = hashes.clone();
    repo.expect_set_api_key_hash()
        .withf(|slug, _| slug == NS)
        .times(1)
        .returning(move |_, hash| {
            rec.record(hash.to_owned());
            Ok(true)
        });
    let key = service(repo, false)
        .rotate_key(Some(&Principal::Operator), NS)
        .await
        .expect("rotated");
    assert_key_stored_as_hash(&key, &hashes.only());
}

#[tokio::test]
async fn rotate_key_of_an_unknown_namespace_is_not_found() {
    let mut repo = MockNamespaceRepository::new();
    repo.expect_set_api_key_hash()
        .withf(|slug, _| slug == "nowhere")
        .times(1)
        .returning(|_, _| Ok(false));
    let result = service(repo, false)
        .rotate_key(Some(&Principal::Operator), "nowhere")
        .await;
    assert!(
        matches!(&result, Err(DomainError::NamespaceNotFound(s)) if s == "nowhere"),
        "{result:?}"
    );
}

#[tokio::test]
async fn rotate_key_is_operator_only_even_for_the_namespaces_own_key() {
    for (caller, expected) in non_operators() {
        let mut repo = MockNamespaceRepository::new();
        repo.expect_set_api_key_hash().never();
        let result = service(repo, true).rotate_key(caller.as_ref(), NS).await;
        assert!(
            result.as_ref().is_err_and(expected),
            "{caller:?}: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Principal

#[test]
fn principal_manages_only_its_own_namespace_as_service_key_or_admin() {
    assert!(!Principal::Operator.manages(NS));
    assert!(service_of(NS).manages(NS));
    assert!(!service_of(NS).manages(OTHER_NS));
    assert!(Principal::User(admin_of(NS)).manages(NS));
    assert!(!Principal::User(admin_of(NS)).manages(OTHER_NS));
    assert!(!plain_user_of(NS).manages(NS));
}

#[test]
fn principal_namespace() {
    assert_eq!(Principal::Operator.namespace(), None);
    assert_eq!(service_of(NS).namespace(), Some(NS));
    assert_eq!(plain_user_of(OTHER_NS).namespace(), Some(OTHER_NS));
}
