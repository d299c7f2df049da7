//! `CreditLedger`: atomic consume, reference ids applied once, history, under concurrency.

use std::sync::Arc;

use user_service_db::{Database, DieselCreditLedger};
use user_service_domain::DomainError;
use user_service_domain::model::User;
use user_service_domain::model::{
    CreditTransaction, Credits, NewTransaction, PageRequest, TransactionType,
};
use user_service_domain::ports::CreditLedger;
use uuid::Uuid;

use crate::support::{namespace_with_user, now};

contract!(
    balance_of_a_new_user_is_zero,
    recharge_then_consume_round_trips_every_field,
    consume_beyond_the_balance_writes_nothing,
    a_reused_reference_returns_the_original,
    transactions_are_newest_first_filtered_and_paged,
    concurrent_consumes_never_overdraw,
    concurrent_recharges_with_one_reference_apply_once,
    recharges_stop_at_the_maximum_balance,
    a_storm_of_consumes_and_recharges_keeps_every_invariant,
    two_instances_on_one_database_keep_every_invariant,
);

fn c(units: i64) -> Credits {
    Credits::from_millionths(units * 1_000_000)
}

fn tx(
    user: &User,
    kind: TransactionType,
    amount: Credits,
    reference: Option<&str>,
) -> NewTransaction {
    NewTransaction {
        transaction_id: Uuid::now_v7(),
        user_id: user.id,
        namespace: user.namespace.clone(),
        transaction_type: kind,
        amount,
        description: Some("ünïcode \"desc\"".to_owned()),
        reference_id: reference.map(str::to_owned),
        usage_record_id: None,
        created_at: now(),
    }
}

async fn balance_of_a_new_user_is_zero(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = DieselCreditLedger::new(db);
    assert_eq!(
        ledger.balance(alice.id).await.expect("balance"),
        Credits::ZERO
    );
    assert_eq!(
        ledger.balance(Uuid::now_v7()).await.expect("balance"),
        Credits::ZERO
    );
}

async fn recharge_then_consume_round_trips_every_field(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = DieselCreditLedger::new(db);
    let r = tx(
        &alice,
        TransactionType::Recharge,
        Credits::from_millionths(100_500_001),
        Some("pay-1"),
    );
    let stored = ledger.recharge(&r).await.expect("recharge");
    assert_eq!(
        stored,
        CreditTransaction {
            id: stored.id,
            transaction_id: r.transaction_id,
            user_id: alice.id,
            namespace: "acme".into(),
            transaction_type: TransactionType::Recharge,
            amount: r.amount,
            balance_before: Credits::ZERO,
            balance_after: r.amount,
            description: r.description.clone(),
            reference_id: Some("pay-1".into()),
            usage_record_id: None,
            created_at: r.created_at,
        }
    );
    let mut cons = tx(
        &alice,
        TransactionType::Consume,
        Credits::from_millionths(500_001),
        None,
    );
    cons.usage_record_id = Some(42);
    cons.description = None;
    let spent = ledger.consume(&cons).await.expect("consume");
    assert!(spent.id > stored.id);
    assert_eq!(
        (
            spent.balance_before,
            spent.balance_after,
            spent.usage_record_id,
            spent.description
        ),
        (r.amount, c(100), Some(42), None)
    );
    assert_eq!(ledger.balance(alice.id).await.expect("balance"), c(100));
}

async fn consume_beyond_the_balance_writes_nothing(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = DieselCreditLedger::new(db);
    let no_row = ledger
        .consume(&tx(&alice, TransactionType::Consume, c(1), None))
        .await;
    assert!(
        matches!(no_row, Err(DomainError::InsufficientCredits)),
        "{no_row:?}"
    );
    ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(3), None))
        .await
        .expect("recharge");
    let over = ledger
        .consume(&tx(
            &alice,
            TransactionType::Consume,
            Credits::from_millionths(3_000_001),
            None,
        ))
        .await;
    assert!(
        matches!(over, Err(DomainError::InsufficientCredits)),
        "{over:?}"
    );
    assert_eq!(ledger.balance(alice.id).await.expect("balance"), c(3));
    let all = ledger
        .transactions(alice.id, None, PageRequest::default())
        .await
        .expect("list");
    assert_eq!(all.total, 1);
}

