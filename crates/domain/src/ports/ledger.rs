use async_trait::async_trait;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::{
    CreditTransaction, Credits, NewTransaction, PageRequest, Paged, TransactionType,
};

/// The balances and their append-only log. Every method that changes a balance writes the balance and
/// its transaction row in one database transaction, so the two never disagree.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait CreditLedger: Send + Sync {
    /// Takes `tx.amount` from the balance if it covers it, decided by the database in one conditional
    /// update; `InsufficientCredits` (and nothing written) when it does not.
    async fn consume(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction>;
    /// Adds `tx.amount`. When `tx.reference_id` was already used for this user, nothing is applied
    /// and the original transaction is returned unchanged; the unique index decides, not a read.
    async fn recharge(&self, tx: &NewTransaction) -> DomainResult<CreditTransaction>;
    /// Zero for a user who never had credits.
    async fn balance(&self, user_id: Uuid) -> DomainResult<Credits>;
    /// Newest first.
    async fn transactions(
        &self,
        user_id: Uuid,
        kind: Option<TransactionType>,
        page: PageRequest,
    ) -> DomainResult<Paged<CreditTransaction>>;
}
