//! `EmailTokenRepository` and `MailOutbox`, and the email parts of `UserRepository` and
//! `NamespaceRepository`.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use user_service_db::{Database, DieselEmailTokens, DieselNamespaces, DieselOutbox, DieselUsers};
use user_service_domain::model::{
    Change, Email, EmailPurpose, EmailToken, Issued, LinkUrl, Mail, MailQuota, NamespaceChanges,
    NamespaceSettings, OutboxCounts, OutboxMail, OutboxStatus, User, UserChanges,
};
use user_service_domain::ports::{
    EmailTokenRepository, MailOutbox, NamespaceRepository, UserRepository,
};
use uuid::Uuid;

use crate::support::{create_namespace, namespace_with_user, now};

contract!(
    a_token_and_its_mail_are_stored_together,
    a_failed_mail_write_stores_no_token_and_replaces_nothing,
    a_newer_token_replaces_the_older_of_its_purpose_only,
    a_token_is_used_once_and_never_after_expiry_or_for_another_purpose,
    the_quota_counts_mails_of_one_purpose_to_one_address_in_the_window,
    a_claim_leases_due_mails_and_only_its_holder_records_them,
    a_failure_is_retried_at_its_time_and_the_last_one_fails_the_mail,
    concurrent_claims_never_take_one_mail_twice,
    verify_email_marks_only_the_address_the_link_went_to,
    an_email_change_clears_verification_in_the_same_write,
    namespace_settings_are_updated_field_by_field,
);

fn token(user: &User, purpose: EmailPurpose, hash: &str, at: DateTime<Utc>) -> EmailToken {
    EmailToken {
        token_hash: hash.to_owned(),
        purpose,
        user_id: user.id,
        namespace: user.namespace.clone(),
        email: user.email.clone().expect("fixture user has an email"),
        created_at: at,
        expires_at: at + Duration::minutes(30),
        used_at: None,
    }
}

fn mail(user: &User, subject: &str, at: DateTime<Utc>) -> OutboxMail {
    OutboxMail {
        id: Uuid::now_v7(),
        namespace: user.namespace.clone(),
        mail: Mail {
            from_name: Some("The \"acme\" app".into()),
            from_address: "no-reply@example.com".into(),
            to: user.email.clone().expect("fixture user has an email"),
            subject: subject.to_owned(),
            text_body: format!("text of {subject}: ünïcode"),
            html_body: format!("<p>html of {subject}</p>"),
        },
        status: OutboxStatus::Queued,
        attempts: 0,
        next_attempt_at: at,
        last_error: None,
        created_at: at,
        sent_at: None,
    }
}

fn quota(at: DateTime<Utc>) -> MailQuota {
    MailQuota {
        max: 3,
        since: at - Duration::hours(1),
    }
}

async fn issue(
    tokens: &DieselEmailTokens,
    user: &User,
    purpose: EmailPurpose,
    hash: &str,
    at: DateTime<Utc>,
) -> Issued {
    tokens
        .issue(
            &token(user, purpose, hash, at),
            &mail(user, hash, at),
            quota(at),
        )
        .await
        .expect("issue")
}

async fn a_token_and_its_mail_are_stored_together(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db.clone());
    let outbox = DieselOutbox::new(db);
    let at = now();
    let t = token(&alice, EmailPurpose::PasswordReset, "h1", at);
    let m = mail(&alice, "reset", at);
    assert_eq!(
        tokens.issue(&t, &m, quota(at)).await.expect("issue"),
        Issued::Queued
    );
    let claimed = outbox
        .claim(Uuid::now_v7(), at, at + Duration::minutes(5), 10)
        .await
        .expect("claim");
    assert_eq!(
        claimed,
        vec![OutboxMail {
            attempts: 1,
            next_attempt_at: at + Duration::minutes(5),
            ..m
        }]
    );
    let used = tokens
        .consume("h1", EmailPurpose::PasswordReset, at)
        .await
        .expect("consume");
    assert_eq!(
        used,
        Some(EmailToken {
            used_at: Some(at),
            ..t
        })
    );
}

