//! The rules of `AuthService`, against mocks of every port.

use std::collections::BTreeMap;
use std::sync::Arc;

use mockall::Sequence;
use uuid::Uuid;

use super::test_support::*;
use super::{AuthPolicy, AuthService, Registration};
use crate::error::DomainError;
use crate::model::{
    AccessClaims, Change, Credentials, Email, ExtraChange, NamespaceSlug, Password, PersonName,
    Phone, Principal, ProfileChanges, RefreshToken, Rotation, TokenPair, User, Username,
};
use crate::ports::{
    LoginName, MockNamespaceRepository, MockPasswordHasher, MockRefreshTokenRepository,
    MockUserRepository,
};
use crate::tokens::hash_secret;

const OPERATOR_KEY: &str = "the-operator-key";
const PASSWORD: &str = "correct horse battery";
const NEW_HASH: &str = "$2b$12$a.fresh.hash";
/// The refresh token a client presents.
const PRESENTED: &str = "presented-refresh-secret";

/// The ports of an `AuthService`; clock and ids are always the deterministic ones.
struct Ports {
    namespaces: MockNamespaceRepository,
    users: MockUserRepository,
    refresh_tokens: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
}

impl Ports {
    fn new() -> Self {
        Self {
            namespaces: MockNamespaceRepository::new(),
            users: MockUserRepository::new(),
            refresh_tokens: MockRefreshTokenRepository::new(),
            hasher: MockPasswordHasher::new(),
        }
    }

    fn service(self) -> AuthService {
        self.service_with(policy(Some(OPERATOR_KEY)))
    }

    fn service_with(self, policy: AuthPolicy) -> AuthService {
        AuthService::new(
            Arc::new(self.namespaces),
            Arc::new(self.users),
            Arc::new(self.refresh_tokens),
            Arc::new(self.hasher),
            Arc::new(fixed_clock()),
            Arc::new(sequential_ids()),
            access_tokens(),
            policy,
        )
    }

    /// Nothing may be hashed, no password written, no refresh token stored, rotated or revoked.
    fn forbid_writes(&mut self) {
        self.hasher.expect_hash().never();
        self.users.expect_insert().never();
        self.users.expect_set_password_hash().never();
        self.users.expect_bump_token_version().never();
        self.refresh_tokens.expect_insert().never();
        self.refresh_tokens.expect_rotate().never();
        self.refresh_tokens.expect_revoke_family().never();
        self.refresh_tokens.expect_revoke_all_for_user().never();
    }

    /// `refresh_tokens.insert` is called once; the token is recorded.
    fn expect_one_refresh_insert(&mut self) -> Recorder<RefreshToken> {
        let inserted = Recorder::new();
        let rec = inserted.clone();
        self.refresh_tokens
            .expect_insert()
            .times(1)
            .returning(move |t| {
                rec.record(t.clone());
                Ok(())
            });
        inserted
    }
}

fn policy(operator_key: Option<&str>) -> AuthPolicy {
    AuthPolicy {
        refresh_ttl_secs: REFRESH_TTL,
        refresh_reuse_leeway_secs: REUSE_LEEWAY,
        operator_key: operator_key.map(str::to_owned),
    }
}

fn claims_of(pair: &TokenPair) -> AccessClaims {
    access_tokens()
        .verify(&pair.access_token, t0())
        .expect("the access token verifies")
}

/// A refresh token as stored for `presented`, issued at `t0 - 1 day` to the fixture user.
fn stored_token(presented: &str, family: Uuid) -> RefreshToken {
    RefreshToken {
        token_hash: hash_secret(presented),
        family_id: family,
        user_id: user().id,
        namespace: NS.into(),
        issued_at: t0() - secs(86_400),
        expires_at: t0() - secs(86_400) + secs(REFRESH_TTL as i64),
        spent_at: None,
        revoked_at: None,
        token_version: user().token_version,
    }
}

fn family() -> Uuid {
    Uuid::from_u128(0xfa_0001)
}

/// Asserts that `pair` is a pair of `family` for the fixture user, whose refresh token is `stored`,
/// issued now, unspent and unrevoked.
fn assert_pair_of_family(pair: &TokenPair, stored: &RefreshToken, family: Uuid, version: i64) {
    let u = user();
    assert_eq!(
        stored,
        &RefreshToken {
            token_hash: hash_secret(&pair.refresh_token),
            family_id: family,
            user_id: u.id,
            namespace: NS.into(),
            issued_at: t0(),
            expires_at: t0() + secs(REFRESH_TTL as i64),
            spent_at: None,
            revoked_at: None,
            token_version: version,
        }
    );
    assert_ne!(pair.refresh_token, PRESENTED);
    assert_eq!(
        (pair.expires_in, pair.refresh_expires_in),
        (ACCESS_TTL, REFRESH_TTL)
    );
    let claims = claims_of(pair);
    assert_eq!(
        (claims.sub, claims.namespace.as_str(), claims.ver),
        (u.id, NS, version)
    );
}

// ---------------------------------------------------------------------------------------------
// register

