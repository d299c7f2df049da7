//! The rules of `AdminService` against mocks of the ports.

use std::sync::Arc;

use super::test_support::*;
use super::{AdminService, NewUser, UserUpdate, managed_namespace};
use crate::error::DomainError;
use crate::model::{
    Change, Email, PageRequest, Password, PersonName, Principal, ProfileChanges, Role, SearchQuery,
    User, UserChanges, Username,
};
use crate::ports::{
    MockPasswordHasher, MockRefreshTokenRepository, MockUserRepository, UserFilter,
};

struct Ports {
    users: MockUserRepository,
    refresh_tokens: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            refresh_tokens: MockRefreshTokenRepository::new(),
            hasher: MockPasswordHasher::new(),
        }
    }

    fn service(self) -> AdminService {
        AdminService::new(
            Arc::new(self.users),
            Arc::new(self.refresh_tokens),
            Arc::new(self.hasher),
            Arc::new(fixed_clock()),
            Arc::new(sequential_ids()),
        )
    }
}

fn new_user_input(email: &str) -> NewUser {
    NewUser {
        username: None,
        email: Email::parse(email).expect("valid email"),
        password: None,
        profile: Default::default(),
        roles: None,
        tenant_id: None,
        email_verified: false,
    }
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, DomainError>) {
    assert!(matches!(r, Err(DomainError::Forbidden(_))), "{r:?}");
}

#[test]
fn only_admins_and_service_keys_manage_and_only_their_namespace() {
    assert_eq!(managed_namespace(&service_of(NS)).ok(), Some(NS));
    assert_eq!(
        managed_namespace(&Principal::User(admin_of(OTHER_NS))).ok(),
        Some(OTHER_NS)
    );
    forbidden(managed_namespace(&Principal::User(user())));
    forbidden(managed_namespace(&Principal::Operator));
}

#[tokio::test]
async fn plain_users_and_the_operator_touch_no_port() {
    // No expectations: any repository call would panic.
    let svc = Ports::new().service();
    let plain = Principal::User(user());
    forbidden(svc.create(&plain, new_user_input("a@example.com")).await);
    forbidden(
        svc.list(&plain, &UserFilter::default(), PageRequest::default())
            .await,
    );
    let q = SearchQuery::parse("alice").expect("valid");
    forbidden(svc.search(&plain, &q, PageRequest::default()).await);
    forbidden(
        svc.list(
            &Principal::Operator,
            &UserFilter::default(),
            PageRequest::default(),
        )
        .await,
    );
}

fn not_found<T: std::fmt::Debug>(r: Result<T, DomainError>) {
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
}

#[tokio::test]
async fn a_plain_user_naming_itself_is_forbidden_and_naming_anyone_else_finds_nobody() {
    // No expectations: any repository call would panic, so nothing is read or written.
    let svc = Ports::new().service();
    let plain = Principal::User(user());
    let me = user().id;
    forbidden(svc.get(&plain, me).await);
    forbidden(svc.update(&plain, me, UserUpdate::default()).await);
    forbidden(svc.delete(&plain, me).await);
    forbidden(svc.restore(&plain, me).await);
    // Another user of its own namespace answers exactly as a made-up id: 404, never 403.
    let bob = uuid::Uuid::from_u128(0xb0b);
    not_found(svc.get(&plain, bob).await);
    not_found(svc.update(&plain, bob, UserUpdate::default()).await);
    not_found(svc.delete(&plain, bob).await);
    not_found(svc.restore(&plain, bob).await);
    // The operator has no namespace, so no user is its to name.
    not_found(svc.get(&Principal::Operator, bob).await);
}

#[tokio::test]
async fn create_without_username_or_password_uses_the_email_and_stores_no_hash() {
    let mut p = Ports::new();
    let inserted = Recorder::new();
    let rec = inserted.clone();
    p.users.expect_insert().times(1).returning(move |u| {
        rec.record(u.clone());
        Ok(())
    });
    let user = p
        .service()
        .create(&service_of(NS), new_user_input("New.One@example.com"))
        .await
        .expect("created");
    let stored = inserted.only();
    assert_eq!(stored, user);
    assert_eq!(
        (user.namespace.as_str(), user.username.as_str()),
        (NS, "New.One@example.com")
    );
    assert_eq!(user.email.as_deref(), Some("New.One@example.com"));
    assert_eq!(user.password_hash, None);
    assert_eq!(user.roles, ["user"]);
    assert!(is_generated(user.id));
}

