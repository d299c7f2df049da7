//! `SessionRepository`: create, get within a namespace, list, status, messages in order.

use chrono::Duration;
use serde_json::json;
use user_service_db::{Database, DieselSessions};
use user_service_domain::DomainError;
use user_service_domain::model::{
    Credits, JsonObject, MessageInput, MessageRole, NewSession, PageRequest, SessionStatus, User,
};
use user_service_domain::ports::SessionRepository;
use uuid::Uuid;

use crate::support::{namespace_with_user, now};

contract!(
    create_then_get_round_trips,
    get_is_scoped_to_the_namespace,
    list_is_newest_first_with_active_only,
    set_status_changes_status_and_updated_at,
    messages_are_stored_oldest_first_and_touch_the_session,
);

fn new_session(user: &User, title: &str, at: chrono::DateTime<chrono::Utc>) -> NewSession {
    NewSession {
        session_id: Uuid::now_v7(),
        user_id: user.id,
        namespace: user.namespace.clone(),
        title: Some(title.to_owned()),
        metadata: JsonObject::parse(json!({"source": "web_app"})).expect("object"),
        created_at: at,
    }
}

fn message(role: MessageRole, content: &str) -> MessageInput {
    MessageInput {
        role,
        content: content.to_owned(),
        message_type: Some("chat".into()),
        tokens_used: 10,
        cost_usd: Credits::from_millionths(1_000),
        metadata: Some(JsonObject::parse(json!({"k": 1})).expect("object")),
    }
}

async fn create_then_get_round_trips(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselSessions::new(db);
    let new = new_session(&alice, "Chat", now());
    let s = repo.create(&new).await.expect("create");
    assert_eq!(
        (
            s.session_id,
            s.user_id,
            s.title.clone(),
            s.metadata.clone(),
            s.status,
            s.created_at,
            s.updated_at
        ),
        (
            new.session_id,
            alice.id,
            new.title.clone(),
            new.metadata.clone(),
            SessionStatus::Active,
            new.created_at,
            new.created_at
        )
    );
    assert_eq!(
        repo.get("acme", new.session_id).await.expect("get"),
        Some(s)
    );
    assert_eq!(repo.get("acme", Uuid::now_v7()).await.expect("get"), None);
}

async fn get_is_scoped_to_the_namespace(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselSessions::new(db);
    let s = repo
        .create(&new_session(&alice, "t", now()))
        .await
        .expect("create");
    assert_eq!(repo.get("other", s.session_id).await.expect("get"), None);
}

async fn list_is_newest_first_with_active_only(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselSessions::new(db);
    let t0 = now() - Duration::minutes(10);
    let mut ids = Vec::new();
    for (i, title) in ["one", "two", "three"].iter().enumerate() {
        ids.push(
            repo.create(&new_session(
                &alice,
                title,
                t0 + Duration::minutes(i as i64),
            ))
            .await
            .expect("create")
            .session_id,
        );
    }
    repo.set_status(ids[2], SessionStatus::Archived, now())
        .await
        .expect("status");
    let all = repo
        .list(alice.id, false, PageRequest::default())
        .await
        .expect("list");
    let titles: Vec<_> = all
        .items
        .iter()
        .map(|s| s.title.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        (all.total, titles),
        (3, vec!["three".to_owned(), "two".into(), "one".into()])
    );
    let active = repo
        .list(
            alice.id,
            true,
            PageRequest {
                offset: 1,
                limit: 5,
            },
        )
        .await
        .expect("list");
    let titles: Vec<_> = active
        .items
        .iter()
        .map(|s| s.title.clone().unwrap_or_default())
        .collect();
    assert_eq!((active.total, titles), (2, vec!["one".to_owned()]));
}

async fn set_status_changes_status_and_updated_at(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselSessions::new(db);
    let s = repo
        .create(&new_session(&alice, "t", now() - Duration::hours(1)))
        .await
        .expect("create");
    let at = now();
    let updated = repo
        .set_status(s.session_id, SessionStatus::Completed, at)
        .await
        .expect("status")
        .expect("exists");
    assert_eq!(
        (updated.status, updated.updated_at, updated.created_at),
        (SessionStatus::Completed, at, s.created_at)
    );
    assert_eq!(
        repo.set_status(Uuid::now_v7(), SessionStatus::Error, at)
            .await
            .expect("status"),
        None
    );
}

async fn messages_are_stored_oldest_first_and_touch_the_session(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselSessions::new(db);
    let s = repo
        .create(&new_session(&alice, "t", now() - Duration::hours(1)))
        .await
        .expect("create");
    let at = now();
    let first = repo
        .add_message(
            s.session_id,
            &message(MessageRole::User, "hello ünïcode"),
            at,
        )
        .await
        .expect("add");
    assert_eq!(
        (first.session_id, &first.message, first.created_at),
        (
            s.session_id,
            &message(MessageRole::User, "hello ünïcode"),
            at
        )
    );
    repo.add_message(s.session_id, &message(MessageRole::Assistant, "hi"), at)
        .await
        .expect("add");
    repo.add_message(s.session_id, &message(MessageRole::Tool, "42"), at)
        .await
        .expect("add");
    let page = repo
        .messages(
            s.session_id,
            PageRequest {
                offset: 1,
                limit: 5,
            },
        )
        .await
        .expect("messages");
    let roles: Vec<_> = page.items.iter().map(|m| m.message.role).collect();
    assert_eq!(
        (page.total, roles),
        (3, vec![MessageRole::Assistant, MessageRole::Tool])
    );
    let touched = repo
        .get("acme", s.session_id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(touched.updated_at, at);
    let missing = repo
        .add_message(Uuid::now_v7(), &message(MessageRole::User, "x"), at)
        .await;
    assert!(
        matches!(missing, Err(DomainError::SessionNotFound)),
        "{missing:?}"
    );
}
