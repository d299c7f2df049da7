//! Usage metering: recording events (one or a batch, all or nothing), history and statistics.

use std::sync::Arc;

use uuid::Uuid;

use super::access::{AccountAccess, Need};
use crate::error::{DomainError, DomainResult};
use crate::model::usage::{BATCH_MAX, NOT_A_SESSION};
use crate::model::{
    Checks, DateRange, NewUsageRecord, PageRequest, Paged, Principal, UsageEvent, UsageInput,
    UsageRecord, UsageStats,
};
use crate::ports::{Clock, SessionRepository, UsageRepository, UserRepository};

/// Usage records (API.md 3.2).
pub struct UsageService {
    access: AccountAccess,
    usage: Arc<dyn UsageRepository>,
    sessions: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
}

impl UsageService {
    /// The service on its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        usage: Arc<dyn UsageRepository>,
        sessions: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            access: AccountAccess::new(users),
            usage,
            sessions,
            clock,
        }
    }

    /// Records usage of `user_id`.
    pub async fn record(
        &self,
        caller: &Principal,
        user_id: Uuid,
        input: UsageInput,
    ) -> DomainResult<UsageRecord> {
        let event = input.into_event(user_id)?;
        let account = self.access.account(caller, user_id, Need::Use).await?;
        self.check_sessions(
            &account.namespace,
            user_id,
            std::slice::from_ref(&event),
            "",
        )
        .await?;
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
        self.check_sessions(&account.namespace, user_id, &events, "records")
            .await?;
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

    /// Every `session_id` must name a session of this user. Sessions are never deleted, so one found
    /// now still exists when the record is written.
    async fn check_sessions(
        &self,
        namespace: &str,
        user_id: Uuid,
        events: &[UsageEvent],
        batch: &str,
    ) -> DomainResult<()> {
        let mut checks = Checks::new();
        let mut known = std::collections::HashMap::new();
        for (i, event) in events.iter().enumerate() {
            let Some(sid) = &event.session_id else {
                continue;
            };
            let ok = match known.get(sid) {
                Some(ok) => *ok,
                None => {
                    let ok = match Uuid::parse_str(sid) {
                        Ok(id) => self
                            .sessions
                            .get(namespace, id)
                            .await?
                            .is_some_and(|s| s.user_id == user_id),
                        Err(_) => false,
                    };
                    known.insert(sid.clone(), ok);
                    ok
                }
            };
            if !ok {
                let field = if batch.is_empty() {
                    "session_id".to_owned()
                } else {
                    format!("{batch}[{i}].session_id")
                };
                checks.push(&field, NOT_A_SESSION);
            }
        }
        checks.finish()
    }

    /// A page of the user's records in a window.
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

    /// Totals of the user's records in a window.
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
