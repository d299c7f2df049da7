use async_trait::async_trait;
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::{DateRange, NewUsageRecord, PageRequest, Paged, UsageRecord, UsageStats};

/// Usage records.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait UsageRepository: Send + Sync {
    /// Stores one record.
    async fn insert(&self, record: &NewUsageRecord) -> DomainResult<UsageRecord>;
    /// All or nothing, in one transaction; returned in the order given.
    async fn insert_batch(&self, records: &[NewUsageRecord]) -> DomainResult<Vec<UsageRecord>>;
    /// Newest first; both ends of the range inclusive.
    async fn history(
        &self,
        user_id: Uuid,
        range: DateRange,
        page: PageRequest,
    ) -> DomainResult<Paged<UsageRecord>>;
    /// Totals of the user's records in `range`.
    async fn stats(&self, user_id: Uuid, range: DateRange) -> DomainResult<UsageStats>;
    /// Whether usage record `id` exists and belongs to this user.
    async fn belongs_to(&self, user_id: Uuid, id: i64) -> DomainResult<bool>;
}