fn registration(profile: ProfileChanges) -> Registration {
    Registration {
        namespace: NamespaceSlug::parse(NS).expect("valid slug"),
        username: Username::parse("Alice").expect("valid username"),
        password: Password::parse(PASSWORD).expect("valid password"),
        profile,
    }
}

fn some_profile() -> ProfileChanges {
    ProfileChanges {
        email: Change::Set(Email::parse("Alice@Example.com").expect("valid email")),
        first_name: Change::Set(PersonName::parse("Zoë").expect("valid name")),
        phone: Change::Set(Phone::parse("+14155550123").expect("valid phone")),
        extra: ExtraChange::Merge(BTreeMap::from([
            ("plan".to_string(), Some("pro".to_string())),
            ("never-there".to_string(), None),
        ])),
        ..ProfileChanges::default()
    }
}

#[tokio::test]
async fn register_in_an_unknown_namespace_is_not_found_and_hashes_nothing() {
    let mut p = Ports::new();
    p.namespaces
        .expect_get()
        .withf(|slug| slug == NS)
        .times(1)
        .returning(|_| Ok(None));
    p.forbid_writes();
    let result = p.service().register(registration(some_profile())).await;
    assert!(
        matches!(&result, Err(DomainError::NamespaceNotFound(ns)) if ns == NS),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_stores_a_user_with_default_roles_the_new_hash_and_the_profile() {
    let mut p = Ports::new();
    let mut seq = Sequence::new();
    p.namespaces
        .expect_get()
        .withf(|slug| slug == NS)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|slug| Ok(Some(namespace(slug))));
    p.hasher
        .expect_hash()
        .withf(|pw| pw.as_str() == PASSWORD)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(NEW_HASH.into()));
    let users = Recorder::new();
    let rec = users.clone();
    p.users
        .expect_insert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |u| {
            rec.record(u.clone());
            Ok(())
        });
    // The refresh token references the user, so it is stored after it.
    let tokens = Recorder::new();
    let rec = tokens.clone();
    p.refresh_tokens
        .expect_insert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |t| {
            rec.record(t.clone());
            Ok(())
        });

    let (user, pair) = p
        .service()
        .register(registration(some_profile()))
        .await
        .expect("registered");

    let stored = users.only();
    assert_eq!(user, stored);
    assert!(is_generated(stored.id));
    assert_eq!(
        stored,
        User {
            id: stored.id,
            namespace: NS.into(),
            username: "Alice".into(),
            email: Some("Alice@Example.com".into()),
            email_verified: false,
            password_hash: Some(NEW_HASH.into()),
            full_name: None,
            first_name: Some("Zoë".into()),
            last_name: None,
            phone: Some("+14155550123".into()),
            avatar_url: None,
            avatar_key: None,
            extra: BTreeMap::from([("plan".to_string(), "pro".to_string())]),
            roles: vec!["user".into()],
            is_active: true,
            token_version: 0,
            created_at: t0(),
            updated_at: t0(),
            deleted_at: None,
        }
    );

    let token = tokens.only();
    assert!(is_generated(token.family_id), "a new family");
    assert_ne!(token.family_id, stored.id);
    assert_eq!(
        token,
        RefreshToken {
            token_hash: hash_secret(&pair.refresh_token),
            family_id: token.family_id,
            user_id: stored.id,
            namespace: NS.into(),
            issued_at: t0(),
            expires_at: t0() + secs(REFRESH_TTL as i64),
            spent_at: None,
            revoked_at: None,
            token_version: 0,
        }
    );
    assert_ne!(
        token.token_hash, pair.refresh_token,
        "stored only as a hash"
    );
    let claims = claims_of(&pair);
    assert_eq!(
        (
            claims.sub,
            claims.namespace.as_str(),
            claims.username.as_str()
        ),
        (stored.id, NS, "Alice")
    );
    assert_eq!((claims.ver, claims.roles), (0, vec!["user".to_string()]));
    assert_eq!(
        (pair.expires_in, pair.refresh_expires_in),
        (ACCESS_TTL, REFRESH_TTL)
    );
}

#[tokio::test]
async fn register_passes_username_taken_through_and_issues_no_token() {
    let mut p = Ports::new();
    p.namespaces
        .expect_get()
        .times(1)
        .returning(|slug| Ok(Some(namespace(slug))));
    p.hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(NEW_HASH.into()));
    p.users.expect_insert().times(1).returning(|u| {
        Err(DomainError::UsernameTaken {
            namespace: u.namespace.clone(),
            username: u.username.clone(),
        })
    });
    p.refresh_tokens.expect_insert().never();
    let result = p.service().register(registration(some_profile())).await;
    assert!(
        matches!(&result, Err(DomainError::UsernameTaken { namespace, username })
            if namespace == NS && username == "Alice"),
        "{result:?}"
    );
}

