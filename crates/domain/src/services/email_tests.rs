//! The rules of email verification, password reset and outbox delivery, against mocks of every port.

use std::sync::Arc;

use uuid::Uuid;

use super::test_support::*;
use super::{
    AuthPolicy, AuthService, DeliveryPolicy, EmailService, MailPolicy, Mailer, OutboxSender,
    Registration,
};
use crate::error::DomainError;
use crate::model::{
    Change, Email, EmailPurpose, EmailToken, Issued, Mail, MailQuota, Namespace, NamespaceSlug,
    OutboxMail, OutboxStatus, Password, ProfileChanges, User, UserChanges, Username,
};
use crate::ports::{
    DeliveryError, IdGenerator, LoginName, MockEmailTokenRepository, MockMailOutbox,
    MockMailTransport, MockNamespaceRepository, MockPasswordHasher, MockRefreshTokenRepository,
    MockUserRepository, SystemIds,
};
use crate::tokens::hash_secret;

const PUBLIC_URL: &str = "https://users.example.com/";
const FROM: &str = "no-reply@example.com";
const NEW_HASH: &str = "$2b$12$the.new.hash";
const PASSWORD: &str = "correct horse battery";

fn shop() -> Namespace {
    Namespace {
        name: Some("Shop & Co".into()),
        ..namespace(NS)
    }
}

fn namespaces_with(ns: Namespace) -> MockNamespaceRepository {
    let mut namespaces = MockNamespaceRepository::new();
    namespaces
        .expect_get()
        .returning(move |slug| Ok((slug == ns.slug).then(|| ns.clone())));
    namespaces
}

/// Issues are recorded (token, mail, quota) and answered with `answer`.
fn recording_tokens(
    answer: Issued,
) -> (
    MockEmailTokenRepository,
    Recorder<(EmailToken, OutboxMail, MailQuota)>,
) {
    let mut tokens = MockEmailTokenRepository::new();
    let rec = Recorder::new();
    let r = rec.clone();
    tokens.expect_issue().returning(move |t, m, q| {
        r.record((t.clone(), m.clone(), q));
        Ok(answer)
    });
    (tokens, rec)
}

fn mailer(namespaces: MockNamespaceRepository, tokens: MockEmailTokenRepository) -> Arc<Mailer> {
    Arc::new(Mailer::new(
        Arc::new(namespaces),
        Arc::new(tokens),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
        MailPolicy::new(PUBLIC_URL, FROM),
    ))
}

fn auth(
    namespaces: MockNamespaceRepository,
    users: MockUserRepository,
    refresh: MockRefreshTokenRepository,
    hasher: MockPasswordHasher,
) -> AuthService {
    AuthService::new(
        Arc::new(namespaces),
        Arc::new(users),
        Arc::new(refresh),
        Arc::new(hasher),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
        access_tokens(),
        AuthPolicy {
            refresh_ttl_secs: REFRESH_TTL,
            refresh_reuse_leeway_secs: REUSE_LEEWAY,
            operator_key: None,
        },
    )
}

fn email_service(
    users: MockUserRepository,
    tokens: MockEmailTokenRepository,
    mailer: Arc<Mailer>,
    auth: AuthService,
) -> EmailService {
    EmailService::new(
        Arc::new(users),
        Arc::new(tokens),
        mailer,
        Arc::new(auth),
        Arc::new(fixed_clock()),
    )
}

fn slug() -> NamespaceSlug {
    NamespaceSlug::parse(NS).expect("slug")
}

fn email(raw: &str) -> Email {
    Email::parse(raw).expect("email")
}

fn unverified() -> User {
    User {
        email_verified: false,
        ..user()
    }
}

