//! The credit ledger: a balance per user and an append-only log of the transactions that changed it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::text::{TextKind, check_visible, line};
use super::{Checks, Count, Credits};
use crate::error::DomainResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionType {
    Consume,
    Recharge,
}

impl TransactionType {
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionType::Consume => "consume",
            TransactionType::Recharge => "recharge",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "consume" => Ok(Self::Consume),
            "recharge" => Ok(Self::Recharge),
            _ => Err("must be one of consume, recharge".into()),
        }
    }
}

/// One change of one user's balance, as stored: `balance_after` is the balance it left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditTransaction {
    pub id: i64,
    pub transaction_id: Uuid,
    pub user_id: Uuid,
    pub namespace: String,
    pub transaction_type: TransactionType,
    pub amount: Credits,
    pub balance_before: Credits,
    pub balance_after: Credits,
    pub description: Option<String>,
    pub reference_id: Option<String>,
    pub usage_record_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A change to apply. The ledger computes the balances; the storage assigns `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    pub transaction_id: Uuid,
    pub user_id: Uuid,
    pub namespace: String,
    pub transaction_type: TransactionType,
    /// Always greater than zero: the type says which way it moves the balance.
    pub amount: Credits,
    pub description: Option<String>,
    pub reference_id: Option<String>,
    pub usage_record_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A validated consume request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeCredits {
    pub amount: Credits,
    pub description: Option<String>,
    pub usage_record_id: Option<i64>,
}

/// A validated recharge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeCredits {
    pub amount: Credits,
    pub description: Option<String>,
    pub reference_id: Option<String>,
}

/// Text limits of ledger inputs, in characters.
pub const DESCRIPTION_MAX: usize = 1000;
pub const REFERENCE_ID_MAX: usize = 255;

/// An amount to move: more than zero and at most 1e12 (after the rounding `Credits` already did).
pub fn check_amount(amount: Credits) -> Result<Credits, String> {
    if amount.millionths() <= 0 || amount > Credits::MAX_AMOUNT {
        Err("must be greater than 0 and at most 1000000000000".into())
    } else {
        Ok(amount)
    }
}

pub fn check_description(raw: &str) -> Result<String, String> {
    line(DESCRIPTION_MAX)(raw)
}

pub fn check_reference_id(raw: &str) -> Result<String, String> {
    let n = raw.chars().count();
    if n == 0 || n > REFERENCE_ID_MAX {
        Err(format!("must be 1-{REFERENCE_ID_MAX} characters"))
    } else {
        check_visible(raw, TextKind::Line)?;
        Ok(raw.to_owned())
    }
}

impl ConsumeCredits {
    /// Checks every field at once, so a client sees all its mistakes in one answer.
    pub fn new(
        amount: Credits,
        description: Option<String>,
        usage_record_id: Option<serde_json::Number>,
    ) -> DomainResult<Self> {
        let mut checks = Checks::new();
        let amount = checks.check("amount", check_amount(amount));
        let description =
            checks.check_opt("description", description.as_deref(), check_description);
        // An id as the client sent it: any number text, judged without work in its size.
        let usage_record_id = usage_record_id.and_then(|n| {
            let id = Count::from_json(Some(&n)).ok().filter(|c| c.get() >= 1);
            if id.is_none() {
                checks.push("usage_record_id", "must be a positive integer");
            }
            id.map(Count::get)
        });
        checks.finish()?;
        Ok(Self {
            amount: amount.unwrap_or_default(),
            description,
            usage_record_id,
        })
    }
}

impl RechargeCredits {
    pub fn new(
        amount: Credits,
        description: Option<String>,
        reference_id: Option<String>,
    ) -> DomainResult<Self> {
        let mut checks = Checks::new();
        let amount = checks.check("amount", check_amount(amount));
        let description =
            checks.check_opt("description", description.as_deref(), check_description);
        let reference_id =
            checks.check_opt("reference_id", reference_id.as_deref(), check_reference_id);
        checks.finish()?;
        Ok(Self {
            amount: amount.unwrap_or_default(),
            description,
            reference_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_must_be_positive_and_at_most_1e12() {
        assert!(check_amount(Credits::ZERO).is_err());
        assert!(check_amount(Credits::from_millionths(-1)).is_err());
        assert_eq!(
            check_amount(Credits::from_millionths(1)),
            Ok(Credits::from_millionths(1))
        );
        assert!(check_amount(Credits::MAX_AMOUNT).is_ok());
        assert!(
            check_amount(Credits::from_millionths(
                Credits::MAX_AMOUNT.millionths() + 1
            ))
            .is_err()
        );
    }

    #[test]
    fn transaction_types_round_trip() {
        for t in [TransactionType::Consume, TransactionType::Recharge] {
            assert_eq!(TransactionType::parse(t.as_str()), Ok(t));
        }
        assert!(TransactionType::parse("refund").is_err());
    }
}
