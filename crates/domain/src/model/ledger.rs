//! The credit ledger: a balance per user and an append-only log of the transactions that changed it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::text::{TextKind, check_visible, line};
use super::{Checks, Count, Credits};
use crate::error::DomainResult;

/// Which way a transaction moved credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionType {
    /// Credits spent by the user.
    Consume,
    /// Credits added by a service key or an admin.
    Recharge,
}

impl TransactionType {
    /// The contract's text form (`consume`, `recharge`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionType::Consume => "consume",
            TransactionType::Recharge => "recharge",
        }
    }

    /// Parses the contract's text form.
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
    /// The ledger's own sequence number.
    pub id: i64,
    /// The transaction's public id.
    pub transaction_id: Uuid,
    /// Whose balance moved.
    pub user_id: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// Consume or recharge.
    pub transaction_type: TransactionType,
    /// How much moved (always positive).
    pub amount: Credits,
    /// The balance just before.
    pub balance_before: Credits,
    /// The balance just after.
    pub balance_after: Credits,
    /// The caller's description.
    pub description: Option<String>,
    /// A recharge's reference (e.g. a payment id): one transaction per reference and user.
    pub reference_id: Option<String>,
    /// The usage record a consume pays for.
    pub usage_record_id: Option<i64>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A change to apply. The ledger computes the balances; the storage assigns `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransaction {
    /// The transaction's public id, chosen before writing.
    pub transaction_id: Uuid,
    /// Whose balance moves.
    pub user_id: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// Consume or recharge.
    pub transaction_type: TransactionType,
    /// Always greater than zero: the type says which way it moves the balance.
    pub amount: Credits,
    /// The caller's description.
    pub description: Option<String>,
    /// A recharge's reference, unique per user.
    pub reference_id: Option<String>,
    /// The usage record a consume pays for.
    pub usage_record_id: Option<i64>,
    /// When it happens.
    pub created_at: DateTime<Utc>,
}

/// A validated consume request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumeCredits {
    /// How much to spend.
    pub amount: Credits,
    /// What for.
    pub description: Option<String>,
    /// The user's usage record it pays for.
    pub usage_record_id: Option<i64>,
}

/// A validated recharge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeCredits {
    /// How much to add.
    pub amount: Credits,
    /// What for.
    pub description: Option<String>,
    /// The caller's reference (e.g. a payment id); a second recharge with it returns the first.
    pub reference_id: Option<String>,
}

/// Text limits of ledger inputs, in characters.
pub const DESCRIPTION_MAX: usize = 1000;
/// The longest reference id, in characters.
pub const REFERENCE_ID_MAX: usize = 255;

/// An amount to move: more than zero and at most 1e12 (after the rounding `Credits` already did).
pub fn check_amount(amount: Credits) -> Result<Credits, String> {
    if amount.millionths() <= 0 || amount > Credits::MAX_AMOUNT {
        Err("must be greater than 0 and at most 1000000000000".into())
    } else {
        Ok(amount)
    }
}

/// A description of at most `DESCRIPTION_MAX` characters without invisible characters.
pub fn check_description(raw: &str) -> Result<String, String> {
    line(DESCRIPTION_MAX)(raw)
}

/// A reference id of 1 to `REFERENCE_ID_MAX` visible characters.
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
    /// A recharge of a validated amount; the texts are checked.
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
