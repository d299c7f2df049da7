//! `CreditService`: what a transaction records, and that the access rule is applied first.

use std::sync::Arc;

use super::CreditService;
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{
    ConsumeCredits, CreditTransaction, Credits, NewTransaction, PageRequest, Paged, Principal,
    RechargeCredits, TransactionType,
};
use crate::ports::{MockCreditLedger, MockUsageRepository, MockUserRepository};

fn stored(tx: &NewTransaction, before: i64, after: i64) -> CreditTransaction {
    CreditTransaction {
        id: 1,
        transaction_id: tx.transaction_id,
        user_id: tx.user_id,
        namespace: tx.namespace.clone(),
        transaction_type: tx.transaction_type,
        amount: tx.amount,
        balance_before: Credits::from_millionths(before),
        balance_after: Credits::from_millionths(after),
        description: tx.description.clone(),
        reference_id: tx.reference_id.clone(),
        usage_record_id: tx.usage_record_id,
        created_at: tx.created_at,
    }
}

/// The one usage record there is: number 123, of `user()`.
fn usage_records() -> MockUsageRepository {
    let mut usage = MockUsageRepository::new();
    usage
        .expect_belongs_to()
        .returning(|owner, id| Ok(owner == user().id && id == 123));
    usage
}

fn service(users: MockUserRepository, ledger: MockCreditLedger) -> CreditService {
    CreditService::new(
        Arc::new(users),
        Arc::new(ledger),
        Arc::new(usage_records()),
        Arc::new(fixed_clock()),
        Arc::new(sequential_ids()),
    )
}

fn live_users() -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_get().returning(|_, _| Ok(Some(user())));
    users
}

/// A repository that knows no user of `OTHER_NS`: where another namespace's manager looks.
fn nobody_in_other_ns() -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_get()
        .withf(|ns, _| ns == OTHER_NS)
        .returning(|_, _| Ok(None));
    users
}

#[tokio::test]
async fn consume_records_what_was_asked_by_whom() {
    let recorded = Recorder::new();
    let mut ledger = MockCreditLedger::new();
    let r = recorded.clone();
    ledger.expect_consume().times(1).returning(move |tx| {
        r.record(tx.clone());
        Ok(stored(tx, 10_000_000, 7_500_000))
    });
    let cmd = ConsumeCredits::new(
        Credits::from_millionths(2_500_000),
        Some("AI chat".into()),
        Some(123.into()),
    )
    .expect("valid");
    let tx = service(MockUserRepository::new(), ledger)
        .consume(&Principal::User(user()), user().id, cmd)
        .await
        .expect("consumed");
    assert_eq!(
        recorded.only(),
        NewTransaction {
            transaction_id: generated_id(1),
            user_id: user().id,
            namespace: NS.into(),
            transaction_type: TransactionType::Consume,
            amount: Credits::from_millionths(2_500_000),
            description: Some("AI chat".into()),
            reference_id: None,
            usage_record_id: Some(123),
            created_at: t0(),
        }
    );
    assert_eq!(tx.balance_after, Credits::from_millionths(7_500_000));
}

#[tokio::test]
async fn a_usage_record_of_another_user_or_none_is_refused_before_the_ledger() {
    for id in [124_i64, 9_007_199_254_740_991] {
        let cmd =
            ConsumeCredits::new(Credits::from_millionths(1), None, Some(id.into())).expect("valid");
        // The ledger has no expectation: it must not be asked.
        let r = service(live_users(), MockCreditLedger::new())
            .consume(&service_of(NS), user().id, cmd)
            .await;
        match r {
            Err(DomainError::Validation(d)) => assert_eq!(d[0].field, "usage_record_id"),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn insufficient_credits_pass_through() {
    let mut ledger = MockCreditLedger::new();
    ledger
        .expect_consume()
        .returning(|_| Err(DomainError::InsufficientCredits));
    let cmd = ConsumeCredits::new(Credits::from_millionths(1), None, None).expect("valid");
    let r = service(live_users(), ledger)
        .consume(&service_of(NS), user().id, cmd)
        .await;
    assert!(matches!(r, Err(DomainError::InsufficientCredits)), "{r:?}");
}

#[tokio::test]
async fn recharge_is_for_managers_only() {
    let cmd = || {
        RechargeCredits::new(
            Credits::from_millionths(1_000_000),
            None,
            Some("pay-1".into()),
        )
        .expect("valid")
    };
    // The ledger must not be reached for the owner or an outsider.
    let r = service(MockUserRepository::new(), MockCreditLedger::new())
        .recharge(&Principal::User(user()), user().id, cmd())
        .await;
    assert!(matches!(r, Err(DomainError::Forbidden(_))), "{r:?}");
    let r = service(nobody_in_other_ns(), MockCreditLedger::new())
        .recharge(&service_of(OTHER_NS), user().id, cmd())
        .await;
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");

    let recorded = Recorder::new();
    let rec = recorded.clone();
    let mut ledger = MockCreditLedger::new();
    ledger.expect_recharge().times(1).returning(move |tx| {
        rec.record(tx.clone());
        Ok(stored(tx, 0, 1_000_000))
    });
    service(live_users(), ledger)
        .recharge(&Principal::User(admin_of(NS)), user().id, cmd())
        .await
        .expect("admin recharges");
    let tx = recorded.only();
    assert_eq!(
        (
            tx.transaction_type,
            tx.reference_id.as_deref(),
            tx.usage_record_id
        ),
        (TransactionType::Recharge, Some("pay-1"), None)
    );
}

#[tokio::test]
async fn balance_and_history_check_access_first() {
    let r = service(nobody_in_other_ns(), MockCreditLedger::new())
        .balance(&service_of(OTHER_NS), user().id)
        .await;
    assert!(matches!(r, Err(DomainError::UserNotFound)), "{r:?}");
    let mut ledger = MockCreditLedger::new();
    ledger
        .expect_balance()
        .returning(|_| Ok(Credits::from_millionths(89_500_000)));
    ledger
        .expect_transactions()
        .withf(|_, kind, page| *kind == Some(TransactionType::Consume) && page.limit == 5)
        .returning(|_, _, page| {
            Ok(Paged {
                items: vec![],
                total: 0,
                request: page,
            })
        });
    let s = service(MockUserRepository::new(), ledger);
    let me = Principal::User(user());
    assert_eq!(
        s.balance(&me, user().id).await.expect("balance"),
        Credits::from_millionths(89_500_000)
    );
    let page = PageRequest {
        offset: 0,
        limit: 5,
    };
    assert_eq!(
        s.transactions(&me, user().id, Some(TransactionType::Consume), page)
            .await
            .expect("list")
            .total,
        0
    );
}

#[test]
fn commands_validate_every_field() {
    let long = "x".repeat(1001);
    let r = ConsumeCredits::new(Credits::ZERO, Some(long.clone()), Some(0.into()));
    assert_eq!(
        validation_fields(r),
        ["amount", "description", "usage_record_id"]
    );
    let r = RechargeCredits::new(
        Credits::from_millionths(-5),
        Some(long),
        Some(String::new()),
    );
    assert_eq!(
        validation_fields(r),
        ["amount", "description", "reference_id"]
    );
    assert!(RechargeCredits::new(Credits::MAX_AMOUNT, None, Some("r".repeat(255))).is_ok());
}