async fn a_failed_mail_write_stores_no_token_and_replaces_nothing(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db.clone());
    let at = now();
    let first_mail = mail(&alice, "first", at);
    tokens
        .issue(
            &token(&alice, EmailPurpose::VerifyEmail, "first", at),
            &first_mail,
            quota(at),
        )
        .await
        .expect("issue");
    // A mail whose id is taken cannot be stored: the token of the same issue must not be either,
    // and the older token must not have been replaced.
    let clash = OutboxMail {
        id: first_mail.id,
        ..mail(&alice, "second", at)
    };
    let failed = tokens
        .issue(
            &token(&alice, EmailPurpose::VerifyEmail, "second", at),
            &clash,
            quota(at),
        )
        .await;
    assert!(failed.is_err(), "{failed:?}");
    let consume = |hash: &'static str| tokens.consume(hash, EmailPurpose::VerifyEmail, at);
    assert_eq!(consume("second").await.expect("consume"), None);
    assert!(consume("first").await.expect("consume").is_some());
}

async fn a_newer_token_replaces_the_older_of_its_purpose_only(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db);
    let at = now();
    issue(&tokens, &alice, EmailPurpose::PasswordReset, "r1", at).await;
    issue(&tokens, &alice, EmailPurpose::VerifyEmail, "v1", at).await;
    issue(&tokens, &alice, EmailPurpose::PasswordReset, "r2", at).await;
    let use_ = |hash: &'static str, purpose| tokens.consume(hash, purpose, at);
    assert_eq!(
        use_("r1", EmailPurpose::PasswordReset)
            .await
            .expect("consume"),
        None
    );
    assert!(
        use_("v1", EmailPurpose::VerifyEmail)
            .await
            .expect("consume")
            .is_some()
    );
    assert!(
        use_("r2", EmailPurpose::PasswordReset)
            .await
            .expect("consume")
            .is_some()
    );
}

async fn a_token_is_used_once_and_never_after_expiry_or_for_another_purpose(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db);
    let at = now();
    issue(&tokens, &alice, EmailPurpose::PasswordReset, "r", at).await;
    issue(&tokens, &alice, EmailPurpose::VerifyEmail, "v", at).await;
    // Another purpose: nothing, and the token stays usable for its own.
    assert_eq!(
        tokens
            .consume("r", EmailPurpose::VerifyEmail, at)
            .await
            .expect("consume"),
        None
    );
    // Expired (its 30 minutes are over): nothing.
    assert_eq!(
        tokens
            .consume("v", EmailPurpose::VerifyEmail, at + Duration::minutes(30))
            .await
            .expect("consume"),
        None
    );
    assert_eq!(
        tokens
            .consume("unknown", EmailPurpose::PasswordReset, at)
            .await
            .expect("consume"),
        None
    );
    // Two uses at once: exactly one gets it.
    let (a, b) = tokio::join!(
        tokens.consume("r", EmailPurpose::PasswordReset, at),
        tokens.consume("r", EmailPurpose::PasswordReset, at)
    );
    let got = [a.expect("consume"), b.expect("consume")];
    assert_eq!(got.iter().filter(|t| t.is_some()).count(), 1, "{got:?}");
    assert_eq!(
        tokens
            .consume("r", EmailPurpose::PasswordReset, at)
            .await
            .expect("consume"),
        None
    );
}

async fn the_quota_counts_mails_of_one_purpose_to_one_address_in_the_window(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db.clone());
    let outbox = DieselOutbox::new(db);
    let at = now();
    for n in 0..3 {
        let hash = format!("r{n}");
        assert_eq!(
            issue(&tokens, &alice, EmailPurpose::PasswordReset, &hash, at).await,
            Issued::Queued
        );
    }
    assert_eq!(
        issue(&tokens, &alice, EmailPurpose::PasswordReset, "r3", at).await,
        Issued::OverQuota
    );
    // Over the quota nothing was stored: the previous token is still the live one.
    assert!(
        tokens
            .consume("r2", EmailPurpose::PasswordReset, at)
            .await
            .expect("consume")
            .is_some()
    );
    // The other purpose has its own count.
    assert_eq!(
        issue(&tokens, &alice, EmailPurpose::VerifyEmail, "v0", at).await,
        Issued::Queued
    );
    // An hour after the first three, the window is free again.
    assert_eq!(
        issue(
            &tokens,
            &alice,
            EmailPurpose::PasswordReset,
            "later",
            at + Duration::minutes(61)
        )
        .await,
        Issued::Queued
    );
    assert_eq!(
        outbox.counts().await.expect("counts"),
        OutboxCounts {
            queued: 5,
            sent: 0,
            failed: 0
        }
    );
}

