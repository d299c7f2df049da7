//! `/users/{user_id}/credits/*`: the ledger (API 3.4). Consume and recharge honour `Idempotency-Key`.

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use user_service_domain::model::ledger::TransactionType as Kind;
use user_service_domain::model::{ConsumeCredits, CreditTransaction, Credits, RechargeCredits};
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
        web::resource("/users/{user_id}/credits/consume")
            .wrap(from_fn(idempotency::middleware))
            .route(web::post().to(consume)),
    )
    .service(
        web::resource("/users/{user_id}/credits/recharge")
            .wrap(from_fn(idempotency::middleware))
            .route(web::post().to(recharge)),
    )
    .service(web::resource("/users/{user_id}/credits/balance").route(web::get().to(balance)))
    .service(
        web::resource("/users/{user_id}/credits/transactions").route(web::get().to(transactions)),
    );
}

/// One change of a balance. Money is an exact decimal number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransactionView {
    pub id: i64,
    pub transaction_id: Uuid,
    pub user_id: Uuid,
    /// `consume` or `recharge`.
    pub transaction_type: &'static str,
    #[schema(value_type = f64)]
    pub amount: Credits,
    #[schema(value_type = f64)]
    pub balance_before: Credits,
    #[schema(value_type = f64)]
    pub balance_after: Credits,
    pub description: Option<String>,
    pub reference_id: Option<String>,
    pub usage_record_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<CreditTransaction> for TransactionView {
    fn from(t: CreditTransaction) -> Self {
        Self {
            id: t.id,
            transaction_id: t.transaction_id,
            user_id: t.user_id,
            transaction_type: t.transaction_type.as_str(),
            amount: t.amount,
            balance_before: t.balance_before,
            balance_after: t.balance_after,
            description: t.description,
            reference_id: t.reference_id,
            usage_record_id: t.usage_record_id,
            created_at: t.created_at,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeBody {
    #[schema(schema_with = schema::amount)]
    pub amount: Credits,
    #[schema(schema_with = schema::text_1000)]
    pub description: Option<String>,
    #[schema(schema_with = schema::id_nullable)]
    pub usage_record_id: Option<serde_json::Number>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RechargeBody {
    #[schema(schema_with = schema::amount)]
    pub amount: Credits,
    #[schema(schema_with = schema::text_1000)]
    pub description: Option<String>,
    #[schema(schema_with = schema::reference_nullable)]
    pub reference_id: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/credits/consume", tag = "credits",
    request_body = ConsumeBody, params(schema::UserIdParam, schema::IdempotencyKeyHeader),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<TransactionView>),
              (status = 400, description = "`VALIDATION_ERROR` or `INSUFFICIENT_CREDITS`", body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn consume(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    body: Json<ConsumeBody>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let cmd = ConsumeCredits::new(b.amount, b.description, b.usage_record_id)?;
    let tx = state.credits.consume(&caller.0, user.id, cmd).await?;
    state.telemetry.credits_consumed(tx.amount);
    Ok(render::ok(TransactionView::from(tx)))
}

#[utoipa::path(post, path = "/api/v1/users/{user_id}/credits/recharge", tag = "credits",
    request_body = RechargeBody, params(schema::UserIdParam, schema::IdempotencyKeyHeader),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "`{\"data\": TransactionView}`; a used `reference_id` returns the original", body = Data<TransactionView>), (status = 409, body = ErrorBody)))]
pub async fn recharge(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    body: Json<RechargeBody>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let cmd = RechargeCredits::new(b.amount, b.description, b.reference_id)?;
    let tx = state.credits.recharge(&caller.0, user.id, cmd).await?;
    Ok(render::ok(TransactionView::from(tx)))
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/credits/balance", tag = "credits",
    params(schema::UserIdParam), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "`{\"data\": 89.5}`: a bare exact number", body = Data<f64>)))]
pub async fn balance(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
) -> ApiResult<HttpResponse> {
    let balance = state.credits.balance(&caller.0, user.id).await?;
    Ok(render::ok(balance))
}

#[derive(Debug, Deserialize)]
pub struct TransactionsQuery {
    /// `consume` or `recharge`.
    pub transaction_type: Option<String>,
    #[serde(flatten)]
    pub page: PageQuery,
}

#[utoipa::path(get, path = "/api/v1/users/{user_id}/credits/transactions", tag = "credits",
    params(schema::UserIdParam, ("transaction_type" = Option<String>, Query, pattern = "^(consume|recharge)$"), PageQuery), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "newest first", body = Data<ListPage<TransactionView>>)))]
pub async fn transactions(
    state: web::Data<AppState>,
    caller: Authenticated,
    user: UserParam,
    query: web::Query<TransactionsQuery>,
) -> ApiResult<HttpResponse> {
    let kind = match query.transaction_type.as_deref() {
        Some(raw) => Some(
            Kind::parse(raw)
                .map_err(|m| user_service_domain::DomainError::field("transaction_type", m))?,
        ),
        None => None,
    };
    let paged = state
        .credits
        .transactions(&caller.0, user.id, kind, query.page.parse()?)
        .await?;
    Ok(render::ok(ListPage::from_paged(
        paged,
        TransactionView::from,
    )))
}