async fn a_reused_reference_returns_the_original(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = DieselCreditLedger::new(db);
    let first = ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(5), Some("ref")))
        .await
        .expect("recharge");
    let again = ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(500), Some("ref")))
        .await
        .expect("recharge");
    assert_eq!(again, first);
    // Without a reference id every recharge applies.
    ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(1), None))
        .await
        .expect("recharge");
    ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(1), None))
        .await
        .expect("recharge");
    assert_eq!(ledger.balance(alice.id).await.expect("balance"), c(7));
}

async fn transactions_are_newest_first_filtered_and_paged(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = DieselCreditLedger::new(db);
    ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(10), None))
        .await
        .expect("recharge");
    for n in 1..=3 {
        ledger
            .consume(&tx(&alice, TransactionType::Consume, c(n), None))
            .await
            .expect("consume");
    }
    let all = ledger
        .transactions(alice.id, None, PageRequest::default())
        .await
        .expect("list");
    let amounts: Vec<_> = all.items.iter().map(|t| t.amount).collect();
    assert_eq!((all.total, amounts), (4, vec![c(3), c(2), c(1), c(10)]));
    let page = PageRequest {
        offset: 1,
        limit: 1,
    };
    let consumes = ledger
        .transactions(alice.id, Some(TransactionType::Consume), page)
        .await
        .expect("list");
    assert_eq!(
        (
            consumes.total,
            consumes.items.len(),
            consumes.items[0].amount
        ),
        (3, 1, c(2))
    );
    let recharges = ledger
        .transactions(
            alice.id,
            Some(TransactionType::Recharge),
            PageRequest::default(),
        )
        .await
        .expect("list");
    assert_eq!(recharges.total, 1);
}

async fn concurrent_consumes_never_overdraw(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = Arc::new(DieselCreditLedger::new(db));
    ledger
        .recharge(&tx(&alice, TransactionType::Recharge, c(30), None))
        .await
        .expect("recharge");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (ledger, t) = (
            Arc::clone(&ledger),
            tx(&alice, TransactionType::Consume, c(1), None),
        );
        tasks.spawn(async move { ledger.consume(&t).await });
    }
    let (mut ok, mut short) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(_) => ok += 1,
            Err(DomainError::InsufficientCredits) => short += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, short), (30, 20));
    assert_eq!(
        ledger.balance(alice.id).await.expect("balance"),
        Credits::ZERO
    );
}

async fn concurrent_recharges_with_one_reference_apply_once(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = Arc::new(DieselCreditLedger::new(db));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 1..=20 {
        let (ledger, t) = (
            Arc::clone(&ledger),
            tx(&alice, TransactionType::Recharge, c(n), Some("once")),
        );
        tasks.spawn(async move { ledger.recharge(&t).await });
    }
    let mut ids = std::collections::HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        ids.insert(joined.expect("task").expect("recharge").transaction_id);
    }
    assert_eq!(ids.len(), 1);
    let all = ledger
        .transactions(alice.id, None, PageRequest::default())
        .await
        .expect("list");
    assert_eq!(all.total, 1);
    assert_eq!(
        ledger.balance(alice.id).await.expect("balance"),
        all.items[0].amount
    );
}