#[tokio::test]
async fn register_with_an_extra_over_its_limits_is_a_validation_error_and_stores_nothing() {
    let mut p = Ports::new();
    p.namespaces
        .expect_get()
        .times(1)
        .returning(|slug| Ok(Some(namespace(slug))));
    // Whether the hash is spent before the profile is checked is not part of the rule.
    p.hasher
        .expect_hash()
        .times(0..=1)
        .returning(|_| Ok(NEW_HASH.into()));
    p.users.expect_insert().never();
    p.refresh_tokens.expect_insert().never();
    let too_many = (0..51).map(|i| (format!("k{i}"), Some("v".to_string())));
    let profile = ProfileChanges {
        extra: ExtraChange::Merge(too_many.collect()),
        ..ProfileChanges::default()
    };
    let result = p.service().register(registration(profile)).await;
    assert_eq!(validation_fields(result), ["extra"]);
}

// ---------------------------------------------------------------------------------------------
// login

/// A login that must fail with `InvalidCredentials` after exactly one `verify` against
/// `verify_sees`. `found` is what `find_live` answers, `None` when it must not be asked.
async fn assert_login_refused(
    namespace: &'static str,
    found: Option<Option<User>>,
    verify_sees: Option<&'static str>,
    verify_answers: bool,
) {
    let mut p = Ports::new();
    match found {
        Some(found) => {
            p.users
                .expect_find_live()
                .withf(move |ns, login| {
                    ns == namespace && *login == LoginName::Username("alice".into())
                })
                .times(1)
                .returning(move |_, _| Ok(found.clone()));
        }
        None => {
            p.users.expect_find_live().never();
        }
    }
    p.hasher
        .expect_verify()
        .withf(move |pw, hash| pw == PASSWORD && *hash == verify_sees)
        .times(1)
        .returning(move |_, _| Ok(verify_answers));
    p.hasher.expect_needs_rehash().never();
    p.forbid_writes();
    let result = p
        .service()
        .login(namespace, LoginName::Username("alice".into()), PASSWORD, IP)
        .await;
    assert!(
        matches!(result, Err(DomainError::InvalidCredentials)),
        "{result:?}"
    );
}

#[tokio::test]
async fn login_in_an_unknown_namespace_is_invalid_credentials_after_one_verify() {
    assert_login_refused("nowhere", Some(None), None, false).await;
}

#[tokio::test]
async fn login_with_an_invalid_namespace_slug_is_invalid_credentials_after_one_verify() {
    assert_login_refused("Not A Slug!", None, None, false).await;
}

#[tokio::test]
async fn login_of_an_unknown_user_verifies_against_no_hash() {
    assert_login_refused(NS, Some(None), None, false).await;
}

#[tokio::test]
async fn login_to_an_account_without_a_password_is_invalid_credentials() {
    let no_password = User {
        password_hash: None,
        ..user()
    };
    assert_login_refused(NS, Some(Some(no_password)), None, false).await;
}

#[tokio::test]
async fn login_with_a_wrong_password_is_invalid_credentials() {
    assert_login_refused(NS, Some(Some(user())), Some(STORED_HASH), false).await;
}

#[tokio::test]
async fn login_of_an_inactive_user_with_the_right_password_is_invalid_credentials() {
    let inactive = User {
        is_active: false,
        ..user()
    };
    assert_login_refused(NS, Some(Some(inactive)), Some(STORED_HASH), true).await;
}

#[tokio::test]
async fn login_of_a_deleted_user_with_the_right_password_is_invalid_credentials() {
    let deleted = User {
        deleted_at: Some(t0() - secs(60)),
        ..user()
    };
    assert_login_refused(NS, Some(Some(deleted)), Some(STORED_HASH), true).await;
}

/// `login` expectations up to a successful `verify` of the fixture user named by email.
fn ports_for_good_login() -> Ports {
    let mut p = Ports::new();
    p.users
        .expect_find_live()
        .withf(|ns, login| ns == NS && *login == LoginName::Email("alice@example.com".into()))
        .times(1)
        .returning(|_, _| Ok(Some(user())));
    p.hasher
        .expect_verify()
        .withf(|_, hash| *hash == Some(STORED_HASH))
        .times(1)
        .returning(|_, _| Ok(true));
    p
}

#[tokio::test]
async fn login_issues_a_pair_of_a_new_family_with_the_users_token_version() {
    let mut p = ports_for_good_login();
    p.hasher
        .expect_needs_rehash()
        .withf(|h| h == STORED_HASH)
        .times(1)
        .return_const(false);
    p.hasher.expect_hash().never();
    p.users.expect_set_password_hash().never();
    let inserted = p.expect_one_refresh_insert();
    let (account, pair) = p
        .service()
        .login(
            NS,
            LoginName::Email("alice@example.com".into()),
            PASSWORD,
            IP,
        )
        .await
        .expect("logged in");
    assert_eq!(account, user(), "the account the login found");
    let token = inserted.only();
    assert!(is_generated(token.family_id), "a new family");
    assert_pair_of_family(&pair, &token, token.family_id, user().token_version);
}