#[tokio::test]
async fn create_hashes_the_password_and_sets_roles_once_each() {
    let mut p = Ports::new();
    p.hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok("hashed".into()));
    p.users.expect_insert().times(1).returning(|_| Ok(()));
    let input = NewUser {
        username: Some(Username::parse("bob").expect("valid")),
        password: Some(Password::parse("long enough").expect("valid")),
        roles: Some(vec![
            Role::parse("admin").expect("valid"),
            Role::parse("editor").expect("valid"),
            Role::parse("admin").expect("valid"),
        ]),
        tenant_id: Some(NS.into()),
        ..new_user_input("bob@example.com")
    };
    let user = p
        .service()
        .create(&Principal::User(admin_of(NS)), input)
        .await
        .expect("created");
    assert_eq!(user.username, "bob");
    assert_eq!(user.password_hash.as_deref(), Some("hashed"));
    assert_eq!(user.roles, ["admin", "editor"]);
}

#[tokio::test]
async fn create_with_another_tenant_id_is_forbidden_before_any_write() {
    let svc = Ports::new().service();
    let input = NewUser {
        tenant_id: Some(OTHER_NS.into()),
        ..new_user_input("a@example.com")
    };
    forbidden(svc.create(&service_of(NS), input).await);
}

#[tokio::test]
async fn duplicates_on_create_are_conflicts() {
    for err in [
        DomainError::UsernameTaken {
            namespace: NS.into(),
            username: "a".into(),
        },
        DomainError::EmailTaken {
            namespace: NS.into(),
        },
    ] {
        let mut p = Ports::new();
        let mut once = Some(err);
        p.users
            .expect_insert()
            .times(1)
            .returning(move |_| Err(once.take().expect("called once")));
        let r = p
            .service()
            .create(&service_of(NS), new_user_input("a@example.com"))
            .await;
        assert!(matches!(r, Err(DomainError::Conflict(_))), "{r:?}");
    }
}

/// The one write an admin update makes names exactly the request's fields, nothing read before it.
#[tokio::test]
async fn an_update_writes_only_the_named_fields_in_one_call_without_reading_first() {
    let mut p = Ports::new();
    let expected = UserChanges::profile(ProfileChanges {
        first_name: Change::Set(PersonName::parse("Ann").expect("valid")),
        phone: Change::Clear,
        ..ProfileChanges::default()
    });
    let stored = User {
        first_name: Some("Ann".into()),
        phone: None,
        ..user()
    };
    let answer = stored.clone();
    // No `get`: nothing is read to be written back.
    p.users
        .expect_update()
        .withf(move |ns, id, c, now| (ns, *id, c, *now) == (NS, user().id, &expected, t0()))
        .times(1)
        .returning(move |_, _, _, _| Ok(Some(answer.clone())));
    let update = UserUpdate {
        profile: ProfileChanges {
            first_name: Change::Set(PersonName::parse("Ann").expect("valid")),
            phone: Change::Clear,
            ..ProfileChanges::default()
        },
        ..Default::default()
    };
    let updated = p
        .service()
        .update(&Principal::User(admin_of(NS)), user().id, update)
        .await
        .expect("updated");
    assert_eq!(updated, stored);
}