/// The balance holds at most 9 × 10¹² credits: of ten maximal recharges at once (most of them in one
/// batch) nine apply and the tenth is refused on `amount`, writing nothing; consumes still work.
async fn recharges_stop_at_the_maximum_balance(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledger = Arc::new(DieselCreditLedger::new(db));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (ledger, t) = (
            Arc::clone(&ledger),
            tx(&alice, TransactionType::Recharge, Credits::MAX_AMOUNT, None),
        );
        tasks.spawn(async move { ledger.recharge(&t).await });
    }
    let (mut applied, mut refused) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("task") {
            Ok(_) => applied += 1,
            Err(DomainError::Validation(errors)) => {
                assert_eq!(errors[0].field, "amount", "{errors:?}");
                refused += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((applied, refused), (9, 1));
    let full = Credits::from_millionths(9 * Credits::MAX_AMOUNT.millionths());
    assert_eq!(ledger.balance(alice.id).await.expect("balance"), full);
    let spent = ledger
        .consume(&tx(&alice, TransactionType::Consume, c(1), None))
        .await
        .expect("consume");
    assert_eq!(spent.balance_before, full);
    let txs = history(&ledger, &alice).await;
    assert_eq!(txs.len(), 10);
    assert_chain(&txs, ledger.balance(alice.id).await.expect("balance"));
}

/// Every transaction of `user`, oldest first.
async fn history(ledger: &DieselCreditLedger, user: &User) -> Vec<CreditTransaction> {
    let mut all = Vec::new();
    loop {
        let page = PageRequest {
            offset: all.len() as u64,
            limit: 100,
        };
        let got = ledger
            .transactions(user.id, None, page)
            .await
            .expect("list");
        if got.items.is_empty() {
            break;
        }
        all.extend(got.items);
    }
    all.reverse();
    all
}

/// API.md 3.4 on what is stored: a chain of balances without a gap, never below zero, each change
/// one row, recharges minus consumes equal to the balance.
fn assert_chain(txs: &[CreditTransaction], balance: Credits) {
    let mut running = 0i64;
    for t in txs {
        assert_eq!(
            t.balance_before.millionths(),
            running,
            "chain broken at {t:?}"
        );
        running += match t.transaction_type {
            TransactionType::Recharge => t.amount.millionths(),
            TransactionType::Consume => -t.amount.millionths(),
        };
        assert_eq!(t.balance_after.millionths(), running, "{t:?}");
        assert!(running >= 0, "below zero at {t:?}");
    }
    assert_eq!(running, balance.millionths());
}

/// 200 changes of one account at once, so the group commit applies many in one transaction: every
/// consume the balance cannot cover fails alone, every reference id applies once, and each answer
/// is the row stored for it.
async fn storm(ledgers: &[Arc<DieselCreditLedger>], alice: &User) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200usize {
        let ledger = Arc::clone(&ledgers[i % ledgers.len()]);
        let t = if i % 2 == 0 {
            tx(alice, TransactionType::Consume, c(3), None)
        } else {
            // Pairs of recharges share a reference id: one of each pair applies.
            let reference = (i % 4 == 1).then(|| format!("ref-{}", i / 8));
            tx(alice, TransactionType::Recharge, c(2), reference.as_deref())
        };
        tasks.spawn(async move {
            let answer = match t.transaction_type {
                TransactionType::Consume => ledger.consume(&t).await,
                TransactionType::Recharge => ledger.recharge(&t).await,
            };
            (t, answer)
        });
    }
    let mut applied = std::collections::HashMap::new();
    let mut short = 0;
    while let Some(joined) = tasks.join_next().await {
        let (t, answer) = joined.expect("task");
        match answer {
            Ok(stored) => {
                if stored.transaction_id == t.transaction_id {
                    assert_eq!(
                        (stored.amount, stored.transaction_type),
                        (t.amount, t.transaction_type)
                    );
                } else {
                    // Only a reused reference id answers with another transaction: its first.
                    assert_eq!(stored.reference_id, t.reference_id, "{stored:?}");
                }
                applied.insert(stored.transaction_id, stored);
            }
            Err(DomainError::InsufficientCredits) => {
                assert_eq!(t.transaction_type, TransactionType::Consume);
                short += 1;
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let txs = history(&ledgers[0], alice).await;
    // 100 recharges: 50 without a reference, 25 pairs sharing one.
    let recharges = txs
        .iter()
        .filter(|t| t.transaction_type == TransactionType::Recharge)
        .count();
    let consumes = txs.len() - recharges;
    assert_eq!((recharges, consumes + short), (75, 100));
    assert_eq!(txs.len(), applied.len(), "every stored row was answered");
    for t in &txs {
        assert_eq!(
            applied.get(&t.transaction_id),
            Some(t),
            "answer = stored row"
        );
    }
    let balance = ledgers[0].balance(alice.id).await.expect("balance");
    assert_chain(&txs, balance);
}

async fn a_storm_of_consumes_and_recharges_keeps_every_invariant(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    storm(&[Arc::new(DieselCreditLedger::new(db))], &alice).await;
}

/// Two ledgers on one database are two instances of the service: each has its own writers, and only
/// the database (PostgreSQL's row lock, SQLite's write lock) orders their batches.
async fn two_instances_on_one_database_keep_every_invariant(db: Database) {
    let alice = namespace_with_user(&db, "acme", "alice").await;
    let ledgers = [
        Arc::new(DieselCreditLedger::new(db.clone())),
        Arc::new(DieselCreditLedger::new(db)),
    ];
    storm(&ledgers, &alice).await;
}
