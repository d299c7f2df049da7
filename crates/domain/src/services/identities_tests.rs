//! External issuers' tokens and users: which token goes where, first sight, races, and how a
//! path's `{user_id}` is resolved, against mocked ports.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::identities::IdentityService;
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{ExternalIssuer, ExternalIssuers, IdentityLink, Principal, User};
use crate::ports::{
    ExternalTokenRefusal, MockExternalTokenVerifier, MockIdentityLinkRepository, MockUserRepository,
};

const IDP: &str = "https://idp.example.com/";

fn issuers() -> ExternalIssuers {
    ExternalIssuers::new(vec![ExternalIssuer {
        issuer: IDP.into(),
        audience: None,
        namespace: NS.into(),
        username_claim: None,
        email_claim: None,
    }])
    .unwrap_or_default()
}

/// A token whose payload says `iss`; the mocked verifier never reads its signature.
fn token(iss: &str) -> String {
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.sig",
        enc(json!({"alg": "RS256"})),
        enc(json!({"iss": iss}))
    )
}

fn claims(sub: &str) -> Map<String, Value> {
    json!({"iss": IDP, "sub": sub})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn verifier(answer: Result<Map<String, Value>, ExternalTokenRefusal>) -> MockExternalTokenVerifier {
    let mut v = MockExternalTokenVerifier::new();
    v.expect_verify().returning(move |_, _| answer.clone());
    v
}

fn service(
    links: MockIdentityLinkRepository,
    users: MockUserRepository,
    verifier: MockExternalTokenVerifier,
) -> IdentityService {
    IdentityService::new(
        issuers(),
        Arc::new(links),
        Arc::new(users),
        Arc::new(verifier),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
    )
}

fn link_to(user: &User, sub: &str) -> IdentityLink {
    IdentityLink {
        issuer: IDP.into(),
        subject: sub.into(),
        user_id: user.id,
        namespace: user.namespace.clone(),
        created_at: t0(),
    }
}

#[tokio::test]
async fn our_own_tokens_are_left_to_our_verification_and_strangers_are_refused() {
    let s = service(
        MockIdentityLinkRepository::new(),
        MockUserRepository::new(),
        MockExternalTokenVerifier::new(),
    );
    assert!(matches!(
        s.authenticate(&token("user-service"), "user-service").await,
        Ok(None)
    ));
    assert!(matches!(
        s.authenticate("not-a-jwt", "user-service").await,
        Ok(None)
    ));
    assert!(matches!(
        s.authenticate(&token("https://stranger.example/"), "user-service")
            .await,
        Err(DomainError::TokenInvalid)
    ));
}

#[tokio::test]
async fn refusals_of_the_verifier_are_401_or_503() {
    for (refusal, expected) in [
        (ExternalTokenRefusal::Expired, "TokenExpired"),
        (ExternalTokenRefusal::UnknownKey, "TokenInvalid"),
        (ExternalTokenRefusal::Invalid, "TokenInvalid"),
        (ExternalTokenRefusal::Unavailable, "Unavailable"),
    ] {
        let s = service(
            MockIdentityLinkRepository::new(),
            MockUserRepository::new(),
            verifier(Err(refusal)),
        );
        let err = s.authenticate(&token(IDP), "user-service").await.err();
        assert!(
            format!("{err:?}").starts_with(&format!("Some({expected}")),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_linked_identity_is_its_user_and_a_deactivated_one_is_stale() {
    let alice = user();
    let mut links = MockIdentityLinkRepository::new();
    let link = link_to(&alice, "auth0|1");
    links
        .expect_find()
        .returning(move |_, _| Ok(Some(link.clone())));
    let mut users = MockUserRepository::new();
    let found = alice.clone();
    users
        .expect_get()
        .returning(move |_, _| Ok(Some(found.clone())));
    let s = service(links, users, verifier(Ok(claims("auth0|1"))));
    let got = s.authenticate(&token(IDP), "user-service").await;
    assert_eq!(got.ok().flatten().map(|u| u.id), Some(alice.id));

    let mut links = MockIdentityLinkRepository::new();
    let link = link_to(&alice, "auth0|1");
    links
        .expect_find()
        .returning(move |_, _| Ok(Some(link.clone())));
    let mut users = MockUserRepository::new();
    let inactive = User {
        is_active: false,
        ..alice
    };
    users
        .expect_get()
        .returning(move |_, _| Ok(Some(inactive.clone())));
    let s = service(links, users, verifier(Ok(claims("auth0|1"))));
    assert!(matches!(
        s.authenticate(&token(IDP), "user-service").await,
        Err(DomainError::TokenStale)
    ));
}

#[tokio::test]
async fn first_sight_creates_the_user_under_a_suffixed_name_when_its_own_is_taken() {
    let mut links = MockIdentityLinkRepository::new();
    links.expect_find().returning(|_, _| Ok(None));
    let mut tried = Vec::new();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    links.expect_create_linked().returning(move |user, link| {
        assert_eq!((link.user_id, link.subject.as_str()), (user.id, "auth0|1"));
        assert_eq!(
            (user.password_hash.as_deref(), user.namespace.as_str()),
            (None, NS)
        );
        tx.send(user.username.clone()).ok();
        if user.username == "auth0_1" {
            Err(DomainError::UsernameTaken {
                namespace: NS.into(),
                username: user.username.clone(),
            })
        } else {
            Ok(true)
        }
    });
    let s = service(
        links,
        MockUserRepository::new(),
        verifier(Ok(claims("auth0|1"))),
    );
    let created = s
        .authenticate(&token(IDP), "user-service")
        .await
        .ok()
        .flatten();
    tried.extend(rx.try_iter());
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert_eq!(tried[0], "auth0_1");
    assert!(tried[1].starts_with("auth0_1-"), "{tried:?}");
    assert_eq!(created.map(|u| u.username), Some(tried[1].clone()));
}

#[tokio::test]
async fn a_first_sight_that_loses_a_race_takes_the_winners_user() {
    let winner = user();
    let mut links = MockIdentityLinkRepository::new();
    let mut seen = 0;
    let link = link_to(&winner, "auth0|1");
    links.expect_find().returning(move |_, _| {
        seen += 1;
        Ok((seen > 1).then(|| link.clone()))
    });
    links
        .expect_create_linked()
        .times(1)
        .returning(|_, _| Ok(false));
    let mut users = MockUserRepository::new();
    let found = winner.clone();
    users
        .expect_get()
        .returning(move |_, _| Ok(Some(found.clone())));
    let s = service(links, users, verifier(Ok(claims("auth0|1"))));
    let got = s.authenticate(&token(IDP), "user-service").await;
    assert_eq!(got.ok().flatten().map(|u| u.id), Some(winner.id));
}

#[tokio::test]
async fn paths_name_users_by_id_or_by_a_subject_of_the_callers_namespace() {
    let alice = user();
    let mut links = MockIdentityLinkRepository::new();
    let link = link_to(&alice, "auth0|1");
    links.expect_find_in_namespace().returning(move |ns, sub| {
        Ok(if ns == NS && sub == "auth0|1" {
            vec![link.clone()]
        } else {
            vec![]
        })
    });
    let s = service(
        links,
        MockUserRepository::new(),
        MockExternalTokenVerifier::new(),
    );
    let shop = service_of(NS);
    let other = service_of(OTHER_NS);
    let id = Uuid::from_u128(7);
    assert_eq!(
        s.resolve_user(&shop, "auth0|1", "user_id").await.ok(),
        Some(alice.id)
    );
    assert_eq!(
        s.resolve_user(&shop, &id.to_string(), "user_id").await.ok(),
        Some(id)
    );
    assert!(matches!(
        s.resolve_user(&shop, "auth0|2", "user_id").await,
        Err(DomainError::UserNotFound)
    ));
    assert!(matches!(
        s.resolve_user(&shop, "a\u{7}", "user_id").await,
        Err(DomainError::Validation(_))
    ));
    // A namespace without issuers takes our ids only, and never looks anything up.
    assert!(matches!(
        s.resolve_user(&other, "auth0|1", "user_id").await,
        Err(DomainError::Validation(_))
    ));
    assert_eq!(
        s.resolve_user(&other, &id.to_string(), "id").await.ok(),
        Some(id)
    );
    // The caller's own id needs no lookup either.
    let me = Principal::User(alice.clone());
    assert_eq!(
        s.resolve_user(&me, &alice.id.to_string(), "user_id")
            .await
            .ok(),
        Some(alice.id)
    );
}
