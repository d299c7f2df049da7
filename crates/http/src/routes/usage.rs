//! `/users/{user_id}/usage*`: usage records (API 3.2). Both POSTs honour `Idempotency-Key`.

use std::collections::BTreeMap;

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use user_service_domain::model::{Credits, DateRange, UsageInput, UsageRecord, UsageStats};
use user_service_domain::{DomainError, FieldError};
use uuid::Uuid;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::extract::{Authenticated, PageQuery, UserParam};
use crate::idempotency;
use crate::render::{self, Data, ListPage};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/{user_id}/usage")
            .wrap(from_fn(idempotency::middleware))
            .route(web::post().to(record))
            .route(web::get().to(history)),
    )
    .service(
        web::resource("/users/{user_id}/usage/batch")
            .wrap(from_fn(idempotency::middleware))
            .route(web::post().to(record_batch)),
    )
    .service(web::resource("/users/{user_id}/usage/stats").route(web::get().to(stats)));
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageBody {
    /// When present, must equal the user of the path.
    #[schema(schema_with = schema::owner_nullable)]
    pub user_id: Option<String>,
    #[schema(schema_with = schema::label_nullable)]
    pub session_id: Option<String>,
    #[schema(schema_with = schema::text_2048)]
    pub endpoint: Option<String>,
    #[schema(schema_with = schema::label, required = true)]
    pub event_type: Option<String>,
    #[schema(schema_with = schema::money_nullable)]
    pub credits_charged: Option<Credits>,
    #[schema(schema_with = schema::money_nullable)]
    pub cost_usd: Option<Credits>,
    /// An integer from 0 to 9007199254740991 (2^53-1).
    #[schema(schema_with = schema::count_nullable)]
    pub tokens_used: Option<serde_json::Number>,
    /// An integer from 0 to 9007199254740991 (2^53-1).
    #[schema(schema_with = schema::count_nullable)]
    pub prompt_tokens: Option<serde_json::Number>,
    /// An integer from 0 to 9007199254740991 (2^53-1).
    #[schema(schema_with = schema::count_nullable)]
    pub completion_tokens: Option<serde_json::Number>,
    #[schema(schema_with = schema::label_nullable)]
    pub model_name: Option<String>,
    #[schema(schema_with = schema::label_nullable)]
    pub provider: Option<String>,
    #[schema(schema_with = schema::label_nullable)]
    pub tool_name: Option<String>,
    #[schema(schema_with = schema::label_nullable)]
    pub operation_name: Option<String>,
    #[schema(schema_with = schema::metadata_nullable)]
    pub metadata: Option<serde_json::Value>,
}

