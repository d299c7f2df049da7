//! Usage metering: recording events (one or a batch, all or nothing), history and statistics.

use std::sync::Arc;

use uuid::Uuid;

use super::access::{AccountAccess, Need};
use crate::error::{DomainError, DomainResult};
use crate::model::usage::BATCH_MAX;
use crate::model::{
    Checks, DateRange, NewUsageRecord, PageRequest, Paged, Principal, UsageInput, UsageRecord,
    UsageStats,
};
use crate::ports::{Clock, UsageRepository, UserRepository};

pub struct UsageService {
    access: AccountAccess,
    usage: Arc<dyn UsageRepository>,
    clock: Arc<dyn Clock>,
}

impl UsageService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        usage: Arc<dyn UsageRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            access: AccountAccess::new(users),
            usage,
            clock,
        }
    }

    pub async fn record(
        &self,
        caller: &Principal,
        user_id: Uuid,
        input: UsageInput,
    ) -> DomainResult<UsageRecord> {
        let event = input.into_event(user_id)?;
        let account = self.access.account(caller, user_id, Need::Use).await?;
        let record = NewUsageRecord {
            user_id,
            namespace: account.namespace,
            event,
            created_at: self.clock.now(),
        };
        self.usage.insert(&record).await
    }

    /// Up to `BATCH_MAX` records, every one valid, stored together or not at all.
    pub async fn record_batch(
        &self,
        caller: &Principal,
        user_id: Uuid,
        inputs: Vec<UsageInput>,
    ) -> DomainResult<Vec<UsageRecord>> {
        if inputs.is_empty() || inputs.len() > BATCH_MAX {
            return Err(DomainError::field(
                "records",
                format!("must hold 1-{BATCH_MAX} records"),
            ));
        }
        let mut checks = Checks::new();
        let events: Vec<_> = inputs
            .into_iter()
            .enumerate()
            .filter_map(|(i, input)| {
                input.validate(user_id, &format!("records[{i}]."), &mut checks)
            })
            .collect();
        checks.finish()?;
        let account = self.access.account(caller, user_id, Need::Use).await?;
        let now = self.clock.now();
        let records: Vec<_> = events
            .into_iter()
            .map(|event| NewUsageRecord {
                user_id,
                namespace: account.namespace.clone(),
                event,
                created_at: now,
            })
            .collect();
        self.usage.insert_batch(&records).await
    }

    pub async fn history(
        &self,
        caller: &Principal,
        user_id: Uuid,
        range: DateRange,
        page: PageRequest,
    ) -> DomainResult<Paged<UsageRecord>> {
        self.access.account(caller, user_id, Need::Use).await?;
        self.usage.history(user_id, range, page).await
    }

    pub async fn stats(
        &self,
        caller: &Principal,
        user_id: Uuid,
        range: DateRange,
    ) -> DomainResult<UsageStats> {
        self.access.account(caller, user_id, Need::Use).await?;
        self.usage.stats(user_id, range).await
    }
}
