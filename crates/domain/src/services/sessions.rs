//! Conversation sessions and their messages. A session is reached by its own id, so whether the caller
//! may see it is decided from the session's owner, with the same rule as every other account resource.

use std::sync::Arc;

use uuid::Uuid;

use super::access::{AccountAccess, Need, standing};
use crate::error::{DomainError, DomainResult};
use crate::model::{
    MessageInput, NewSession, PageRequest, Paged, Principal, Session, SessionInput, SessionMessage,
    SessionStatus,
};
use crate::ports::{Clock, IdGenerator, SessionRepository, UserRepository};

/// Conversation sessions and their messages (API.md 3.3).
pub struct SessionService {
    access: AccountAccess,
    sessions: Arc<dyn SessionRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl SessionService {
    /// The service on its ports.
    pub fn new(
        users: Arc<dyn UserRepository>,
        sessions: Arc<dyn SessionRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            access: AccountAccess::new(users),
            sessions,
            clock,
            ids,
        }
    }

    /// Creates a session of `user_id`.
    pub async fn create(
        &self,
        caller: &Principal,
        user_id: Uuid,
        input: SessionInput,
    ) -> DomainResult<Session> {
        let draft = input.validate(user_id)?;
        let account = self.access.account(caller, user_id, Need::Use).await?;
        self.sessions
            .create(&NewSession {
                session_id: self.ids.new_id(),
                user_id,
                namespace: account.namespace,
                title: draft.title,
                metadata: draft.metadata,
                created_at: self.clock.now(),
            })
            .await
    }

    /// A page of the user's sessions, optionally of one status.
    pub async fn list(
        &self,
        caller: &Principal,
        user_id: Uuid,
        active_only: bool,
        page: PageRequest,
    ) -> DomainResult<Paged<Session>> {
        self.access.account(caller, user_id, Need::Use).await?;
        self.sessions.list(user_id, active_only, page).await
    }

    /// The session if the caller may see it; otherwise, like an unknown id, `SessionNotFound`.
    pub async fn get(&self, caller: &Principal, session_id: Uuid) -> DomainResult<Session> {
        let namespace = caller.namespace().ok_or(DomainError::SessionNotFound)?;
        match self.sessions.get(namespace, session_id).await? {
            Some(s) if standing(caller, &s.namespace, s.user_id).is_some() => Ok(s),
            _ => Err(DomainError::SessionNotFound),
        }
    }

    /// Changes a session's status.
    pub async fn set_status(
        &self,
        caller: &Principal,
        session_id: Uuid,
        status: SessionStatus,
    ) -> DomainResult<Session> {
        self.get(caller, session_id).await?;
        self.sessions
            .set_status(session_id, status, self.clock.now())
            .await?
            .ok_or(DomainError::SessionNotFound)
    }

    /// Adds a message to a session.
    pub async fn add_message(
        &self,
        caller: &Principal,
        session_id: Uuid,
        message: MessageInput,
    ) -> DomainResult<SessionMessage> {
        self.get(caller, session_id).await?;
        self.sessions
            .add_message(session_id, &message, self.clock.now())
            .await
    }

    /// A page of a session's messages, in order.
    pub async fn messages(
        &self,
        caller: &Principal,
        session_id: Uuid,
        page: PageRequest,
    ) -> DomainResult<Paged<SessionMessage>> {
        self.get(caller, session_id).await?;
        self.sessions.messages(session_id, page).await
    }
}
