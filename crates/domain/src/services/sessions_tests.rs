//! `SessionService`: creation, and sessions of others answered as `SessionNotFound`.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use super::SessionService;
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{
    JsonObject, MessageDraft, NewSession, Principal, Session, SessionInput, SessionStatus, User,
};
use crate::ports::{MockSessionRepository, MockUserRepository};

fn session_of(owner: &User) -> Session {
    Session {
        id: 1,
        session_id: Uuid::from_u128(0x5e55),
        user_id: owner.id,
        namespace: owner.namespace.clone(),
        title: None,
        metadata: JsonObject::default(),
        status: SessionStatus::Active,
        created_at: t0(),
        updated_at: t0(),
    }
}

fn service(sessions: MockSessionRepository) -> SessionService {
    SessionService::new(
        Arc::new(MockUserRepository::new()),
        Arc::new(sessions),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
    )
}

#[tokio::test]
async fn create_stores_a_new_active_session() {
    let recorded = Recorder::new();
    let rec = recorded.clone();
    let mut sessions = MockSessionRepository::new();
    sessions.expect_create().times(1).returning(move |s| {
        rec.record(s.clone());
        Ok(session_of(&user()))
    });
    service(sessions)
        .create(
            &Principal::User(user()),
            user().id,
            SessionInput {
                user_id: Some(user().id.to_string()),
                title: Some("Terminal".into()),
                metadata: Some(json!({"source": "terminal_service"})),
            },
        )
        .await
        .expect("created");
    assert_eq!(
        recorded.only(),
        NewSession {
            session_id: generated_id(1),
            user_id: user().id,
            namespace: NS.into(),
            title: Some("Terminal".into()),
            metadata: JsonObject::parse(json!({"source": "terminal_service"})).expect("object"),
            created_at: t0(),
        }
    );
}

#[tokio::test]
async fn create_validates_before_anything() {
    let r = service(MockSessionRepository::new())
        .create(
            &Principal::User(user()),
            user().id,
            SessionInput {
                user_id: Some(Uuid::nil().to_string()),
                title: Some("t".repeat(501)),
                metadata: Some(json!([])),
            },
        )
        .await;
    assert_eq!(validation_fields(r), ["user_id", "title", "metadata"]);
}

#[tokio::test]
async fn sessions_of_others_do_not_exist() {
    let bob = User {
        id: Uuid::from_u128(0xb0b),
        ..user()
    };
    for caller in [Principal::User(bob), Principal::Operator] {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_get()
            .returning(|_, _| Ok(Some(session_of(&user()))));
        let s = service(sessions);
        let r = s.get(&caller, Uuid::from_u128(0x5e55)).await;
        assert!(matches!(r, Err(DomainError::SessionNotFound)), "{r:?}");
        let r = s
            .set_status(&caller, Uuid::from_u128(0x5e55), SessionStatus::Archived)
            .await;
        assert!(matches!(r, Err(DomainError::SessionNotFound)), "{r:?}");
    }
    // The namespace is part of the lookup, so another namespace's key finds nothing.
    let mut sessions = MockSessionRepository::new();
    sessions
        .expect_get()
        .withf(|ns, _| ns == OTHER_NS)
        .returning(|_, _| Ok(None));
    let r = service(sessions)
        .get(&service_of(OTHER_NS), Uuid::from_u128(0x5e55))
        .await;
    assert!(matches!(r, Err(DomainError::SessionNotFound)), "{r:?}");
}

#[tokio::test]
async fn the_owner_admin_and_service_reach_the_session() {
    for caller in [
        Principal::User(user()),
        Principal::User(admin_of(NS)),
        service_of(NS),
    ] {
        let mut sessions = MockSessionRepository::new();
        sessions
            .expect_get()
            .returning(|_, _| Ok(Some(session_of(&user()))));
        sessions
            .expect_set_status()
            .withf(|_, st, at| *st == SessionStatus::Completed && *at == t0())
            .returning(|_, st, _| {
                Ok(Some(Session {
                    status: st,
                    ..session_of(&user())
                }))
            });
        let s = service(sessions)
            .set_status(&caller, Uuid::from_u128(0x5e55), SessionStatus::Completed)
            .await
            .expect("allowed");
        assert_eq!(s.status, SessionStatus::Completed);
    }
}

#[test]
fn messages_validate_role_content_and_numbers() {
    let r = MessageDraft {
        role: "bot".into(),
        content: "x".repeat(1024 * 1024 + 1),
        message_type: Some(String::new()),
        tokens_used: Some((-1).into()),
        cost_usd: Some(crate::model::Credits::from_millionths(-1)),
        metadata: Some(json!("no")),
    }
    .validate();
    assert_eq!(
        validation_fields(r),
        [
            "role",
            "content",
            "message_type",
            "tokens_used",
            "cost_usd",
            "metadata"
        ]
    );
    let ok = MessageDraft {
        role: "tool".into(),
        content: "42".into(),
        ..MessageDraft::default()
    }
    .validate();
    assert!(ok.is_ok());
}
