//! `SessionRepository` on Diesel.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::{
    Credits, JsonObject, MessageInput, MessageRole, NewSession, PageRequest, Paged, Session,
    SessionMessage, SessionStatus,
};
use user_service_domain::ports::SessionRepository;
use uuid::Uuid;

use crate::connection::write_transaction;
use crate::database::Database;
use crate::errors;
use crate::models::{from_db_time, from_json, parse_uuid, to_db_time, to_json};
use crate::paging;
use crate::schema::{conversation_sessions as sessions, session_messages as messages};

#[derive(Debug, Clone)]
pub struct DieselSessions {
    db: Database,
}

impl DieselSessions {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Corrupt(String);

#[derive(Debug, Queryable)]
struct SessionRow {
    id: i64,
    session_id: String,
    user_id: String,
    namespace: String,
    title: Option<String>,
    metadata: String,
    status: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl SessionRow {
    fn into_session(self) -> DomainResult<Session> {
        Ok(Session {
            id: self.id,
            session_id: parse_uuid("conversation_sessions.session_id", &self.session_id)?,
            user_id: parse_uuid("conversation_sessions.user_id", &self.user_id)?,
            namespace: self.namespace,
            title: self.title,
            metadata: JsonObject::from_map(from_json(
                "conversation_sessions.metadata",
                &self.metadata,
            )?),
            status: SessionStatus::parse(&self.status)
                .map_err(|m| errors::corrupt("conversation_sessions.status", Corrupt(m)))?,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
        })
    }
}

#[derive(Debug, Queryable)]
struct MessageRow {
    id: i64,
    session_id: String,
    role: String,
    content: String,
    message_type: Option<String>,
    tokens_used: i64,
    cost_usd: i64,
    metadata: Option<String>,
    created_at: NaiveDateTime,
}

impl MessageRow {
    fn into_message(self) -> DomainResult<SessionMessage> {
        let metadata = match self.metadata {
            Some(raw) => Some(JsonObject::from_map(from_json(
                "session_messages.metadata",
                &raw,
            )?)),
            None => None,
        };
        Ok(SessionMessage {
            id: self.id,
            session_id: parse_uuid("session_messages.session_id", &self.session_id)?,
            message: MessageInput {
                role: MessageRole::parse(&self.role)
                    .map_err(|m| errors::corrupt("session_messages.role", Corrupt(m)))?,
                content: self.content,
                message_type: self.message_type,
                tokens_used: self.tokens_used,
                cost_usd: Credits::from_millionths(self.cost_usd),
                metadata,
            },
            created_at: from_db_time(self.created_at),
        })
    }
}

#[async_trait]
impl SessionRepository for DieselSessions {
    async fn create(&self, session: &NewSession) -> DomainResult<Session> {
        let metadata = to_json("conversation_sessions.metadata", session.metadata.as_map())?;
        let s = session.clone();
        self.db
            .run(move |conn| {
                let at = to_db_time(s.created_at);
                diesel::insert_into(sessions::table)
                    .values((
                        sessions::session_id.eq(s.session_id.to_string()),
                        sessions::user_id.eq(s.user_id.to_string()),
                        sessions::namespace.eq(&s.namespace),
                        sessions::title.eq(&s.title),
                        sessions::metadata.eq(metadata),
                        sessions::status.eq(SessionStatus::Active.as_str()),
                        sessions::created_at.eq(at),
                        sessions::updated_at.eq(at),
                    ))
                    .returning(sessions::all_columns)
                    .get_result::<SessionRow>(conn)
                    .map_err(errors::db)?
                    .into_session()
            })
            .await
    }

    async fn get(&self, namespace: &str, session_id: Uuid) -> DomainResult<Option<Session>> {
        let namespace = namespace.to_owned();
        self.db
            .run(move |conn| {
                sessions::table
                    .filter(sessions::session_id.eq(session_id.to_string()))
                    .filter(sessions::namespace.eq(namespace))
                    .first::<SessionRow>(conn)
                    .optional()
                    .map_err(errors::db)?
                    .map(SessionRow::into_session)
                    .transpose()
            })
            .await
    }