#[tokio::test]
async fn deactivation_ends_sessions_in_the_write_itself_and_reactivation_does_not() {
    let mut p = Ports::new();
    p.users
        .expect_update()
        .withf(|_, _, c, _| {
            c.ends_sessions()
                && c.roles == Some(vec!["support".to_string()])
                && c.profile == ProfileChanges::default()
        })
        .times(1)
        .returning(|_, _, _, _| {
            Ok(Some(User {
                is_active: false,
                roles: vec!["support".into()],
                token_version: 4,
                ..user()
            }))
        });
    // The version is raised by that same write; nothing bumps it separately.
    p.users.expect_bump_token_version().never();
    p.refresh_tokens
        .expect_revoke_all_for_user()
        .withf(|id, now| *id == user().id && *now == t0())
        .times(1)
        .returning(|_, _| Ok(()));
    let update = UserUpdate {
        is_active: Some(false),
        roles: Some(vec![
            Role::parse("support").expect("valid"),
            Role::parse("support").expect("valid"),
        ]),
        ..Default::default()
    };
    let updated = p
        .service()
        .update(&service_of(NS), user().id, update)
        .await
        .expect("updated");
    assert_eq!((updated.is_active, updated.token_version), (false, 4));

    let mut p = Ports::new();
    p.users
        .expect_update()
        .withf(|_, _, c, _| *c == UserChanges::default().with_active(true))
        .times(1)
        .returning(|_, _, _, _| Ok(Some(user())));
    p.refresh_tokens.expect_revoke_all_for_user().never();
    let update = UserUpdate {
        is_active: Some(true),
        ..Default::default()
    };
    let updated = p
        .service()
        .update(&service_of(NS), user().id, update)
        .await
        .expect("updated");
    assert!(updated.is_active);
}

#[tokio::test]
async fn updating_a_deleted_or_unknown_user_is_not_found() {
    let mut p = Ports::new();
    p.users
        .expect_update()
        .times(1)
        .returning(|_, _, _, _| Ok(None));
    p.refresh_tokens.expect_revoke_all_for_user().never();
    let update = UserUpdate {
        is_active: Some(false),
        ..Default::default()
    };
    let r = p.service().update(&service_of(NS), user().id, update).await;
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
}

#[tokio::test]
async fn an_email_taken_on_update_is_a_conflict() {
    let mut p = Ports::new();
    p.users.expect_update().times(1).returning(|ns, _, _, _| {
        Err(DomainError::EmailTaken {
            namespace: ns.to_owned(),
        })
    });
    let update = UserUpdate {
        profile: ProfileChanges {
            email: Change::Set(Email::parse("taken@example.com").expect("valid")),
            ..ProfileChanges::default()
        },
        ..Default::default()
    };
    let r = p.service().update(&service_of(NS), user().id, update).await;
    assert!(matches!(r, Err(DomainError::Conflict(_))), "{r:?}");
}

#[tokio::test]
async fn delete_is_scoped_to_the_callers_namespace() {
    let mut p = Ports::new();
    p.users
        .expect_soft_delete()
        .withf(|ns, _, now| ns == OTHER_NS && *now == t0())
        .times(1)
        .returning(|_, _, _| Ok(false));
    let r = p
        .service()
        .delete(&Principal::User(admin_of(OTHER_NS)), user().id)
        .await;
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
}

#[tokio::test]
async fn delete_revokes_refresh_tokens() {
    let mut p = Ports::new();
    p.users
        .expect_soft_delete()
        .withf(|ns, id, _| ns == NS && *id == user().id)
        .times(1)
        .returning(|_, _, _| Ok(true));
    p.refresh_tokens
        .expect_revoke_all_for_user()
        .withf(|id, now| *id == user().id && *now == t0())
        .times(1)
        .returning(|_, _| Ok(()));
    p.service()
        .delete(&service_of(NS), user().id)
        .await
        .expect("deleted");
}

#[tokio::test]
async fn restore_taken_meanwhile_is_a_conflict() {
    let mut p = Ports::new();
    p.users.expect_restore().times(1).returning(|_, _, _| {
        Err(DomainError::EmailTaken {
            namespace: NS.into(),
        })
    });
    let r = p.service().restore(&service_of(NS), user().id).await;
    assert!(matches!(r, Err(DomainError::Conflict(_))), "{r:?}");
}

#[tokio::test]
async fn restore_answers_the_live_user() {
    let mut p = Ports::new();
    p.users
        .expect_restore()
        .times(1)
        .returning(|_, _, _| Ok(true));
    p.users
        .expect_get()
        .times(1)
        .returning(|_, _| Ok(Some(user())));
    let u = p
        .service()
        .restore(&service_of(NS), user().id)
        .await
        .expect("restored");
    assert_eq!(u, user());
}
