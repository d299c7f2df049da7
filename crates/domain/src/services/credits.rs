//! The credit ledger's rules: who may consume and recharge, and what a transaction records.

use std::sync::Arc;

use uuid::Uuid;

use super::access::{AccountAccess, Need};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    ConsumeCredits, CreditTransaction, Credits, NewTransaction, PageRequest, Paged, Principal,
    RechargeCredits, TransactionType,
};
use crate::ports::{Clock, CreditLedger, IdGenerator, UsageRepository, UserRepository};

/// The credit ledger (API.md 3.4).
pub struct CreditService {
    access: AccountAccess,
    ledger: Arc<dyn CreditLedger>,
    usage: Arc<dyn UsageRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl CreditService {
    /// The service on its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        ledger: Arc<dyn CreditLedger>,
        usage: Arc<dyn UsageRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            access: AccountAccess::new(users),
            ledger,
            usage,
            clock,
            ids,
        }
    }

    /// Owner, admin or service; `InsufficientCredits` when the balance does not cover the amount.
    pub async fn consume(
        &self,
        caller: &Principal,
        user_id: Uuid,
        cmd: ConsumeCredits,
    ) -> DomainResult<CreditTransaction> {
        let account = self.access.account(caller, user_id, Need::Use).await?;
        // Usage records are never deleted, so one found now still exists when the consume lands.
        if let Some(id) = cmd.usage_record_id
            && !self.usage.belongs_to(user_id, id).await?
        {
            return Err(DomainError::field(
                "usage_record_id",
                "must be the id of a usage record of this user",
            ));
        }
        let tx = NewTransaction {
            transaction_id: self.ids.new_id(),
            user_id,
            namespace: account.namespace,
            transaction_type: TransactionType::Consume,
            amount: cmd.amount,
            description: cmd.description,
            reference_id: None,
            usage_record_id: cmd.usage_record_id,
            created_at: self.clock.now(),
        };
        self.ledger.consume(&tx).await
    }

    /// Admin or service only (the owner gets `Forbidden`). A reference id already used for this user
    /// returns the original transaction, whatever the new amount.
    pub async fn recharge(
        &self,
        caller: &Principal,
        user_id: Uuid,
        cmd: RechargeCredits,
    ) -> DomainResult<CreditTransaction> {
        let account = self.access.account(caller, user_id, Need::Manage).await?;
        let tx = NewTransaction {
            transaction_id: self.ids.new_id(),
            user_id,
            namespace: account.namespace,
            transaction_type: TransactionType::Recharge,
            amount: cmd.amount,
            description: cmd.description,
            reference_id: cmd.reference_id,
            usage_record_id: None,
            created_at: self.clock.now(),
        };
        self.ledger.recharge(&tx).await
    }

    /// The balance; the owner, an admin or a service key.
    pub async fn balance(&self, caller: &Principal, user_id: Uuid) -> DomainResult<Credits> {
        self.access.account(caller, user_id, Need::Use).await?;
        self.ledger.balance(user_id).await
    }

    /// A page of the transactions, newest first, optionally of one type.
    pub async fn transactions(
        &self,
        caller: &Principal,
        user_id: Uuid,
        kind: Option<TransactionType>,
        page: PageRequest,
    ) -> DomainResult<Paged<CreditTransaction>> {
        self.access.account(caller, user_id, Need::Use).await?;
        self.ledger.transactions(user_id, kind, page).await
    }
}