    async fn list(
        &self,
        user_id: Uuid,
        active_only: bool,
        page: PageRequest,
    ) -> DomainResult<Paged<Session>> {
        let statuses: Vec<&'static str> = if active_only {
            vec![SessionStatus::Active.as_str()]
        } else {
            [
                SessionStatus::Active,
                SessionStatus::Completed,
                SessionStatus::Archived,
                SessionStatus::Error,
            ]
            .iter()
            .map(|s| s.as_str())
            .collect()
        };
        self.db
            .run(move |conn| {
                let mine = || {
                    sessions::table
                        .filter(sessions::user_id.eq(user_id.to_string()))
                        .filter(sessions::status.eq_any(statuses.clone()))
                };
                paging::load_page(
                    conn,
                    page,
                    |conn| mine().count().get_result(conn),
                    |conn, limit, offset| {
                        mine()
                            .order((sessions::created_at.desc(), sessions::id.desc()))
                            .limit(limit)
                            .offset(offset)
                            .load::<SessionRow>(conn)
                    },
                    SessionRow::into_session,
                )
            })
            .await
    }

    async fn set_status(
        &self,
        session_id: Uuid,
        status: SessionStatus,
        now: DateTime<Utc>,
    ) -> DomainResult<Option<Session>> {
        self.db
            .run(move |conn| {
                diesel::update(
                    sessions::table.filter(sessions::session_id.eq(session_id.to_string())),
                )
                .set((
                    sessions::status.eq(status.as_str()),
                    sessions::updated_at.eq(to_db_time(now)),
                ))
                .returning(sessions::all_columns)
                .get_result::<SessionRow>(conn)
                .optional()
                .map_err(errors::db)?
                .map(SessionRow::into_session)
                .transpose()
            })
            .await
    }

    async fn add_message(
        &self,
        session_id: Uuid,
        message: &MessageInput,
        now: DateTime<Utc>,
    ) -> DomainResult<SessionMessage> {
        let metadata = match &message.metadata {
            Some(m) => Some(to_json("session_messages.metadata", m.as_map())?),
            None => None,
        };
        let m = message.clone();
        let at = to_db_time(now);
        self.db
            .run(move |conn| {
                let sid = session_id.to_string();
                let row = write_transaction(conn, |conn| {
                    let touched =
                        diesel::update(sessions::table.filter(sessions::session_id.eq(&sid)))
                            .set(sessions::updated_at.eq(at))
                            .execute(conn)?;
                    if touched == 0 {
                        return Ok(None);
                    }
                    diesel::insert_into(messages::table)
                        .values((
                            messages::session_id.eq(&sid),
                            messages::role.eq(m.role.as_str()),
                            messages::content.eq(&m.content),
                            messages::message_type.eq(&m.message_type),
                            messages::tokens_used.eq(m.tokens_used),
                            messages::cost_usd.eq(m.cost_usd.millionths()),
                            messages::metadata.eq(&metadata),
                            messages::created_at.eq(at),
                        ))
                        .returning(messages::all_columns)
                        .get_result::<MessageRow>(conn)
                        .map(Some)
                })
                .map_err(errors::db)?;
                row.ok_or(DomainError::SessionNotFound)?.into_message()
            })
            .await
    }

    async fn messages(
        &self,
        session_id: Uuid,
        page: PageRequest,
    ) -> DomainResult<Paged<SessionMessage>> {
        self.db
            .run(move |conn| {
                let of_session =
                    || messages::table.filter(messages::session_id.eq(session_id.to_string()));
                paging::load_page(
                    conn,
                    page,
                    |conn| of_session().count().get_result(conn),
                    |conn, limit, offset| {
                        of_session()
                            .order(messages::id.asc())
                            .limit(limit)
                            .offset(offset)
                            .load::<MessageRow>(conn)
                    },
                    MessageRow::into_message,
                )
            })
            .await
    }
}
