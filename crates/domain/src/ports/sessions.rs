use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::DomainResult;
use crate::model::{
    MessageInput, NewSession, PageRequest, Paged, Session, SessionMessage, SessionStatus,
};

/// Conversation sessions and their messages.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session.
    async fn create(&self, session: &NewSession) -> DomainResult<Session>;
    /// The session with this public id in this namespace.
    async fn get(&self, namespace: &str, session_id: Uuid) -> DomainResult<Option<Session>>;
    /// Newest first; with `active_only`, only sessions whose status is `active`.
    async fn list(
        &self,
        user_id: Uuid,
        active_only: bool,
        page: PageRequest,
    ) -> DomainResult<Paged<Session>>;
    /// The updated session; `None` when it does not exist.
    async fn set_status(
        &self,
        session_id: Uuid,
        status: SessionStatus,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<Session>>;
    /// Stores the message and touches the session's `updated_at`, in one transaction.
    async fn add_message(
        &self,
        session_id: Uuid,
        message: &MessageInput,
        now: DateTime<Utc>,
    ) -> DomainResult<SessionMessage>;
    /// Oldest first.
    async fn messages(
        &self,
        session_id: Uuid,
        page: PageRequest,
    ) -> DomainResult<Paged<SessionMessage>>;
}