#[tokio::test]
async fn a_reset_mail_carries_a_hashed_single_token_with_its_expiry_link_and_quota() {
    let (tokens, issued) = recording_tokens(Issued::Queued);
    let m = mailer(namespaces_with(shop()), tokens);
    assert_eq!(
        m.queue(&user(), EmailPurpose::PasswordReset)
            .await
            .expect("queued"),
        Issued::Queued
    );
    let (token, entry, quota) = issued.only();
    let secret = generated_secret(1);
    assert_eq!(
        token,
        EmailToken {
            token_hash: hash_secret(&secret),
            purpose: EmailPurpose::PasswordReset,
            user_id: user().id,
            namespace: NS.into(),
            email: "alice@example.com".into(),
            created_at: t0(),
            expires_at: t0() + secs(30 * 60),
            used_at: None,
        }
    );
    assert_eq!(
        quota,
        MailQuota {
            max: 3,
            since: t0() - secs(3600)
        }
    );
    assert_eq!(
        (
            entry.status,
            entry.attempts,
            entry.next_attempt_at,
            entry.namespace.as_str()
        ),
        (OutboxStatus::Queued, 0, t0(), NS)
    );
    let mail = &entry.mail;
    let link = format!("https://users.example.com/auth/password-reset?token={secret}");
    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.from_address, FROM);
    assert_eq!(mail.from_name.as_deref(), Some("Shop & Co"));
    assert_eq!(mail.subject, "Reset your Shop & Co password");
    assert!(mail.text_body.contains(&link), "{}", mail.text_body);
    assert!(mail.text_body.contains("30 minutes"), "{}", mail.text_body);
    // The HTML body escapes what it shows, the link included.
    assert!(
        mail.html_body.contains(&format!("href=\"{link}\"")),
        "{}",
        mail.html_body
    );
    assert!(
        mail.html_body.contains("Shop &amp; Co"),
        "{}",
        mail.html_body
    );
    assert!(!mail.html_body.contains("Shop & Co"), "{}", mail.html_body);
    // The secret itself is stored nowhere but in the mail.
    assert_ne!(token.token_hash, secret);
}

#[tokio::test]
async fn links_lead_to_the_namespace_pages_and_its_sender_when_it_has_them() {
    let mut ns = shop();
    ns.settings.email_verify_url = Some("https://app.example.com/verify?lang=en".into());
    ns.settings.mail_from = Some("hello@shop.example".into());
    let (tokens, issued) = recording_tokens(Issued::Queued);
    let m = mailer(namespaces_with(ns), tokens);
    m.queue(&user(), EmailPurpose::VerifyEmail)
        .await
        .expect("queued");
    let (token, entry, _) = issued.only();
    assert_eq!(token.purpose, EmailPurpose::VerifyEmail);
    assert_eq!(token.expires_at, t0() + secs(48 * 3600));
    let link = format!(
        "https://app.example.com/verify?lang=en&token={}",
        generated_secret(1)
    );
    assert!(
        entry.mail.text_body.contains(&link),
        "{}",
        entry.mail.text_body
    );
    assert!(entry.mail.text_body.contains("48 hours"));
    assert_eq!(entry.mail.from_address, "hello@shop.example");
    assert_eq!(
        entry.mail.subject,
        "Confirm your email address for Shop & Co"
    );
}

#[test]
fn system_secrets_carry_256_random_bits() {
    use base64::Engine as _;
    let a = SystemIds.new_secret();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&a)
        .expect("base64url");
    assert_eq!(bytes.len(), 32);
    assert_ne!(a, SystemIds.new_secret());
}

#[tokio::test]
async fn a_reset_request_answers_the_same_for_unknown_deactivated_and_over_quota_addresses() {
    for (found, answer, mails) in [
        (None, Issued::Queued, 0),
        (
            Some(User {
                is_active: false,
                ..user()
            }),
            Issued::Queued,
            0,
        ),
        (Some(user()), Issued::OverQuota, 1),
        (Some(user()), Issued::Queued, 1),
    ] {
        let mut users = MockUserRepository::new();
        users
            .expect_find_live()
            .withf(|ns, login| ns == NS && *login == LoginName::email("ALICE@example.com"))
            .returning(move |_, _| Ok(found.clone()));
        let (tokens, issued) = recording_tokens(answer);
        let m = mailer(namespaces_with(shop()), tokens);
        let service = email_service(
            users,
            MockEmailTokenRepository::new(),
            m,
            auth(
                MockNamespaceRepository::new(),
                MockUserRepository::new(),
                MockRefreshTokenRepository::new(),
                MockPasswordHasher::new(),
            ),
        );
        service
            .request_password_reset(&slug(), &email("ALICE@example.com"))
            .await
            .expect("always Ok");
        assert_eq!(issued.all().len(), mails);
    }
}