async fn a_claim_leases_due_mails_and_only_its_holder_records_them(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db.clone());
    let outbox = DieselOutbox::new(db);
    let at = now();
    issue(&tokens, &alice, EmailPurpose::PasswordReset, "now", at).await;
    issue(
        &tokens,
        &alice,
        EmailPurpose::VerifyEmail,
        "later",
        at + Duration::minutes(10),
    )
    .await;
    let lease = at + Duration::minutes(5);
    let first = Uuid::now_v7();
    let claimed = outbox.claim(first, at, lease, 10).await.expect("claim");
    assert_eq!(claimed.len(), 1, "only the mail due now");
    let id = claimed[0].id;
    // Leased: nobody else gets it before the lease ends...
    assert!(
        outbox
            .claim(Uuid::now_v7(), at + Duration::minutes(4), lease, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // ...and after it (its sender died) another claim takes it over, counting a second attempt.
    let second = Uuid::now_v7();
    let again = outbox
        .claim(second, lease, lease + Duration::minutes(5), 1)
        .await
        .expect("claim");
    assert_eq!(
        again.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(),
        vec![(id, 2)]
    );
    // The first sender's late word counts for nothing; the holder's does.
    assert!(!outbox.record_sent(id, first, lease).await.expect("record"));
    assert!(outbox.record_sent(id, second, lease).await.expect("record"));
    assert!(
        !outbox.record_sent(id, second, lease).await.expect("record"),
        "recorded once"
    );
    assert_eq!(
        outbox.counts().await.expect("counts"),
        OutboxCounts {
            queued: 1,
            sent: 1,
            failed: 0
        }
    );
    // A sent mail is never claimed again.
    let rest = outbox
        .claim(
            Uuid::now_v7(),
            at + Duration::hours(1),
            at + Duration::hours(2),
            10,
        )
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, id);
}

async fn a_failure_is_retried_at_its_time_and_the_last_one_fails_the_mail(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let tokens = DieselEmailTokens::new(db.clone());
    let outbox = DieselOutbox::new(db);
    let at = now();
    issue(&tokens, &alice, EmailPurpose::PasswordReset, "r", at).await;
    let claim = Uuid::now_v7();
    let id = outbox
        .claim(claim, at, at + Duration::minutes(5), 10)
        .await
        .expect("claim")[0]
        .id;
    let retry_at = at + Duration::seconds(20);
    assert!(
        outbox
            .record_failure(id, claim, "connection refused", Some(retry_at))
            .await
            .expect("record")
    );
    let lease = retry_at + Duration::minutes(5);
    assert!(
        outbox
            .claim(Uuid::now_v7(), retry_at - Duration::seconds(1), lease, 10)
            .await
            .expect("claim")
            .is_empty(),
        "not due before its retry time"
    );
    let claim2 = Uuid::now_v7();
    let retried = outbox
        .claim(claim2, retry_at, lease, 10)
        .await
        .expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 2);
    assert_eq!(retried[0].last_error.as_deref(), Some("connection refused"));
    let long = "x".repeat(5000);
    assert!(
        outbox
            .record_failure(id, claim2, &long, None)
            .await
            .expect("record")
    );
    assert_eq!(
        outbox.counts().await.expect("counts"),
        OutboxCounts {
            queued: 0,
            sent: 0,
            failed: 1
        }
    );
    assert!(
        outbox
            .claim(
                Uuid::now_v7(),
                at + Duration::days(1),
                at + Duration::days(2),
                10
            )
            .await
            .expect("claim")
            .is_empty(),
        "a failed mail is never claimed again"
    );
}

/// Four senders claim small batches at once until nothing is left: on PostgreSQL each on its own
/// connection with `SKIP LOCKED`, on SQLite one after the other behind the write lock. Every mail
/// is claimed by exactly one of them.
async fn concurrent_claims_never_take_one_mail_twice(db: Database) {
    create_namespace(&db, "acme").await;
    let users = DieselUsers::new(db.clone());
    let tokens = DieselEmailTokens::new(db.clone());
    let at = now();
    let mut expected = HashSet::new();
    for n in 0..40 {
        let u = User {
            id: Uuid::now_v7(),
            ..crate::support::user(
                "acme",
                &format!("user{n}"),
                Some(&format!("u{n}@example.com")),
            )
        };
        users.insert(&u).await.expect("insert");
        for purpose in [EmailPurpose::PasswordReset, EmailPurpose::VerifyEmail] {
            let t = token(&u, purpose, &format!("{n}-{}", purpose.as_str()), at);
            let m = mail(&u, "m", at);
            expected.insert(m.id);
            tokens.issue(&t, &m, quota(at)).await.expect("issue");
        }
    }
    let senders = (0..4).map(|_| {
        let outbox = DieselOutbox::new(db.clone());
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = outbox
                    .claim(Uuid::now_v7(), at, at + Duration::minutes(5), 3)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|m| m.id));
            }
        })
    });
    let mut seen = HashSet::new();
    let mut total = 0;
    for sender in senders.collect::<Vec<_>>() {
        for id in sender.await.expect("sender") {
            total += 1;
            assert!(seen.insert(id), "mail {id} claimed twice");
        }
    }
    assert_eq!(total, 80);
    assert_eq!(seen, expected);
}

