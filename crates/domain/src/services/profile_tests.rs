//! The rules of `ProfileService` and of profile validation, against mocks of the ports.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::ProfileService;
use super::test_support::*;
use crate::error::{DomainError, FieldError};
use crate::model::{
    Change, Checks, Email, ExtraChange, FullName, PersonName, Phone, ProfileChanges, ProfileInput,
    Role, User, UserChanges,
};
use crate::ports::{MockPasswordHasher, MockRefreshTokenRepository, MockUserRepository};

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

    fn service(self) -> ProfileService {
        ProfileService::new(
            Arc::new(self.users),
            Arc::new(self.refresh_tokens),
            Arc::new(self.hasher),
            Arc::new(fixed_clock()),
        )
    }
}

fn extra(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn merge(pairs: &[(&str, Option<&str>)]) -> ExtraChange {
    ExtraChange::Merge(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect(),
    )
}

/// `update` is called once, for the caller's account at `t0()`, with exactly `expected`, and answers
/// `stored`.
fn expect_update_once(p: &mut Ports, expected: UserChanges, stored: Option<User>) {
    p.users
        .expect_update()
        .withf(move |ns, id, changes, now| {
            (ns, *id, changes, *now) == (NS, user().id, &expected, t0())
        })
        .times(1)
        .returning(move |_, _, _, _| Ok(stored.clone()));
}

// ---------------------------------------------------------------------------------------------
// update

#[tokio::test]
async fn update_sends_only_the_named_profile_fields_and_answers_the_row_as_stored() {
    let changes = ProfileChanges {
        first_name: Change::Set(PersonName::parse("Zoë").expect("valid name")),
        phone: Change::Clear,
        ..ProfileChanges::default()
    };
    // What the database holds after the write: an admin deactivated and demoted the account while
    // this request was in flight. The answer shows that, and nothing the caller read earlier.
    let stored = User {
        first_name: Some("Zoë".into()),
        phone: None,
        is_active: false,
        roles: vec!["user".into()],
        token_version: 4,
        updated_at: t0(),
        ..user()
    };
    let mut p = Ports::new();
    let sent = UserChanges::profile(changes.clone());
    // Never roles, activity, avatar or versions: a profile write names profile fields only.
    assert_eq!((sent.roles.clone(), sent.is_active), (None, None));
    assert!(!sent.ends_sessions());
    expect_update_once(&mut p, sent, Some(stored.clone()));
    let caller = User {
        roles: vec!["user".into(), "admin".into()],
        ..user()
    };
    let updated = p.service().update(&caller, changes).await.expect("updated");
    assert_eq!(updated, stored);
}

#[tokio::test]
async fn update_passes_email_taken_through() {
    let mut p = Ports::new();
    p.users
        .expect_update()
        .withf(|_, _, c, _| {
            matches!(&c.profile.email, Change::Set(e) if e.as_str() == "taken@example.com")
        })
        .times(1)
        .returning(|ns, _, _, _| {
            Err(DomainError::EmailTaken {
                namespace: ns.to_owned(),
            })
        });
    let changes = ProfileChanges {
        email: Change::Set(Email::parse("taken@example.com").expect("valid email")),
        ..ProfileChanges::default()
    };
    let result = p.service().update(&user(), changes).await;
    assert!(
        matches!(&result, Err(DomainError::EmailTaken { namespace }) if namespace == NS),
        "{result:?}"
    );
}

#[tokio::test]
async fn update_of_a_user_that_no_longer_exists_is_user_not_found() {
    let mut p = Ports::new();
    expect_update_once(&mut p, UserChanges::default(), None);
    let result = p.service().update(&user(), ProfileChanges::default()).await;
    assert!(
        matches!(result, Err(DomainError::UserNotFound)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// UserChanges::apply: what a repository does to the row it holds locked

#[test]
fn apply_sets_clears_keeps_and_merges_extra() {
    let changes = UserChanges::profile(ProfileChanges {
        email: Change::Set(Email::parse("new@example.com").expect("valid email")),
        full_name: Change::Clear,
        first_name: Change::Set(PersonName::parse("Zoë").expect("valid name")),
        last_name: Change::Keep,
        phone: Change::Clear,
        extra: merge(&[
            ("theme", None),
            ("plan", Some("pro")),
            ("lang", Some("fr")),
            ("never-there", None),
        ]),
    });
    let mut row = user();
    changes.apply(&mut row).expect("applies");
    assert_eq!(
        row,
        User {
            email: Some("new@example.com".into()),
            // A new address is unverified.
            email_verified: false,
            full_name: None,
            first_name: Some("Zoë".into()),
            last_name: Some("Liddell".into()),
            phone: None,
            extra: extra(&[("plan", "pro"), ("lang", "fr")]),
            ..user()
        }
    );
    let mut row = user();
    UserChanges::profile(ProfileChanges {
        extra: ExtraChange::Clear,
        ..ProfileChanges::default()
    })
    .apply(&mut row)
    .expect("applies");
    assert_eq!(
        row,
        User {
            extra: BTreeMap::new(),
            ..user()
        }
    );
}

#[test]
fn apply_sets_roles_once_each_and_only_a_deactivation_ends_sessions() {
    let admin = Role::parse("admin").expect("valid");
    let changes = UserChanges::default()
        .with_roles(vec![
            admin.clone(),
            Role::parse("editor").expect("valid"),
            admin,
        ])
        .with_active(false);
    assert!(changes.ends_sessions());
    let mut row = user();
    changes.apply(&mut row).expect("applies");
    assert_eq!(
        (row.roles, row.is_active),
        (vec!["admin".to_string(), "editor".into()], false)
    );
    assert!(!UserChanges::default().with_active(true).ends_sessions());
    assert!(!UserChanges::default().ends_sessions());
}

#[test]
fn apply_whose_merged_extra_exceeds_50_keys_is_a_validation_error_and_changes_nothing() {
    // 45 stored keys and 6 new ones: each request is small, the merge is not.
    let stored = User {
        extra: (0..45)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect(),
        ..user()
    };
    let changes = UserChanges::profile(ProfileChanges {
        email: Change::Set(Email::parse("new@example.com").expect("valid email")),
        extra: ExtraChange::Merge(
            (100..106)
                .map(|i| (format!("k{i}"), Some("v".to_string())))
                .collect(),
        ),
        ..ProfileChanges::default()
    });
    let mut row = stored.clone();
    match changes.apply(&mut row) {
        Err(DomainError::Validation(details)) => {
            assert_eq!(details, [FieldError::new("extra", "at most 50 keys")]);
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(row, stored);
}

#[test]
fn apply_whose_merge_removes_as_many_keys_as_it_adds_stays_within_50() {
    let stored = User {
        extra: (0..50)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect(),
        ..user()
    };
    let changes = UserChanges::profile(ProfileChanges {
        extra: merge(&[("k0", None), ("new", Some("v"))]),
        ..ProfileChanges::default()
    });
    let mut row = stored.clone();
    changes.apply(&mut row).expect("applies");
    let mut expected = stored.extra.clone();
    expected.remove("k0");
    expected.insert("new".into(), "v".into());
    assert_eq!(row.extra, expected);
    assert_eq!(row.extra.len(), 50);
}

// ---------------------------------------------------------------------------------------------
// delete

#[tokio::test]
async fn delete_with_a_wrong_password_is_wrong_password_and_writes_nothing() {
    let mut p = Ports::new();
    p.hasher
        .expect_verify()
        .withf(|pw, hash| pw == "not-the-password" && *hash == Some(STORED_HASH))
        .times(1)
        .returning(|_, _| Ok(false));
    p.users.expect_soft_delete().never();
    p.users.expect_update().never();
    p.refresh_tokens.expect_revoke_all_for_user().never();
    p.refresh_tokens.expect_revoke_family().never();
    let result = p.service().delete(&user(), "not-the-password", IP).await;
    assert!(
        matches!(result, Err(DomainError::WrongPassword)),
        "{result:?}"
    );
}

#[tokio::test]
async fn delete_with_the_right_password_soft_deletes_and_revokes_every_refresh_token() {
    let mut p = Ports::new();
    let id = user().id;
    p.hasher
        .expect_verify()
        .withf(|pw, hash| pw == "the-password" && *hash == Some(STORED_HASH))
        .times(1)
        .returning(|_, _| Ok(true));
    p.users
        .expect_soft_delete()
        .withf(move |ns, uid, now| (ns, *uid, *now) == (NS, id, t0()))
        .times(1)
        .returning(|_, _, _| Ok(true));
    p.refresh_tokens
        .expect_revoke_all_for_user()
        .withf(move |uid, now| (*uid, *now) == (id, t0()))
        .times(1)
        .returning(|_, _| Ok(()));
    p.service()
        .delete(&user(), "the-password", IP)
        .await
        .expect("deleted");
}

// ---------------------------------------------------------------------------------------------
// ProfileInput::validate

fn all_set(value: &str) -> ProfileInput {
    ProfileInput {
        email: Change::Set(value.into()),
        full_name: Change::Set(value.into()),
        first_name: Change::Set(value.into()),
        last_name: Change::Set(value.into()),
        phone: Change::Set(value.into()),
        extra: Change::Keep,
    }
}

#[test]
fn validate_keeps_empty_strings_when_empty_is_keep() {
    let mut checks = Checks::new();
    let changes = all_set("").validate(&mut checks, true);
    assert_eq!(changes, ProfileChanges::default());
    assert!(checks.finish().is_ok());
}

#[test]
fn validate_reports_every_empty_string_when_empty_is_not_keep() {
    let mut checks = Checks::new();
    let changes = all_set("").validate(&mut checks, false);
    assert_eq!(changes, ProfileChanges::default());
    assert_eq!(
        validation_fields(checks.finish()),
        ["email", "full_name", "first_name", "last_name", "phone"]
    );
}

#[test]
fn validate_names_each_invalid_field_whatever_empty_is_keep() {
    for empty_is_keep in [true, false] {
        let input = ProfileInput {
            email: Change::Set("not-an-email".into()),
            full_name: Change::Clear,
            first_name: Change::Set("R2D2".into()),
            last_name: Change::Set("Liddell".into()),
            phone: Change::Set("+0123".into()),
            extra: Change::Keep,
        };
        let mut checks = Checks::new();
        let changes = input.validate(&mut checks, empty_is_keep);
        assert_eq!(
            changes,
            ProfileChanges {
                full_name: Change::Clear,
                last_name: Change::Set(PersonName::parse("Liddell").expect("valid name")),
                ..ProfileChanges::default()
            }
        );
        assert_eq!(
            validation_fields(checks.finish()),
            ["email", "first_name", "phone"],
            "empty_is_keep = {empty_is_keep}"
        );
    }
}

#[test]
fn validate_turns_valid_values_into_changes() {
    let input = ProfileInput {
        email: Change::Set("a@b.co".into()),
        full_name: Change::Set("Alice P. Liddell".into()),
        first_name: Change::Keep,
        last_name: Change::Clear,
        phone: Change::Set("+14155550123".into()),
        extra: Change::Set(BTreeMap::from([
            ("plan".to_string(), Some("pro".to_string())),
            ("theme".to_string(), None),
        ])),
    };
    let mut checks = Checks::new();
    let changes = input.validate(&mut checks, false);
    assert!(checks.finish().is_ok());
    assert_eq!(
        changes,
        ProfileChanges {
            email: Change::Set(Email::parse("a@b.co").expect("valid email")),
            full_name: Change::Set(FullName::parse("Alice P. Liddell").expect("valid name")),
            first_name: Change::Keep,
            last_name: Change::Clear,
            phone: Change::Set(Phone::parse("+14155550123").expect("valid phone")),
            extra: merge(&[("plan", Some("pro")), ("theme", None)]),
        }
    );
}

#[test]
fn validate_maps_extra_null_to_clear() {
    let input = ProfileInput {
        extra: Change::Clear,
        ..ProfileInput::default()
    };
    let mut checks = Checks::new();
    assert_eq!(input.validate(&mut checks, false).extra, ExtraChange::Clear);
    assert!(checks.finish().is_ok());
}

#[test]
fn validate_checks_the_extra_of_the_request() {
    let too_many: BTreeMap<_, _> = (0..51)
        .map(|i| (format!("k{i}"), Some("v".to_string())))
        .collect();
    let long_value = BTreeMap::from([("k".to_string(), Some("v".repeat(1025)))]);
    // A key to remove must be a possible key too.
    let long_key_removed = BTreeMap::from([("k".repeat(65), None)]);
    let empty_key_removed = BTreeMap::from([(String::new(), None)]);
    for bad in [too_many, long_value, long_key_removed, empty_key_removed] {
        let input = ProfileInput {
            phone: Change::Set("+14155550123".into()),
            extra: Change::Set(bad.clone()),
            ..ProfileInput::default()
        };
        let mut checks = Checks::new();
        input.validate(&mut checks, false);
        assert_eq!(validation_fields(checks.finish()), ["extra"], "{bad:?}");
    }

    // 50 keys to set and any number to remove are fine.
    let mut fifty: BTreeMap<_, _> = (0..50)
        .map(|i| (format!("k{i}"), Some("v".to_string())))
        .collect();
    fifty.extend((100..110).map(|i| (format!("k{i}"), None)));
    let mut checks = Checks::new();
    ProfileInput {
        extra: Change::Set(fifty),
        ..ProfileInput::default()
    }
    .validate(&mut checks, false);
    assert!(checks.finish().is_ok());
}

#[test]
fn validate_names_extra_for_a_bad_key_with_a_value() {
    let input = ProfileInput {
        extra: Change::Set(BTreeMap::from([("k".repeat(65), Some("v".to_string()))])),
        ..ProfileInput::default()
    };
    let mut checks = Checks::new();
    input.validate(&mut checks, false);
    let fields = validation_fields(checks.finish());
    assert!(
        !fields.is_empty() && fields.iter().all(|f| f == "extra"),
        "{fields:?}"
    );
}

/// Finding 9.3: the password that confirms a deletion is checked under the login throttle: once the
/// account's pair is locked, even the right password is refused without hashing.
#[tokio::test]
async fn delete_checks_the_password_under_the_login_throttle() {
    let (throttle, _, _) = throttle();
    let mut p = Ports::new();
    p.hasher
        .expect_verify()
        .times(5)
        .returning(|_, _| Ok(false));
    p.users.expect_soft_delete().never();
    p.refresh_tokens.expect_revoke_all_for_user().never();
    let svc = p.service().with_throttle(throttle);
    for _ in 0..5 {
        let r = svc.delete(&user(), "not-the-password", IP).await;
        assert!(matches!(r, Err(DomainError::WrongPassword)), "{r:?}");
    }
    rate_limited(svc.delete(&user(), "the-password", IP).await);
}