/// The record as the domain reads it, its `user_id` in the terms of the path's `user`.
fn usage_input(user: &UserParam, b: UsageBody) -> UsageInput {
    UsageInput {
        user_id: user.body_owner(b.user_id),
        session_id: b.session_id,
        endpoint: b.endpoint,
        event_type: b.event_type,
        credits_charged: b.credits_charged,
        cost_usd: b.cost_usd,
        tokens_used: b.tokens_used,
        prompt_tokens: b.prompt_tokens,
        completion_tokens: b.completion_tokens,
        model_name: b.model_name,
        provider: b.provider,
        tool_name: b.tool_name,
        operation_name: b.operation_name,
        metadata: b.metadata,
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchBody {
    /// 1-1000 records, stored all or none.
    #[schema(min_items = 1, max_items = 1000)]
    pub records: Vec<UsageBody>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageView {
    pub id: i64,
    pub user_id: Uuid,
    pub session_id: Option<String>,
    pub endpoint: Option<String>,
    pub event_type: String,
    #[schema(value_type = f64)]
    pub credits_charged: Credits,
    #[schema(value_type = f64)]
    pub cost_usd: Credits,
    pub tokens_used: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub model_name: Option<String>,
    pub provider: Option<String>,
    pub tool_name: Option<String>,
    pub operation_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    pub created_at: DateTime<Utc>,
}

impl From<UsageRecord> for UsageView {
    fn from(r: UsageRecord) -> Self {
        let e = r.event;
        Self {
            id: r.id,
            user_id: r.user_id,
            session_id: e.session_id,
            endpoint: e.endpoint,
            event_type: e.event_type,
            credits_charged: e.credits_charged,
            cost_usd: e.cost_usd,
            tokens_used: e.tokens_used,
            prompt_tokens: e.prompt_tokens,
            completion_tokens: e.completion_tokens,
            model_name: e.model_name,
            provider: e.provider,
            tool_name: e.tool_name,
            operation_name: e.operation_name,
            metadata: e.metadata.map(|m| m.into_map()),
            created_at: r.created_at,
        }
    }
}

/// `{"items": [...], "total": N}`: a batch as stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchView {
    pub items: Vec<UsageView>,
    pub total: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsView {
    pub total_records: u64,
    #[schema(value_type = f64)]
    pub total_credits_charged: Credits,
    #[schema(value_type = f64)]
    pub total_cost_usd: Credits,
    pub total_tokens_used: i64,
    pub by_event_type: BTreeMap<String, u64>,
    pub by_model: BTreeMap<String, u64>,
}

impl From<UsageStats> for StatsView {
    fn from(s: UsageStats) -> Self {
        Self {
            total_records: s.total_records,
            total_credits_charged: s.total_credits_charged,
            total_cost_usd: s.total_cost_usd,
            total_tokens_used: s.total_tokens_used,
            by_event_type: s.by_event_type,
            by_model: s.by_model,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

impl RangeQuery {
    fn range(&self) -> Result<DateRange, DomainError> {
        let mut errors = Vec::new();
        let mut parse = |field: &str, raw: &Option<String>| {
            let raw = raw.as_deref()?;
            match DateTime::parse_from_rfc3339(raw) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(FieldError::new(field, "must be an RFC 3339 timestamp"));
                    None
                }
            }
        };
        let start = parse("start_date", &self.start_date);
        let end = parse("end_date", &self.end_date);
        if !errors.is_empty() {
            return Err(DomainError::Validation(errors));
        }
        DateRange::new(start, end).map_err(|(f, m)| DomainError::field(f, m))
    }
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/usage", tag = "usage", request_body = UsageBody,
    params(schema::UserIdParam, schema::IdempotencyKeyHeader),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, body = Data<UsageView>),
              (status = 409, body = ErrorBody)))]
pub async fn record(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    body: Json<UsageBody>,
) -> ApiResult<HttpResponse> {
    let record = state
        .usage
        .record(&caller.0, user.id, usage_input(&user, body.into_inner()))
        .await?;
    Ok(render::created(UsageView::from(record)))
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/usage/batch", tag = "usage", request_body = BatchBody,
    params(schema::UserIdParam, schema::IdempotencyKeyHeader),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, body = Data<BatchView>),
              (status = 409, body = ErrorBody)))]
pub async fn record_batch(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    body: Json<BatchBody>,
) -> ApiResult<HttpResponse> {
    let inputs = body
        .into_inner()
        .records
        .into_iter()
        .map(|r| usage_input(&user, r))
        .collect();
    let records = state.usage.record_batch(&caller.0, user.id, inputs).await?;
    Ok(render::created(BatchView {
        total: records.len() as u64,
        items: records.into_iter().map(UsageView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/usage", tag = "usage",
    params(schema::UserIdParam, ("start_date" = Option<DateTime<Utc>>, Query), ("end_date" = Option<DateTime<Utc>>, Query), PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "newest first", body = Data<ListPage<UsageView>>)))]
pub async fn history(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    query: web::Query<RangeQuery>,
) -> ApiResult<HttpResponse> {
    let (range, page) = (query.range()?, query.page.parse()?);
    let paged = state.usage.history(&caller.0, user.id, range, page).await?;
    Ok(render::ok(ListPage::from_paged(paged, UsageView::from)))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/usage/stats", tag = "usage",
    params(schema::UserIdParam, ("start_date" = Option<DateTime<Utc>>, Query), ("end_date" = Option<DateTime<Utc>>, Query)),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<StatsView>)))]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    query: web::Query<RangeQuery>,
) -> ApiResult<HttpResponse> {
    let stats = state
        .usage
        .stats(&caller.0, user.id, query.range()?)
        .await?;
    Ok(render::ok(StatsView::from(stats)))
}