/// A reset confirmation: the token is used, the password set with the token version raised, every
/// refresh token revoked, and a fresh pair of the new version answered.
#[tokio::test]
async fn a_reset_sets_the_password_and_ends_every_session() {
    let secret = "the-reset-secret";
    let mut tokens = MockEmailTokenRepository::new();
    tokens
        .expect_consume()
        .withf(move |hash, purpose, now| {
            hash == hash_secret(secret) && *purpose == EmailPurpose::PasswordReset && *now == t0()
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(Some(EmailToken {
                token_hash: hash_secret("the-reset-secret"),
                purpose: EmailPurpose::PasswordReset,
                user_id: user().id,
                namespace: NS.into(),
                email: "Alice@Example.com".into(),
                created_at: t0() - secs(60),
                expires_at: t0() + secs(1740),
                used_at: None,
            }))
        });
    let mut users = MockUserRepository::new();
    users
        .expect_verify_email()
        .withf(|ns, id, key, _| ns == NS && *id == user().id && key == "alice@example.com")
        .times(1)
        .returning(|_, _, _, _| Ok(Some(user())));
    let mut auth_users = MockUserRepository::new();
    auth_users
        .expect_set_password_hash()
        .withf(|ns, id, hash, revoke, _| {
            ns == NS && *id == user().id && hash == NEW_HASH && *revoke
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(4));
    let mut refresh = MockRefreshTokenRepository::new();
    refresh
        .expect_revoke_all_for_user()
        .withf(|id, _| *id == user().id)
        .times(1)
        .returning(|_, _| Ok(()));
    refresh.expect_insert().times(1).returning(|_| Ok(()));
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(NEW_HASH.into()));
    let service = email_service(
        users,
        tokens,
        mailer(
            MockNamespaceRepository::new(),
            MockEmailTokenRepository::new(),
        ),
        auth(MockNamespaceRepository::new(), auth_users, refresh, hasher),
    );
    let pair = service
        .confirm_password_reset(secret, Password::parse(PASSWORD).expect("password"))
        .await
        .expect("reset");
    let claims = access_tokens()
        .verify(&pair.access_token, t0())
        .expect("verifies");
    assert_eq!((claims.sub, claims.ver), (user().id, 4));
}

