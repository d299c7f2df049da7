//! Conversation sessions and their messages (API 3.3).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use user_service_domain::DomainError;
use user_service_domain::model::{
    Credits, MessageDraft, Session, SessionInput, SessionMessage, SessionStatus,
};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::extract::Json;
use crate::extract::{Authenticated, PageQuery, UserParam};
use crate::render::{self, Data, ListPage};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/{user_id}/sessions")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(web::resource("/sessions/{session_id}").route(web::get().to(get)))
    .service(web::resource("/sessions/{session_id}/status").route(web::put().to(set_status)))
    .service(
        web::resource("/sessions/{session_id}/messages")
            .route(web::post().to(add_message))
            .route(web::get().to(messages)),
    );
}

/// A session id that is not a UUID names no session: answered like an unknown one.
fn session_id(raw: &str) -> Result<Uuid, DomainError> {
    Uuid::parse_str(raw).map_err(|_| DomainError::SessionNotFound)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub title: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// `active`, `completed`, `archived` or `error`.
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            id: s.id,
            session_id: s.session_id,
            user_id: s.user_id,
            title: s.title,
            metadata: s.metadata.into_map(),
            status: s.status.as_str(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub session_id: Uuid,
    pub role: &'static str,
    pub content: String,
    pub message_type: Option<String>,
    pub tokens_used: i64,
    #[schema(value_type = f64)]
    pub cost_usd: Credits,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub created_at: DateTime<Utc>,
}

impl From<SessionMessage> for MessageView {
    fn from(m: SessionMessage) -> Self {
        Self {
            id: m.id,
            session_id: m.session_id,
            role: m.message.role.as_str(),
            content: m.message.content,
            message_type: m.message.message_type,
            tokens_used: m.message.tokens_used,
            cost_usd: m.message.cost_usd,
            metadata: m.message.metadata.map(|o| o.into_map()),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSessionBody {
    /// When present, must equal the user of the path.
    #[schema(schema_with = schema::owner_nullable)]
    pub user_id: Option<String>,
    #[schema(schema_with = schema::text_500)]
    pub title: Option<String>,
    /// A JSON object of at most 16 KiB.
    #[schema(schema_with = schema::metadata_nullable)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `active`, `completed`, `archived` or `error`.
    #[schema(schema_with = schema::session_status)]
    pub status: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// `user`, `assistant`, `system` or `tool`.
    #[schema(schema_with = schema::message_role)]
    pub role: String,
    /// At most 1 MiB.
    #[schema(schema_with = schema::content)]
    pub content: String,
    #[schema(schema_with = schema::message_type_nullable)]
    pub message_type: Option<String>,
    /// An integer from 0 to 9007199254740991 (2^53-1).
    #[schema(schema_with = schema::count_nullable)]
    pub tokens_used: Option<serde_json::Number>,
    #[schema(schema_with = schema::money_nullable)]
    pub cost_usd: Option<Credits>,
    #[schema(schema_with = schema::metadata_nullable)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub struct SessionsQuery {
    pub active_only: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/sessions", tag = "sessions", request_body = CreateSessionBody,
    params(schema::UserIdParam), security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, body = Data<SessionView>)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    body: Json<CreateSessionBody>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = SessionInput {
        user_id: user.body_owner(b.user_id),
        title: b.title,
        metadata: b.metadata,
    };
    let session = state.sessions.create(&caller.0, user.id, input).await?;
    Ok(render::created(SessionView::from(session)))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/sessions", tag = "sessions",
    params(schema::UserIdParam, ("active_only" = Option<bool>, Query), PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "newest first", body = Data<ListPage<SessionView>>)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    query: web::Query<SessionsQuery>,
) -> ApiResult<HttpResponse> {
    let active_only = match query.active_only.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => return Err(DomainError::field("active_only", "must be true or false").into()),
    };
    let paged = state
        .sessions
        .list(&caller.0, user.id, active_only, query.page.parse()?)
        .await?;
    Ok(render::ok(ListPage::from_paged(paged, SessionView::from)))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}", tag = "sessions",
    params(("session_id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<SessionView>)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let session = state.sessions.get(&caller.0, session_id(&path)?).await?;
    Ok(render::ok(SessionView::from(session)))
}

#[utoipa::path(put, path = "/api/v1/sessions/{session_id}/status", tag = "sessions", request_body = StatusBody,
    params(("session_id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<SessionView>)))]
pub async fn set_status(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    body: Json<StatusBody>,
) -> ApiResult<HttpResponse> {
    let status = SessionStatus::parse(&body.status).map_err(|m| DomainError::field("status", m))?;
    let session = state
        .sessions
        .set_status(&caller.0, session_id(&path)?, status)
        .await?;
    Ok(render::ok(SessionView::from(session)))
}

#[utoipa::path(post, path = "/api/v1/sessions/{session_id}/messages", tag = "sessions", request_body = MessageBody,
    params(("session_id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, body = Data<MessageView>)))]
pub async fn add_message(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    body: Json<MessageBody>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let message = MessageDraft {
        role: b.role,
        content: b.content,
        message_type: b.message_type,
        tokens_used: b.tokens_used,
        cost_usd: b.cost_usd,
        metadata: b.metadata,
    }
    .validate()?;
    let stored = state
        .sessions
        .add_message(&caller.0, session_id(&path)?, message)
        .await?;
    Ok(render::created(MessageView::from(stored)))
}

#[utoipa::path(get, path = "/api/v1/sessions/{session_id}/messages", tag = "sessions",
    params(("session_id" = Uuid, Path), PageQuery), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "oldest first", body = Data<ListPage<MessageView>>)))]
pub async fn messages(
    state: web::Data<AppState>,
    caller: Authenticated,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let paged = state
        .sessions
        .messages(&caller.0, session_id(&path)?, query.parse()?)
        .await?;
    Ok(render::ok(ListPage::from_paged(paged, MessageView::from)))
}
