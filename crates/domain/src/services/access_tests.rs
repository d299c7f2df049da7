//! The one access rule: owner, admin or service key of the namespace; everyone else sees 404.

use std::sync::Arc;

use uuid::Uuid;

use super::access::{Account, AccountAccess, Need, Standing, standing};
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{Principal, User};
use crate::ports::MockUserRepository;

fn users_with(found: Option<User>) -> AccountAccess {
    let mut users = MockUserRepository::new();
    users.expect_get().returning(move |_, _| Ok(found.clone()));
    AccountAccess::new(Arc::new(users))
}

fn bob() -> User {
    User {
        id: Uuid::from_u128(0xb0b),
        username: "bob".into(),
        ..user()
    }
}

/// A repository that knows no user of `OTHER_NS`: where another namespace's manager looks.
fn nobody_in_other_ns() -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_get()
        .withf(|ns, _| ns == OTHER_NS)
        .returning(|_, _| Ok(None));
    users
}

#[test]
fn the_table_of_who_stands_how() {
    let alice = user();
    assert_eq!(
        standing(&Principal::User(alice.clone()), NS, alice.id),
        Some(Standing::Owner)
    );
    assert_eq!(standing(&Principal::User(bob()), NS, alice.id), None);
    assert_eq!(
        standing(&Principal::User(admin_of(NS)), NS, alice.id),
        Some(Standing::Manager)
    );
    // An admin acting on its own account still manages it (and so may recharge it).
    let admin = admin_of(NS);
    assert_eq!(
        standing(&Principal::User(admin.clone()), NS, admin.id),
        Some(Standing::Manager)
    );
    assert_eq!(
        standing(&service_of(NS), NS, alice.id),
        Some(Standing::Manager)
    );
    assert_eq!(standing(&service_of(OTHER_NS), NS, alice.id), None);
    assert_eq!(
        standing(&Principal::User(admin_of(OTHER_NS)), NS, alice.id),
        None
    );
    assert_eq!(standing(&Principal::Operator, NS, alice.id), None);
    // Same id, other namespace: not the owner.
    let twin = User {
        namespace: OTHER_NS.into(),
        ..user()
    };
    assert_eq!(standing(&Principal::User(twin), NS, alice.id), None);
}

#[tokio::test]
async fn the_owner_is_not_looked_up_and_may_not_manage() {
    // No expectation on the repository: calling it would fail the test.
    let access = AccountAccess::new(Arc::new(MockUserRepository::new()));
    let alice = user();
    let me = Principal::User(alice.clone());
    let account = access
        .account(&me, alice.id, Need::Use)
        .await
        .expect("owner");
    assert_eq!(
        account,
        Account {
            user_id: alice.id,
            namespace: NS.into(),
            standing: Standing::Owner
        }
    );
    let managed = access.account(&me, alice.id, Need::Manage).await;
    assert!(
        matches!(managed, Err(DomainError::Forbidden(_))),
        "{managed:?}"
    );
}

#[tokio::test]
async fn a_manager_needs_a_live_user_of_its_namespace() {
    let alice = user();
    let account = users_with(Some(alice.clone()))
        .account(&service_of(NS), alice.id, Need::Manage)
        .await
        .expect("service");
    assert_eq!(account.standing, Standing::Manager);
    for found in [
        None,
        Some(User {
            deleted_at: Some(t0()),
            ..user()
        }),
    ] {
        let r = users_with(found)
            .account(&service_of(NS), alice.id, Need::Use)
            .await;
        assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
    }
}

#[tokio::test]
async fn outsiders_get_user_not_found_even_for_manage() {
    // Another namespace's key manages only its own namespace, where this user is not.
    let access = AccountAccess::new(Arc::new(nobody_in_other_ns()));
    let alice = user();
    for caller in [
        Principal::User(bob()),
        service_of(OTHER_NS),
        Principal::Operator,
    ] {
        for need in [Need::Use, Need::Manage] {
            let r = access.account(&caller, alice.id, need).await;
            assert!(
                matches!(r, Err(DomainError::UserNotFound)),
                "{caller:?} {r:?}"
            );
        }
    }
}