async fn verify_email_marks_only_the_address_the_link_went_to(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let users = DieselUsers::new(db);
    let at = now();
    assert_eq!(
        users
            .verify_email("acme", alice.id, "old@example.com", at)
            .await
            .expect("verify"),
        None
    );
    assert_eq!(
        users
            .verify_email("other", alice.id, "alice@example.com", at)
            .await
            .expect("verify"),
        None
    );
    let verified = users
        .verify_email("acme", alice.id, "alice@example.com", at)
        .await
        .expect("verify")
        .expect("verified");
    assert!(verified.email_verified);
    assert_eq!(verified.updated_at, at);
    assert_eq!(
        users.get("acme", alice.id).await.expect("get"),
        Some(verified)
    );
    users
        .soft_delete("acme", alice.id, at)
        .await
        .expect("delete");
    assert_eq!(
        users
            .verify_email("acme", alice.id, "alice@example.com", at)
            .await
            .expect("verify"),
        None,
        "a deleted account verifies nothing"
    );
}

async fn an_email_change_clears_verification_in_the_same_write(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let users = DieselUsers::new(db);
    let at = now();
    users
        .verify_email("acme", alice.id, "alice@example.com", at)
        .await
        .expect("verify");
    let email = |raw: &str| Email::parse(raw).expect("email");
    let change = |raw: &str| {
        let mut c = UserChanges::default();
        c.profile.email = Change::Set(email(raw));
        c
    };
    let same = users
        .update("acme", alice.id, &change("ALICE@example.com"), at)
        .await
        .expect("update")
        .expect("user");
    assert!(same.email_verified, "the same address, spelt otherwise");
    let moved = users
        .update("acme", alice.id, &change("alice@elsewhere.example"), at)
        .await
        .expect("update")
        .expect("user");
    assert!(!moved.email_verified);
    let imported = users
        .update(
            "acme",
            alice.id,
            &change("import@example.com").with_email_verified(true),
            at,
        )
        .await
        .expect("update")
        .expect("user");
    assert!(imported.email_verified);
    assert_eq!(
        users.get("acme", alice.id).await.expect("get"),
        Some(imported)
    );
}

async fn namespace_settings_are_updated_field_by_field(db: Database) {
    let created = create_namespace(&db, "acme").await;
    let repo = DieselNamespaces::new(db);
    let url = |raw: &str| LinkUrl::parse(raw).expect("url");
    let first = NamespaceChanges {
        name: Change::Set("Acme Shop".into()),
        password_reset_url: Change::Set(url("https://acme.example/reset")),
        email_verify_url: Change::Set(url("http://localhost:3000/verify")),
        mail_from: Change::Set(Email::parse("hello@acme.example").expect("email")),
        require_verified_email: Some(true),
        ..NamespaceChanges::default()
    };
    let after = repo
        .update("acme", &first)
        .await
        .expect("update")
        .expect("namespace");
    let expected = user_service_domain::model::Namespace {
        name: Some("Acme Shop".into()),
        settings: NamespaceSettings {
            password_reset_url: Some("https://acme.example/reset".into()),
            email_verify_url: Some("http://localhost:3000/verify".into()),
            mail_from: Some("hello@acme.example".into()),
            require_verified_email: true,
        },
        ..created
    };
    assert_eq!(after, expected);
    // Only what a change names moves; `Clear` empties.
    let second = NamespaceChanges {
        description: Change::Clear,
        email_verify_url: Change::Clear,
        ..NamespaceChanges::default()
    };
    let after = repo
        .update("acme", &second)
        .await
        .expect("update")
        .expect("namespace");
    let expected = user_service_domain::model::Namespace {
        description: None,
        settings: NamespaceSettings {
            email_verify_url: None,
            ..expected.settings.clone()
        },
        ..expected
    };
    assert_eq!(after, expected);
    assert_eq!(repo.get("acme").await.expect("get"), Some(expected));
    assert_eq!(repo.update("nope", &second).await.expect("update"), None);
}