#[tokio::test]
async fn login_rehashes_a_hash_of_other_parameters_without_revoking_tokens() {
    let mut p = ports_for_good_login();
    p.hasher
        .expect_needs_rehash()
        .withf(|h| h == STORED_HASH)
        .times(1)
        .return_const(true);
    p.hasher
        .expect_hash()
        .withf(|pw| pw.as_str() == PASSWORD)
        .times(1)
        .returning(|_| Ok(NEW_HASH.into()));
    let u = user();
    p.users
        .expect_set_password_hash()
        .withf(move |ns, id, hash, revoke, now| {
            (ns, *id, hash, *revoke, *now) == (NS, u.id, NEW_HASH, false, t0())
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(3));
    p.users.expect_bump_token_version().never();
    p.refresh_tokens.expect_revoke_all_for_user().never();
    let inserted = p.expect_one_refresh_insert();
    let (account, pair) = p
        .service()
        .login(
            NS,
            LoginName::Email("alice@example.com".into()),
            PASSWORD,
            IP,
        )
        .await
        .expect("logged in");
    // The account as stored after the rehash.
    assert_eq!(
        (account.password_hash.as_deref(), account.updated_at),
        (Some(NEW_HASH), t0())
    );
    let token = inserted.only();
    assert_pair_of_family(&pair, &token, token.family_id, user().token_version);
}

#[tokio::test]
async fn login_with_a_legacy_password_too_short_for_todays_rules_succeeds_without_rehash() {
    let mut p = Ports::new();
    p.users
        .expect_find_live()
        .times(1)
        .returning(|_, _| Ok(Some(user())));
    p.hasher
        .expect_verify()
        .withf(|pw, hash| pw == "short" && *hash == Some(STORED_HASH))
        .times(1)
        .returning(|_, _| Ok(true));
    p.hasher.expect_needs_rehash().return_const(true);
    p.hasher.expect_hash().never();
    p.users.expect_set_password_hash().never();
    let inserted = p.expect_one_refresh_insert();
    let (_, pair) = p
        .service()
        .login(NS, LoginName::Username("alice".into()), "short", IP)
        .await
        .expect("logged in");
    let token = inserted.only();
    assert_pair_of_family(&pair, &token, token.family_id, user().token_version);
}

// ---------------------------------------------------------------------------------------------
// refresh

/// `find(hash_secret(PRESENTED))` answers `token`, once.
fn expect_find_once(p: &mut Ports, token: Option<RefreshToken>) {
    p.refresh_tokens
        .expect_find()
        .withf(|h| h == hash_secret(PRESENTED))
        .times(1)
        .returning(move |_| Ok(token.clone()));
}

/// `users.get` of the fixture user answers `found`, once.
fn expect_user_once(p: &mut Ports, found: Option<User>) {
    let id = user().id;
    p.users
        .expect_get()
        .withf(move |ns, uid| ns == NS && *uid == id)
        .times(1)
        .returning(move |_, _| Ok(found.clone()));
}

#[tokio::test]
async fn refresh_with_an_unknown_token_is_invalid() {
    let mut p = Ports::new();
    expect_find_once(&mut p, None);
    p.users.expect_get().never();
    p.forbid_writes();
    let result = p.service().refresh(PRESENTED, None).await;
    assert!(
        matches!(result, Err(DomainError::TokenInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_with_a_revoked_token_is_invalid() {
    let mut p = Ports::new();
    let revoked = RefreshToken {
        revoked_at: Some(t0() - secs(5)),
        ..stored_token(PRESENTED, family())
    };
    expect_find_once(&mut p, Some(revoked));
    p.users.expect_get().never();
    p.forbid_writes();
    let result = p.service().refresh(PRESENTED, None).await;
    assert!(
        matches!(result, Err(DomainError::TokenInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_with_an_expired_token_is_expired() {
    for expires_at in [t0(), t0() - secs(1)] {
        let mut p = Ports::new();
        let expired = RefreshToken {
            expires_at,
            ..stored_token(PRESENTED, family())
        };
        expect_find_once(&mut p, Some(expired));
        p.users.expect_get().never();
        p.forbid_writes();
        let result = p.service().refresh(PRESENTED, None).await;
        assert!(
            matches!(result, Err(DomainError::TokenExpired)),
            "{expires_at}: {result:?}"
        );
    }
}

#[tokio::test]
async fn refresh_for_a_missing_deleted_or_inactive_user_is_invalid() {
    let cases = [
        ("missing", None),
        (
            "deleted",
            Some(User {
                deleted_at: Some(t0() - secs(60)),
                ..user()
            }),
        ),
        (
            "inactive",
            Some(User {
                is_active: false,
                ..user()
            }),
        ),
    ];
    for (case, found) in cases {
        let mut p = Ports::new();
        expect_find_once(&mut p, Some(stored_token(PRESENTED, family())));
        expect_user_once(&mut p, found);
        p.forbid_writes();
        let result = p.service().refresh(PRESENTED, None).await;
        assert!(
            matches!(result, Err(DomainError::TokenInvalid)),
            "{case}: {result:?}"
        );
    }
}

#[tokio::test]
async fn refresh_of_a_token_issued_before_the_users_version_moved_on_is_invalid_and_stores_nothing()
{
    // Logout-all, a password change, a deactivation or a deletion raised the user's version after
    // this token was issued (possibly by a refresh racing that ending): it never refreshes again.
    let mut p = Ports::new();
    let older = RefreshToken {
        token_version: user().token_version - 1,
        ..stored_token(PRESENTED, family())
    };
    expect_find_once(&mut p, Some(older));
    expect_user_once(&mut p, Some(user()));
    p.forbid_writes();
    let result = p.service().refresh(PRESENTED, None).await;
    assert!(
        matches!(result, Err(DomainError::TokenInvalid)),
        "{result:?}"
    );
}

/// `rotate` is called once for the presented token, with a successor of its family stamped with
/// its version, the leeway's start and `t0()`; it answers `outcome`. The successor is recorded.
fn expect_rotate_once(p: &mut Ports, outcome: Rotation) -> Recorder<RefreshToken> {
    let rotated = Recorder::new();
    let rec = rotated.clone();
    p.refresh_tokens
        .expect_rotate()
        .withf(|old, new, reuse_since, now| {
            old == hash_secret(PRESENTED)
                && new.family_id == family()
                && new.token_version == user().token_version
                && *reuse_since == t0() - secs(REUSE_LEEWAY as i64)
                && *now == t0()
        })
        .times(1)
        .returning(move |_, new, _, _| {
            rec.record(new.clone());
            Ok(outcome)
        });
    rotated
}

#[tokio::test]
async fn refresh_rotated_or_reissued_gives_a_pair_of_the_same_family_and_version() {
    // Rotated: the token was live. Reissued: it was spent within the leeway (another tab, or a
    // concurrent request that won the race): both tabs keep a working token of the family.
    for spent_at in [None, Some(t0() - secs(REUSE_LEEWAY as i64))] {
        for outcome in [Rotation::Rotated, Rotation::Reissued] {
            let mut p = Ports::new();
            let presented = RefreshToken {
                spent_at,
                ..stored_token(PRESENTED, family())
            };
            expect_find_once(&mut p, Some(presented));
            expect_user_once(&mut p, Some(user()));
            let rotated = expect_rotate_once(&mut p, outcome);
            // The successor is stored by `rotate` alone, in its transaction.
            p.refresh_tokens.expect_insert().never();
            p.refresh_tokens.expect_revoke_family().never();
            let pair = p
                .service()
                .refresh(PRESENTED, None)
                .await
                .expect("refreshed");
            assert_pair_of_family(&pair, &rotated.only(), family(), user().token_version);
        }
    }
}

#[tokio::test]
async fn refresh_refused_by_the_rotation_is_invalid_and_revokes_nothing() {
    // The family was logged out, or the version raised, between the read and the transaction.
    let mut p = Ports::new();
    expect_find_once(&mut p, Some(stored_token(PRESENTED, family())));
    expect_user_once(&mut p, Some(user()));
    expect_rotate_once(&mut p, Rotation::Refused);
    p.refresh_tokens.expect_insert().never();
    p.refresh_tokens.expect_revoke_family().never();
    let result = p.service().refresh(PRESENTED, None).await;
    assert!(
        matches!(result, Err(DomainError::TokenInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn refresh_of_a_replayed_token_revokes_its_family() {
    let mut p = Ports::new();
    let spent = RefreshToken {
        spent_at: Some(t0() - secs(86_400)),
        ..stored_token(PRESENTED, family())
    };
    expect_find_once(&mut p, Some(spent));
    expect_user_once(&mut p, Some(user()));
    expect_rotate_once(&mut p, Rotation::Replayed);
    p.refresh_tokens
        .expect_revoke_family()
        .withf(|f, now| *f == family() && *now == t0())
        .times(1)
        .returning(|_, _| Ok(()));
    p.refresh_tokens.expect_insert().never();
    p.refresh_tokens.expect_revoke_all_for_user().never();
    let result = p.service().refresh(PRESENTED, None).await;
    assert!(
        matches!(result, Err(DomainError::TokenInvalid)),
        "{result:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// logout, logout_all

#[tokio::test]
async fn logout_revokes_the_family_of_a_known_token() {
    let mut p = Ports::new();
    expect_find_once(&mut p, Some(stored_token(PRESENTED, family())));
    p.refresh_tokens
        .expect_revoke_family()
        .withf(|f, now| *f == family() && *now == t0())
        .times(1)
        .returning(|_, _| Ok(()));
    p.refresh_tokens.expect_revoke_all_for_user().never();
    p.service().logout(PRESENTED).await.expect("logged out");
}

#[tokio::test]
async fn logout_with_an_unknown_token_is_ok_and_revokes_nothing() {
    let mut p = Ports::new();
    expect_find_once(&mut p, None);
    p.forbid_writes();
    p.service().logout(PRESENTED).await.expect("logged out");
}

#[tokio::test]
async fn logout_all_bumps_the_token_version_and_revokes_every_refresh_token() {
    let mut p = Ports::new();
    let id = user().id;
    p.users
        .expect_bump_token_version()
        .withf(move |ns, uid, now| (ns, *uid, *now) == (NS, id, t0()))
        .times(1)
        .returning(|_, _, _| Ok(4));
    p.refresh_tokens
        .expect_revoke_all_for_user()
        .withf(move |uid, now| (*uid, *now) == (id, t0()))
        .times(1)
        .returning(|_, _| Ok(()));
    p.refresh_tokens.expect_revoke_family().never();
    p.service().logout_all(&user()).await.expect("logged out");
}

// ---------------------------------------------------------------------------------------------
// change_password

#[tokio::test]
async fn change_password_with_a_wrong_current_password_writes_nothing() {
    let mut p = Ports::new();
    p.hasher
        .expect_verify()
        .withf(|pw, hash| pw == "not-the-password" && *hash == Some(STORED_HASH))
        .times(1)
        .returning(|_, _| Ok(false));
    p.forbid_writes();
    let new = Password::parse("a brand new password").expect("valid password");
    let result = p
        .service()
        .change_password(&user(), "not-the-password", new, IP)
        .await;
    assert!(
        matches!(result, Err(DomainError::WrongPassword)),
        "{result:?}"
    );
}

#[tokio::test]
async fn change_password_revokes_every_token_then_issues_a_pair_with_the_new_version() {
    let mut p = Ports::new();
    let id = user().id;
    let mut seq = Sequence::new();
    p.hasher
        .expect_verify()
        .withf(|pw, hash| pw == PASSWORD && *hash == Some(STORED_HASH))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    p.hasher
        .expect_hash()
        .withf(|pw| pw.as_str() == "a brand new password")
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(NEW_HASH.into()));
    p.users
        .expect_set_password_hash()
        .withf(move |ns, uid, hash, revoke, now| {
            (ns, *uid, hash, *revoke, *now) == (NS, id, NEW_HASH, true, t0())
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Ok(4));
    p.refresh_tokens
        .expect_revoke_all_for_user()
        .withf(move |uid, now| (*uid, *now) == (id, t0()))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    // The new refresh token is stored after the revocation, or it would die with the others.
    let inserted = Recorder::new();
    let rec = inserted.clone();
    p.refresh_tokens
        .expect_insert()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |t| {
            rec.record(t.clone());
            Ok(())
        });
    let new = Password::parse("a brand new password").expect("valid password");
    let pair = p
        .service()
        .change_password(&user(), PASSWORD, new, IP)
        .await
        .expect("changed");
    let token = inserted.only();
    assert!(is_generated(token.family_id), "a new family");
    assert_pair_of_family(&pair, &token, token.family_id, 4);
}

// ---------------------------------------------------------------------------------------------
// authenticate

fn bearer_for(user: &User, version: i64, issued_at: chrono::DateTime<chrono::Utc>) -> String {
    access_tokens()
        .issue(user, version, Uuid::from_u128(0x7717), issued_at)
        .expect("issued")
}

fn creds() -> Credentials {
    Credentials::default()
}

#[tokio::test]
async fn authenticate_without_credentials_is_none() {
    let mut p = Ports::new();
    p.namespaces.expect_find_by_api_key_hash().never();
    p.users.expect_get().never();
    let svc = p.service();
    assert_eq!(svc.authenticate(&creds()).await.expect("ok"), None);
    let tenant_only = Credentials {
        tenant: Some(NS.into()),
        ..creds()
    };
    assert_eq!(svc.authenticate(&tenant_only).await.expect("ok"), None);
}

#[tokio::test]
async fn authenticate_the_operator_key() {
    let mut p = Ports::new();
    p.namespaces.expect_find_by_api_key_hash().never();
    p.users.expect_get().never();
    let svc = p.service();
    let right = Credentials {
        operator_key: Some(OPERATOR_KEY.into()),
        ..creds()
    };
    assert_eq!(
        svc.authenticate(&right).await.expect("ok"),
        Some(Principal::Operator)
    );
    for wrong in [
        "",
        "the-operator-ke",
        "the-operator-key2",
        "THE-OPERATOR-KEY",
    ] {
        let wrong = Credentials {
            operator_key: Some(wrong.into()),
            ..creds()
        };
        let result = svc.authenticate(&wrong).await;
        assert!(
            matches!(result, Err(DomainError::ApiKeyInvalid)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn authenticate_an_operator_key_when_none_is_configured_is_invalid() {
    let mut p = Ports::new();
    p.namespaces.expect_find_by_api_key_hash().never();
    let svc = p.service_with(policy(None));
    for key in [OPERATOR_KEY, ""] {
        let sent = Credentials {
            operator_key: Some(key.into()),
            ..creds()
        };
        let result = svc.authenticate(&sent).await;
        assert!(
            matches!(result, Err(DomainError::ApiKeyInvalid)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn authenticate_a_wrong_operator_key_does_not_fall_back_to_the_api_key() {
    let mut p = Ports::new();
    p.namespaces.expect_find_by_api_key_hash().never();
    let both = Credentials {
        operator_key: Some("wrong".into()),
        api_key: Some("usk_valid".into()),
        ..creds()
    };
    let result = p.service().authenticate(&both).await;
    assert!(
        matches!(result, Err(DomainError::ApiKeyInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn authenticate_an_api_key_looks_it_up_by_its_hash() {
    let mut p = Ports::new();
    p.namespaces
        .expect_find_by_api_key_hash()
        .withf(|h| h == hash_secret("usk_the-key"))
        .times(1)
        .returning(|_| Ok(Some(namespace(NS))));
    p.users.expect_get().never();
    let sent = Credentials {
        api_key: Some("usk_the-key".into()),
        ..creds()
    };
    assert_eq!(
        p.service().authenticate(&sent).await.expect("ok"),
        Some(service_of(NS))
    );
}

#[tokio::test]
async fn authenticate_an_unknown_api_key_is_invalid() {
    let mut p = Ports::new();
    p.namespaces
        .expect_find_by_api_key_hash()
        .withf(|h| h == hash_secret("usk_unknown"))
        .times(1)
        .returning(|_| Ok(None));
    let sent = Credentials {
        api_key: Some("usk_unknown".into()),
        ..creds()
    };
    let result = p.service().authenticate(&sent).await;
    assert!(
        matches!(result, Err(DomainError::ApiKeyInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn authenticate_a_valid_bearer_token_of_the_current_version_is_the_user() {
    // At the edge of the expiry leeway (expired 5 s ago) the token is still accepted.
    for issued_at in [t0(), t0() - secs(ACCESS_TTL as i64 + 5)] {
        let mut p = Ports::new();
        expect_user_once(&mut p, Some(user()));
        let sent = Credentials {
            bearer: Some(bearer_for(&user(), user().token_version, issued_at)),
            ..creds()
        };
        assert_eq!(
            p.service().authenticate(&sent).await.expect("ok"),
            Some(Principal::User(user()))
        );
    }
}

/// The rate limiter's verification, handed on, stands in for a second one; the user is still read
/// and checked (a stale version is refused all the same).
#[tokio::test]
async fn a_verification_handed_on_still_reads_and_checks_the_user() {
    for (version, expected) in [
        (user().token_version, Ok(Some(Principal::User(user())))),
        (user().token_version - 1, Err("stale")),
    ] {
        let mut p = Ports::new();
        expect_user_once(&mut p, Some(user()));
        let service = p.service();
        let token = bearer_for(&user(), version, t0());
        let verified = service.verify_bearer(&token).expect("ours");
        assert_eq!(
            verified.subject(),
            format!("{}/{}", user().namespace, user().id)
        );
        let sent = Credentials {
            bearer: Some(token),
            ..creds()
        };
        let result = service.authenticate_verified(&sent, Some(&verified)).await;
        match expected {
            Ok(principal) => assert_eq!(result.expect("ok"), principal),
            Err(_) => assert!(matches!(result, Err(DomainError::TokenStale)), "{result:?}"),
        }
    }
}

/// A verification vouches for its own token only: with another token in the credentials, that one
/// is verified on its own, and a forged one is refused without a read.
#[tokio::test]
async fn a_verification_of_another_token_vouches_for_nothing() {
    let mut p = Ports::new();
    p.users.expect_get().never();
    let service = p.service();
    let good = bearer_for(&user(), user().token_version, t0());
    let verified = service.verify_bearer(&good).expect("ours");
    let forged = format!("{good}x");
    assert!(service.verify_bearer(&forged).is_none());
    let sent = Credentials {
        bearer: Some(forged),
        ..creds()
    };
    let result = service.authenticate_verified(&sent, Some(&verified)).await;
    assert!(
        matches!(result, Err(DomainError::TokenInvalid)),
        "{result:?}"
    );
}

#[tokio::test]
async fn authenticate_a_bearer_token_of_an_old_version_or_an_unusable_user_is_stale() {
    let cases = [
        ("older version", user().token_version - 1, Some(user())),
        ("newer version", user().token_version + 1, Some(user())),
        ("missing user", user().token_version, None),
        (
            "deleted user",
            user().token_version,
            Some(User {
                deleted_at: Some(t0() - secs(1)),
                ..user()
            }),
        ),
        (
            "inactive user",
            user().token_version,
            Some(User {
                is_active: false,
                ..user()
            }),
        ),
    ];
    for (case, version, found) in cases {
        let mut p = Ports::new();
        expect_user_once(&mut p, found);
        let sent = Credentials {
            bearer: Some(bearer_for(&user(), version, t0())),
            ..creds()
        };
        let result = p.service().authenticate(&sent).await;
        assert!(
            matches!(result, Err(DomainError::TokenStale)),
            "{case}: {result:?}"
        );
    }
}

#[tokio::test]
async fn authenticate_an_expired_bearer_token_is_expired() {
    let mut p = Ports::new();
    p.users.expect_get().never();
    let sent = Credentials {
        bearer: Some(bearer_for(
            &user(),
            user().token_version,
            t0() - secs(ACCESS_TTL as i64 + 6),
        )),
        ..creds()
    };
    let result = p.service().authenticate(&sent).await;
    assert!(
        matches!(result, Err(DomainError::TokenExpired)),
        "{result:?}"
    );
}

#[tokio::test]
async fn authenticate_a_garbage_or_foreign_bearer_token_is_invalid() {
    let foreign = crate::tokens::AccessTokens::new(b"another-secret", "user-service", 900)
        .issue(&user(), user().token_version, Uuid::nil(), t0())
        .expect("issued");
    for token in ["not-a-jwt".to_string(), String::new(), foreign] {
        let mut p = Ports::new();
        p.users.expect_get().never();
        let sent = Credentials {
            bearer: Some(token.clone()),
            ..creds()
        };
        let result = p.service().authenticate(&sent).await;
        assert!(
            matches!(result, Err(DomainError::TokenInvalid)),
            "{token:?}: {result:?}"
        );
    }
}

#[tokio::test]
async fn authenticate_with_a_tenant_other_than_the_principals_namespace_is_forbidden() {
    // A service key of NS.
    let mut p = Ports::new();
    p.namespaces
        .expect_find_by_api_key_hash()
        .times(1)
        .returning(|_| Ok(Some(namespace(NS))));
    let sent = Credentials {
        api_key: Some("usk_the-key".into()),
        tenant: Some(OTHER_NS.into()),
        ..creds()
    };
    let result = p.service().authenticate(&sent).await;
    assert!(
        matches!(result, Err(DomainError::Forbidden(_))),
        "{result:?}"
    );

    // A user of NS.
    let mut p = Ports::new();
    expect_user_once(&mut p, Some(user()));
    let sent = Credentials {
        bearer: Some(bearer_for(&user(), user().token_version, t0())),
        tenant: Some(OTHER_NS.into()),
        ..creds()
    };
    let result = p.service().authenticate(&sent).await;
    assert!(
        matches!(result, Err(DomainError::Forbidden(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn authenticate_with_the_principals_own_tenant_is_ok() {
    let mut p = Ports::new();
    p.namespaces
        .expect_find_by_api_key_hash()
        .times(1)
        .returning(|_| Ok(Some(namespace(NS))));
    let sent = Credentials {
        api_key: Some("usk_the-key".into()),
        tenant: Some(NS.into()),
        ..creds()
    };
    assert_eq!(
        p.service().authenticate(&sent).await.expect("ok"),
        Some(service_of(NS))
    );

    let mut p = Ports::new();
    expect_user_once(&mut p, Some(user()));
    let sent = Credentials {
        bearer: Some(bearer_for(&user(), user().token_version, t0())),
        tenant: Some(NS.into()),
        ..creds()
    };
    assert_eq!(
        p.service().authenticate(&sent).await.expect("ok"),
        Some(Principal::User(user()))
    );
}

#[tokio::test]
async fn authenticate_the_operator_with_any_tenant_is_ok() {
    let sent = Credentials {
        operator_key: Some(OPERATOR_KEY.into()),
        tenant: Some(OTHER_NS.into()),
        ..creds()
    };
    assert_eq!(
        Ports::new()
            .service()
            .authenticate(&sent)
            .await
            .expect("ok"),
        Some(Principal::Operator)
    );
}

#[test]
fn operator_key_configured_reflects_the_policy() {
    assert!(Ports::new().service().operator_key_configured());
    assert!(
        !Ports::new()
            .service_with(policy(None))
            .operator_key_configured()
    );
}

/// Finding 9.3: the throttle counts the account, not the name typed. Five wrong passwords by
/// username and by email, alternately, and the sixth attempt is refused without hashing, whichever
/// name it uses; change-password's check of the current password shares that count too.
#[tokio::test]
async fn username_email_and_change_password_share_one_throttle_count() {
    let (throttle, _, _) = throttle();
    let mut p = Ports::new();
    p.forbid_writes();
    p.users
        .expect_find_live()
        .returning(|_, _| Ok(Some(user())));
    p.hasher
        .expect_verify()
        .withf(|_, hash| *hash == Some(STORED_HASH))
        .times(5)
        .returning(|_, _| Ok(false));
    let svc = p.service().with_throttle(throttle);
    for i in 0..4 {
        let name = if i % 2 == 0 {
            LoginName::Username("alice".into())
        } else {
            LoginName::Email("alice@example.com".into())
        };
        let r = svc.login(NS, name, "wrong-password", IP).await;
        assert!(matches!(r, Err(DomainError::InvalidCredentials)), "{r:?}");
    }
    let new = Password::parse("a-new-password").expect("valid");
    let r = svc
        .change_password(&user(), "wrong-password", new.clone(), IP)
        .await;
    assert!(matches!(r, Err(DomainError::WrongPassword)), "{r:?}");
    rate_limited(
        svc.login(
            NS,
            LoginName::Email("alice@example.com".into()),
            PASSWORD,
            IP,
        )
        .await,
    );
    rate_limited(svc.change_password(&user(), PASSWORD, new, IP).await);
}
