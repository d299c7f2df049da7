//! `UsageRepository`: round trip, batches all or nothing, inclusive windows, exact stats.

use chrono::Duration;
use serde_json::json;
use user_service_db::{Database, DieselUsage};
use user_service_domain::model::{
    Credits, DateRange, JsonObject, NewUsageRecord, PageRequest, UsageEvent, User,
};
use user_service_domain::ports::UsageRepository;

use crate::support::{namespace_with_user, now};

contract!(
    insert_round_trips_every_field,
    a_batch_is_stored_in_order_or_not_at_all,
    history_is_newest_first_within_an_inclusive_window,
    stats_sum_exactly_within_the_window,
    stats_agree_with_the_records_for_any_window,
    totals_stop_at_the_largest_amount_instead_of_overflowing,
);

fn event(kind: &str, credits_micros: i64, model: Option<&str>) -> UsageEvent {
    UsageEvent {
        event_type: kind.to_owned(),
        credits_charged: Credits::from_millionths(credits_micros),
        cost_usd: Credits::from_millionths(credits_micros / 10),
        tokens_used: 10,
        model_name: model.map(str::to_owned),
        ..UsageEvent::default()
    }
}

fn record(user: &User, e: UsageEvent, at: chrono::DateTime<chrono::Utc>) -> NewUsageRecord {
    NewUsageRecord {
        user_id: user.id,
        namespace: user.namespace.clone(),
        event: e,
        created_at: at,
    }
}

async fn insert_round_trips_every_field(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsage::new(db);
    let full = UsageEvent {
        session_id: Some("s-1".into()),
        endpoint: Some("/api/chat".into()),
        event_type: "ai_chat".into(),
        credits_charged: Credits::from_millionths(5_000_001),
        cost_usd: Credits::from_millionths(10_000),
        tokens_used: 1500,
        prompt_tokens: 1000,
        completion_tokens: 500,
        model_name: Some("gpt-4".into()),
        provider: Some("openai".into()),
        tool_name: Some("chat".into()),
        operation_name: Some("generate".into()),
        metadata: Some(JsonObject::parse(json!({"ü": [1, {"x": null}]})).expect("object")),
    };
    let at = now();
    let stored = repo
        .insert(&record(&alice, full.clone(), at))
        .await
        .expect("insert");
    assert!(stored.id > 0);
    assert_eq!(
        (
            stored.user_id,
            stored.namespace.as_str(),
            &stored.event,
            stored.created_at
        ),
        (alice.id, "acme", &full, at)
    );
}

async fn a_batch_is_stored_in_order_or_not_at_all(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsage::new(db);
    let at = now();
    let batch: Vec<_> = (0..5)
        .map(|i| record(&alice, event(&format!("e{i}"), i, None), at))
        .collect();
    let stored = repo.insert_batch(&batch).await.expect("batch");
    let kinds: Vec<_> = stored.iter().map(|r| r.event.event_type.clone()).collect();
    assert_eq!(kinds, ["e0", "e1", "e2", "e3", "e4"]);
    assert!(stored.windows(2).all(|w| w[0].id < w[1].id));
    // A record of a user that does not exist fails the foreign key: nothing of the batch stays.
    let mut ghost = alice.clone();
    ghost.id = uuid::Uuid::now_v7();
    let bad = vec![
        record(&alice, event("x", 1, None), at),
        record(&ghost, event("y", 1, None), at),
    ];
    assert!(repo.insert_batch(&bad).await.is_err());
    let all = repo
        .history(alice.id, DateRange::default(), PageRequest::default())
        .await
        .expect("history");
    assert_eq!(all.total, 5);
}

async fn history_is_newest_first_within_an_inclusive_window(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let bob = crate::support::user("acme", "bob", None);
    crate::support::insert_user(&db, &bob).await;
    let repo = DieselUsage::new(db);
    let t0 = now() - Duration::hours(3);
    for h in 0..3 {
        repo.insert(&record(
            &alice,
            event(&format!("h{h}"), 1, None),
            t0 + Duration::hours(h),
        ))
        .await
        .expect("insert");
    }
    repo.insert(&record(&bob, event("bob", 1, None), t0))
        .await
        .expect("insert");
    let all = repo
        .history(alice.id, DateRange::default(), PageRequest::default())
        .await
        .expect("history");
    let kinds: Vec<_> = all
        .items
        .iter()
        .map(|r| r.event.event_type.clone())
        .collect();
    assert_eq!(
        (all.total, kinds),
        (3, vec!["h2".to_owned(), "h1".into(), "h0".into()])
    );
    let window = DateRange {
        start: Some(t0 + Duration::hours(1)),
        end: Some(t0 + Duration::hours(2)),
    };
    let some = repo
        .history(
            alice.id,
            window,
            PageRequest {
                offset: 0,
                limit: 1,
            },
        )
        .await
        .expect("history");
    assert_eq!(
        (some.total, some.items[0].event.event_type.as_str()),
        (2, "h2")
    );
    let exact = DateRange {
        start: Some(t0),
        end: Some(t0),
    };
    let one = repo
        .history(alice.id, exact, PageRequest::default())
        .await
        .expect("history");
    assert_eq!(
        (one.total, one.items[0].event.event_type.as_str()),
        (1, "h0")
    );
}

