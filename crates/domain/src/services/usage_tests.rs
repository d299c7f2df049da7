//! `UsageService`: validation before storage, batches all or nothing, the access rule.

use std::sync::Arc;

use super::UsageService;
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{Credits, NewUsageRecord, Principal, UsageEvent, UsageInput, UsageRecord};
use crate::ports::{MockSessionRepository, MockUsageRepository, MockUserRepository};

fn stored(r: &NewUsageRecord, id: i64) -> UsageRecord {
    UsageRecord {
        id,
        user_id: r.user_id,
        namespace: r.namespace.clone(),
        event: r.event.clone(),
        created_at: r.created_at,
    }
}

fn service(usage: MockUsageRepository) -> UsageService {
    UsageService::new(
        Arc::new(MockUserRepository::new()),
        Arc::new(usage),
        Arc::new(MockSessionRepository::new()),
        Arc::new(fixed_clock()),
    )
}

fn input(kind: &str) -> UsageInput {
    UsageInput {
        event_type: Some(kind.into()),
        ..UsageInput::default()
    }
}

#[tokio::test]
async fn record_stores_the_validated_event_now() {
    let recorded = Recorder::new();
    let rec = recorded.clone();
    let mut usage = MockUsageRepository::new();
    usage.expect_insert().times(1).returning(move |r| {
        rec.record(r.clone());
        Ok(stored(r, 7))
    });
    let owner = user().id.to_string();
    let r = service(usage)
        .record(
            &Principal::User(user()),
            user().id,
            UsageInput {
                user_id: Some(owner),
                credits_charged: Some(Credits::from_millionths(570_000)),
                tokens_used: Some(57.into()),
                model_name: Some("gpt-4".into()),
                ..input("memory_storage")
            },
        )
        .await
        .expect("recorded");
    assert_eq!(r.id, 7);
    assert_eq!(
        recorded.only(),
        NewUsageRecord {
            user_id: user().id,
            namespace: NS.into(),
            event: UsageEvent {
                event_type: "memory_storage".into(),
                credits_charged: Credits::from_millionths(570_000),
                tokens_used: 57,
                model_name: Some("gpt-4".into()),
                ..UsageEvent::default()
            },
            created_at: t0(),
        }
    );
}

#[tokio::test]
async fn invalid_events_never_reach_storage() {
    let r = service(MockUsageRepository::new())
        .record(
            &Principal::User(user()),
            user().id,
            UsageInput {
                user_id: Some("someone-else".into()),
                cost_usd: Some(Credits::from_millionths(-1)),
                completion_tokens: Some((-1).into()),
                metadata: Some(serde_json::json!(3)),
                ..UsageInput::default()
            },
        )
        .await;
    assert_eq!(
        validation_fields(r),
        [
            "user_id",
            "event_type",
            "cost_usd",
            "completion_tokens",
            "metadata"
        ]
    );
}

#[tokio::test]
async fn batches_are_bounded_and_validated_whole() {
    let s = service(MockUsageRepository::new());
    let me = Principal::User(user());
    let r = s.record_batch(&me, user().id, vec![]).await;
    assert_eq!(validation_fields(r), ["records"]);
    let r = s.record_batch(&me, user().id, vec![input("x"); 1001]).await;
    assert_eq!(validation_fields(r), ["records"]);
    let r = s
        .record_batch(&me, user().id, vec![input("ok"), input(" "), input("ok")])
        .await;
    assert_eq!(validation_fields(r), ["records[1].event_type"]);

    let mut usage = MockUsageRepository::new();
    usage
        .expect_insert_batch()
        .withf(|rs| {
            rs.len() == 1000 && rs.iter().all(|r| r.created_at == t0() && r.namespace == NS)
        })
        .times(1)
        .returning(|rs| {
            Ok(rs
                .iter()
                .enumerate()
                .map(|(i, r)| stored(r, i as i64 + 1))
                .collect())
        });
    let stored = service(usage)
        .record_batch(&me, user().id, vec![input("x"); 1000])
        .await
        .expect("batch");
    assert_eq!(stored.len(), 1000);
}

#[tokio::test]
async fn others_see_no_user() {
    let bob = crate::model::User {
        id: uuid::Uuid::from_u128(0xb0b),
        ..user()
    };
    let s = service(MockUsageRepository::new());
    let r = s
        .record(&Principal::User(bob.clone()), user().id, input("x"))
        .await;
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
    let mut users = MockUserRepository::new();
    users
        .expect_get()
        .withf(|ns, _| ns == OTHER_NS)
        .returning(|_, _| Ok(None));
    let s = UsageService::new(
        Arc::new(users),
        Arc::new(MockUsageRepository::new()),
        Arc::new(MockSessionRepository::new()),
        Arc::new(fixed_clock()),
    );
    let r = s
        .stats(&service_of(OTHER_NS), user().id, Default::default())
        .await;
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
}