#[tokio::test]
async fn an_invalid_token_or_a_changed_address_or_a_deactivated_account_resets_nothing() {
    // (the token is found, the account as verify_email answers it)
    let cases: [(bool, Option<User>); 3] = [
        (false, None),
        (true, None),
        (
            true,
            Some(User {
                is_active: false,
                ..user()
            }),
        ),
    ];
    for (found, account) in cases {
        let mut tokens = MockEmailTokenRepository::new();
        tokens.expect_consume().returning(move |_, purpose, _| {
            Ok(found.then(|| EmailToken {
                token_hash: "h".into(),
                purpose,
                user_id: user().id,
                namespace: NS.into(),
                email: "old@example.com".into(),
                created_at: t0(),
                expires_at: t0() + secs(60),
                used_at: None,
            }))
        });
        let mut users = MockUserRepository::new();
        users
            .expect_verify_email()
            .returning(move |_, _, _, _| Ok(account.clone()));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().never();
        let mut auth_users = MockUserRepository::new();
        auth_users.expect_set_password_hash().never();
        let service = email_service(
            users,
            tokens,
            mailer(
                MockNamespaceRepository::new(),
                MockEmailTokenRepository::new(),
            ),
            auth(
                MockNamespaceRepository::new(),
                auth_users,
                MockRefreshTokenRepository::new(),
                hasher,
            ),
        );
        let result = service
            .confirm_password_reset("whatever", Password::parse(PASSWORD).expect("password"))
            .await;
        assert!(
            matches!(result, Err(DomainError::EmailTokenInvalid)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn a_verification_request_needs_an_email_and_skips_a_verified_one() {
    let service = |tokens| {
        email_service(
            MockUserRepository::new(),
            MockEmailTokenRepository::new(),
            mailer(namespaces_with(shop()), tokens),
            auth(
                MockNamespaceRepository::new(),
                MockUserRepository::new(),
                MockRefreshTokenRepository::new(),
                MockPasswordHasher::new(),
            ),
        )
    };
    let (tokens, issued) = recording_tokens(Issued::Queued);
    let no_email = User {
        email: None,
        ..unverified()
    };
    assert_eq!(
        validation_fields(service(tokens).request_verification(&no_email).await),
        vec!["email"]
    );
    assert_eq!(issued.all().len(), 0);

    let (tokens, issued) = recording_tokens(Issued::Queued);
    service(tokens)
        .request_verification(&user())
        .await
        .expect("verified already: nothing to do");
    assert_eq!(issued.all().len(), 0);

    let (tokens, issued) = recording_tokens(Issued::OverQuota);
    service(tokens)
        .request_verification(&unverified())
        .await
        .expect("over quota still answers Ok");
    assert_eq!(issued.only().0.purpose, EmailPurpose::VerifyEmail);
}

#[tokio::test]
async fn a_verification_link_verifies_the_address_it_was_sent_to() {
    let mut tokens = MockEmailTokenRepository::new();
    tokens
        .expect_consume()
        .withf(|hash, purpose, _| hash == hash_secret("v") && *purpose == EmailPurpose::VerifyEmail)
        .returning(|_, purpose, _| {
            Ok(Some(EmailToken {
                token_hash: hash_secret("v"),
                purpose,
                user_id: user().id,
                namespace: NS.into(),
                email: "alice@example.com".into(),
                created_at: t0(),
                expires_at: t0() + secs(60),
                used_at: None,
            }))
        });
    let mut users = MockUserRepository::new();
    users
        .expect_verify_email()
        .withf(|ns, id, key, _| ns == NS && *id == user().id && key == "alice@example.com")
        .returning(|_, _, _, _| Ok(Some(user())));
    let service = email_service(
        users,
        tokens,
        mailer(
            MockNamespaceRepository::new(),
            MockEmailTokenRepository::new(),
        ),
        auth(
            MockNamespaceRepository::new(),
            MockUserRepository::new(),
            MockRefreshTokenRepository::new(),
            MockPasswordHasher::new(),
        ),
    );
    assert_eq!(service.confirm_verification("v").await.expect("ok"), user());
}

fn hasher_accepting(password: &'static str) -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_verify()
        .returning(move |p, h| Ok(h.is_some() && p == password));
    hasher.expect_needs_rehash().return_const(false);
    hasher
}

#[tokio::test]
async fn a_namespace_requiring_verified_email_refuses_the_right_password_until_verified() {
    let mut strict = shop();
    strict.settings.require_verified_email = true;
    for (account, password, expected) in [
        (unverified(), PASSWORD, "EmailNotVerified"),
        (unverified(), "wrong password", "InvalidCredentials"),
        (user(), PASSWORD, "Ok"),
    ] {
        let mut users = MockUserRepository::new();
        users
            .expect_find_live()
            .returning(move |_, _| Ok(Some(account.clone())));
        let mut refresh = MockRefreshTokenRepository::new();
        refresh
            .expect_insert()
            .times(usize::from(expected == "Ok"))
            .returning(|_| Ok(()));
        let service = auth(
            namespaces_with(strict.clone()),
            users,
            refresh,
            hasher_accepting(PASSWORD),
        );
        let outcome = match service
            .login(NS, LoginName::username("alice"), password, IP)
            .await
        {
            Ok(_) => "Ok",
            Err(DomainError::EmailNotVerified) => "EmailNotVerified",
            Err(DomainError::InvalidCredentials) => "InvalidCredentials",
            Err(e) => panic!("unexpected {e:?}"),
        };
        assert_eq!(outcome, expected);
    }
}

#[tokio::test]
async fn a_namespace_without_the_requirement_lets_unverified_users_in() {
    let mut users = MockUserRepository::new();
    users
        .expect_find_live()
        .returning(|_, _| Ok(Some(unverified())));
    let mut refresh = MockRefreshTokenRepository::new();
    refresh.expect_insert().times(1).returning(|_| Ok(()));
    let service = auth(
        namespaces_with(shop()),
        users,
        refresh,
        hasher_accepting(PASSWORD),
    );
    service
        .login(NS, LoginName::username("alice"), PASSWORD, IP)
        .await
        .expect("logs in");
}

#[tokio::test]
async fn a_registration_with_an_email_queues_its_verification_and_one_without_does_not() {
    for (with_email, mails) in [(true, 1), (false, 0)] {
        let mut users = MockUserRepository::new();
        users.expect_insert().times(1).returning(|_| Ok(()));
        let mut refresh = MockRefreshTokenRepository::new();
        refresh.expect_insert().returning(|_| Ok(()));
        let mut hasher = MockPasswordHasher::new();
        hasher.expect_hash().returning(|_| Ok(NEW_HASH.into()));
        let (tokens, issued) = recording_tokens(Issued::Queued);
        let service = auth(namespaces_with(shop()), users, refresh, hasher)
            .with_mailer(mailer(namespaces_with(shop()), tokens));
        let profile = ProfileChanges {
            email: if with_email {
                Change::Set(email("new@example.com"))
            } else {
                Change::Keep
            },
            ..ProfileChanges::default()
        };
        let (created, _) = service
            .register(Registration {
                namespace: slug(),
                username: Username::parse("newbie").expect("username"),
                password: Password::parse(PASSWORD).expect("password"),
                profile,
            })
            .await
            .expect("registered");
        assert!(!created.email_verified);
        let all = issued.all();
        assert_eq!(all.len(), mails);
        if let Some((token, entry, _)) = all.first() {
            assert_eq!(token.purpose, EmailPurpose::VerifyEmail);
            assert_eq!(token.user_id, created.id);
            assert_eq!(entry.mail.to, "new@example.com");
        }
    }
}

#[test]
fn changing_the_email_clears_its_verification_and_respelling_it_does_not() {
    let change = |raw: &str| ProfileChanges {
        email: Change::Set(email(raw)),
        ..ProfileChanges::default()
    };
    let mut u = user();
    change("ALICE@example.com").apply(&mut u).expect("apply");
    assert!(u.email_verified, "the same address, spelt otherwise");
    change("alice@elsewhere.example")
        .apply(&mut u)
        .expect("apply");
    assert!(!u.email_verified);
    let mut u = user();
    ProfileChanges {
        email: Change::Clear,
        ..ProfileChanges::default()
    }
    .apply(&mut u)
    .expect("apply");
    assert!(!u.email_verified);
    // An admin may set an address and its verification at once, but never verify no address.
    let mut u = unverified();
    UserChanges::profile(change("import@example.com"))
        .with_email_verified(true)
        .apply(&mut u)
        .expect("apply");
    assert!(u.email_verified);
    let mut u = User {
        email: None,
        ..unverified()
    };
    UserChanges::default()
        .with_email_verified(true)
        .apply(&mut u)
        .expect("apply");
    assert!(!u.email_verified);
}

#[tokio::test]
async fn an_email_change_queues_a_verification_of_the_new_address_only() {
    let (tokens, issued) = recording_tokens(Issued::Queued);
    let m = mailer(namespaces_with(shop()), tokens);
    let before = user();
    let respelt = User {
        email: Some("ALICE@EXAMPLE.COM".into()),
        ..user()
    };
    m.after_email_change(&before, &respelt).await.expect("ok");
    let admin_verified = User {
        email: Some("other@example.com".into()),
        ..user()
    };
    m.after_email_change(&before, &admin_verified)
        .await
        .expect("ok");
    assert_eq!(issued.all().len(), 0);
    let changed = User {
        email: Some("new@example.com".into()),
        ..unverified()
    };
    m.after_email_change(&before, &changed).await.expect("ok");
    assert_eq!(issued.only().1.mail.to, "new@example.com");
}

fn queued(id: u128, attempts: u32) -> OutboxMail {
    OutboxMail {
        id: Uuid::from_u128(id),
        namespace: NS.into(),
        mail: Mail {
            from_name: Some("Shop".into()),
            from_address: FROM.into(),
            to: "alice@example.com".into(),
            subject: "s".into(),
            text_body: "t".into(),
            html_body: "h".into(),
        },
        status: OutboxStatus::Queued,
        attempts,
        next_attempt_at: t0(),
        last_error: None,
        created_at: t0(),
        sent_at: None,
    }
}

#[test]
fn backoff_doubles_from_its_base_up_to_its_cap() {
    let policy = DeliveryPolicy {
        backoff_base_secs: 10,
        backoff_max_secs: 100,
        ..DeliveryPolicy::default()
    };
    let waits: Vec<i64> = (1..=6).map(|n| policy.backoff(n).num_seconds()).collect();
    assert_eq!(waits, vec![10, 20, 40, 80, 100, 100]);
    assert_eq!(policy.backoff(u32::MAX).num_seconds(), 100);
}

#[tokio::test]
async fn delivery_records_each_outcome_under_its_claim_with_backoff() {
    let policy = DeliveryPolicy {
        batch: 7,
        lease_secs: 120,
        max_attempts: 3,
        backoff_base_secs: 10,
        backoff_max_secs: 1000,
    };
    let claim = generated_id(1);
    let mut outbox = MockMailOutbox::new();
    outbox
        .expect_claim()
        .withf(move |c, now, lease, limit| {
            *c == claim && *now == t0() && *lease == t0() + secs(120) && *limit == 7
        })
        .times(1)
        .returning(|_, _, _, _| Ok(vec![queued(1, 1), queued(2, 2), queued(3, 3), queued(4, 1)]));
    outbox
        .expect_record_sent()
        .withf(move |id, c, now| *id == Uuid::from_u128(1) && *c == claim && *now == t0())
        .times(1)
        .returning(|_, _, _| Ok(true));
    let failures = Recorder::new();
    let rec = failures.clone();
    outbox
        .expect_record_failure()
        .returning(move |id, c, error, retry_at| {
            assert_eq!(c, claim);
            rec.record((id.as_u128(), error.to_owned(), retry_at));
            Ok(true)
        });
    let mut transport = MockMailTransport::new();
    transport
        .expect_send()
        .times(4)
        .returning(|id, _| match id.as_u128() {
            1 => Ok(()),
            4 => Err(DeliveryError {
                message: "550 no such mailbox".into(),
                permanent: true,
            }),
            _ => Err(DeliveryError {
                message: "connection refused".into(),
                permanent: false,
            }),
        });
    let sender = OutboxSender::new(
        Arc::new(outbox),
        Arc::new(transport),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
        policy,
    );
    let report = sender.deliver_due().await.expect("delivered");
    assert_eq!((report.sent, report.retried, report.failed), (1, 1, 2));
    let recorded = failures.all();
    assert_eq!(
        recorded,
        vec![
            (2, "connection refused".to_owned(), Some(t0() + secs(20))),
            // The last attempt: given up.
            (3, "connection refused".to_owned(), None),
            // Refused by the server: retrying would not help.
            (4, "550 no such mailbox".to_owned(), None),
        ]
    );
}