async fn stats_sum_exactly_within_the_window(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsage::new(db);
    let at = now();
    let batch = vec![
        record(&alice, event("ai_chat", 100_000, Some("gpt-4")), at),
        record(&alice, event("ai_chat", 200_000, Some("gpt-4")), at),
        record(&alice, event("api_call", 1, None), at),
    ];
    repo.insert_batch(&batch).await.expect("batch");
    let s = repo
        .stats(alice.id, DateRange::default())
        .await
        .expect("stats");
    assert_eq!(s.total_records, 3);
    assert_eq!(s.total_credits_charged, Credits::from_millionths(300_001));
    assert_eq!(s.total_cost_usd, Credits::from_millionths(30_000));
    assert_eq!(s.total_tokens_used, 30);
    assert_eq!(
        s.by_event_type,
        [("ai_chat".to_owned(), 2), ("api_call".to_owned(), 1)].into()
    );
    assert_eq!(s.by_model, [("gpt-4".to_owned(), 2)].into());
    let before = DateRange {
        start: None,
        end: Some(at - Duration::seconds(1)),
    };
    assert_eq!(
        repo.stats(alice.id, before).await.expect("stats"),
        Default::default()
    );
}

/// Stats read whole hours from totals and the edges from records: whatever the window, they must equal
/// the sums over the records it holds.
async fn stats_agree_with_the_records_for_any_window(db: Database) {
    use chrono::{DurationRound, TimeDelta};
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsage::new(db);
    let hour0 = (now() - Duration::hours(6))
        .duration_trunc(TimeDelta::hours(1))
        .expect("hour");
    let kinds = ["ai_chat", "api_call", "memory"];
    let models = [Some("gpt-4"), None, Some("claude")];
    let mut all = Vec::new();
    for k in 0..16i64 {
        let at = hour0 + Duration::minutes(17 * k) + Duration::microseconds(k);
        let e = event(
            kinds[(k % 3) as usize],
            1_000 * (k + 1),
            models[(k % 3) as usize],
        );
        all.push(record(&alice, e, at));
    }
    // Singles and a batch: both paths keep the totals.
    for r in &all[..6] {
        repo.insert(r).await.expect("insert");
    }
    repo.insert_batch(&all[6..]).await.expect("batch");
    let h = |n: i64| hour0 + Duration::hours(n);
    let windows = [
        (None, None),
        (Some(h(1)), None),
        (None, Some(h(2))),
        (Some(h(1)), Some(h(3))),
        (
            Some(h(1) + Duration::minutes(1)),
            Some(h(3) - Duration::microseconds(1)),
        ),
        (
            Some(h(0) + Duration::minutes(20)),
            Some(h(0) + Duration::minutes(40)),
        ),
        (Some(all[3].created_at), Some(all[3].created_at)),
        (Some(all[2].created_at), Some(all[9].created_at)),
        (Some(h(10)), None),
    ];
    for (start, end) in windows {
        let range = DateRange { start, end };
        let inside: Vec<_> = all
            .iter()
            .filter(|r| {
                start.is_none_or(|s| r.created_at >= s) && end.is_none_or(|e| r.created_at <= e)
            })
            .collect();
        let mut expected = user_service_domain::model::UsageStats::default();
        for r in &inside {
            expected.total_records += 1;
            expected.total_credits_charged = Credits::from_millionths(
                expected.total_credits_charged.millionths() + r.event.credits_charged.millionths(),
            );
            expected.total_cost_usd = Credits::from_millionths(
                expected.total_cost_usd.millionths() + r.event.cost_usd.millionths(),
            );
            expected.total_tokens_used += r.event.tokens_used;
            *expected
                .by_event_type
                .entry(r.event.event_type.clone())
                .or_default() += 1;
            if let Some(m) = &r.event.model_name {
                *expected.by_model.entry(m.clone()).or_default() += 1;
            }
        }
        assert_eq!(
            repo.stats(alice.id, range).await.expect("stats"),
            expected,
            "{range:?}"
        );
    }
}

/// Twelve records of the largest amount sum past i64::MAX millionths, in the hourly totals (singles
/// and a batch) and in the raw records at a window's edge: the totals stop at the maximum, and the
/// token counts, which fit, stay exact.
async fn totals_stop_at_the_largest_amount_instead_of_overflowing(db: Database) {
    use chrono::{DurationRound, TimeDelta};
    use user_service_domain::model::Count;
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let repo = DieselUsage::new(db);
    let hour0 = (now() - Duration::hours(3))
        .duration_trunc(TimeDelta::hours(1))
        .expect("hour");
    let biggest = UsageEvent {
        event_type: "ai_chat".into(),
        credits_charged: Credits::MAX_AMOUNT,
        cost_usd: Credits::MAX_AMOUNT,
        tokens_used: Count::MAX,
        ..UsageEvent::default()
    };
    for k in 0..6 {
        let at = hour0 + Duration::minutes(10 + k);
        repo.insert(&record(&alice, biggest.clone(), at))
            .await
            .expect("insert");
    }
    let batch: Vec<_> = (0..6)
        .map(|k| record(&alice, biggest.clone(), hour0 + Duration::minutes(70 + k)))
        .collect();
    repo.insert_batch(&batch).await.expect("batch");
    for start in [None, Some(hour0 + Duration::minutes(5))] {
        let s = repo
            .stats(alice.id, DateRange { start, end: None })
            .await
            .expect("stats");
        assert_eq!(s.total_records, 12, "{start:?}");
        assert_eq!(s.total_credits_charged, Credits::from_millionths(i64::MAX));
        assert_eq!(s.total_cost_usd, Credits::from_millionths(i64::MAX));
        assert_eq!(s.total_tokens_used, 12 * Count::MAX);
        assert_eq!(s.by_event_type, [("ai_chat".to_owned(), 12)].into());
    }
}
