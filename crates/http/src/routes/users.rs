//! `/api/v1/users*`: a namespace's admins and its service key manage its users. Who may is decided
//! by the domain (`managed_namespace`); these handlers only parse and render.

use std::collections::BTreeMap;

use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use user_service_domain::DomainError;
use user_service_domain::model::{
    Change, Checks, Email, Principal, ProfileInput, Role, SearchQuery, Username,
};
use user_service_domain::ports::UserFilter;
use user_service_domain::services::{NewUser, UserUpdate};
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::extract::{Caller, PageQuery, UserParam};
use crate::idempotency;
use crate::render::{self, Data, ListPage, UserView};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // The idempotency layer claims only POSTs, so the listing GET beside it passes through.
    cfg.service(
        web::resource("/users")
            .wrap(from_fn(idempotency::middleware))
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    // Before `/users/{id}`, which would otherwise take `search` for an id.
    .service(web::resource("/users/search").route(web::get().to(search)))
    .service(
        web::resource("/users/{id}")
            .route(web::get().to(get))
            .route(web::put().to(update))
            .route(web::patch().to(update))
            .route(web::delete().to(delete)),
    )
    .service(web::resource("/users/{id}/restore").route(web::post().to(restore)));
}

fn principal(caller: Caller) -> Result<Principal, DomainError> {
    caller.0.ok_or(DomainError::TokenMissing)
}

/// Clients of the original admin API send `""` for fields they leave alone.
fn present(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn roles(checks: &mut Checks, raw: Option<Vec<String>>) -> Option<Vec<Role>> {
    checks.check("roles", Role::parse_list(&raw?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    /// Defaults to the email.
    #[schema(schema_with = schema::username_or_empty)]
    pub username: Option<String>,
    #[schema(schema_with = schema::email)]
    pub email: String,
    /// Without one the account cannot log in until a password is set.
    #[schema(schema_with = schema::password_or_empty)]
    pub password: Option<String>,
    #[schema(schema_with = schema::full_name_or_empty)]
    pub full_name: Option<String>,
    #[schema(schema_with = schema::person_name_or_empty)]
    pub first_name: Option<String>,
    #[schema(schema_with = schema::person_name_or_empty)]
    pub last_name: Option<String>,
    #[schema(schema_with = schema::phone_or_empty)]
    pub phone: Option<String>,
    #[schema(schema_with = schema::extra)]
    pub extra: Option<BTreeMap<String, String>>,
    #[schema(schema_with = schema::roles)]
    pub roles: Option<Vec<String>>,
    /// When given, must be the caller's namespace (else 403).
    pub tenant_id: Option<String>,
    /// An import of an address proven elsewhere; false (the default) leaves it unverified.
    pub email_verified: Option<bool>,
}

impl CreateUserBody {
    fn validate(self) -> Result<NewUser, DomainError> {
        let mut checks = Checks::new();
        let email = checks.check("email", Email::parse(&self.email));
        let username =
            present(self.username).and_then(|u| checks.check("username", Username::parse(&u)));
        let password = present(self.password).and_then(|p| checks.password("password", &p));
        let set = |v: Option<String>| present(v).map_or(Change::Keep, Change::Set);
        let profile = ProfileInput {
            email: Change::Keep,
            full_name: set(self.full_name),
            first_name: set(self.first_name),
            last_name: set(self.last_name),
            phone: set(self.phone),
            extra: self.extra.map_or(Change::Keep, |m| {
                Change::Set(m.into_iter().map(|(k, v)| (k, Some(v))).collect())
            }),
        }
        .validate(&mut checks, true);
        let roles = roles(&mut checks, self.roles);
        checks.finish()?;
        let email = email.ok_or_else(|| DomainError::field("email", "is required"))?;
        Ok(NewUser {
            username,
            email,
            password,
            profile,
            roles,
            tenant_id: self.tenant_id,
            email_verified: self.email_verified.unwrap_or(false),
        })
    }
}

#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = CreateUserBody,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, body = Data<UserView>), (status = 409, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateUserBody>,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    let new = body.into_inner().validate()?;
    let user = state.admin.create(&caller, new).await?;
    Ok(render::created(UserView::from(user)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Option<bool>)]
    pub is_active: Option<String>,
    #[param(schema_with = schema::role_filter)]
    pub role: Option<String>,
    /// `true` includes soft-deleted users.
    #[param(value_type = Option<bool>)]
    pub include_deleted: Option<String>,
    #[serde(flatten)]
    #[param(ignore)]
    pub page: PageQuery,
}

fn flag(checks: &mut Checks, field: &str, raw: Option<&str>) -> Option<bool> {
    match raw? {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            checks.push(field, "must be true or false");
            None
        }
    }
}

#[utoipa::path(get, path = "/api/v1/users", tag = "admin", params(ListQuery, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<ListPage<UserView>>)))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    let q = query.into_inner();
    let mut checks = Checks::new();
    let is_active = flag(&mut checks, "is_active", q.is_active.as_deref());
    let include_deleted = flag(&mut checks, "include_deleted", q.include_deleted.as_deref());
    let role = q.role.filter(|r| !r.is_empty());
    if let Some(r) = &role {
        checks.check("role", Role::parse(r));
    }
    checks.finish()?;
    let page = q.page.parse()?;
    let filter = UserFilter {
        is_active,
        role,
        include_deleted: include_deleted.unwrap_or(false),
    };
    let users = state.admin.list(&caller, &filter, page).await?;
    Ok(render::ok(ListPage::from_paged(users, UserView::from)))
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    /// Required: absent reads as `""`, which is refused like any too-short query.
    #[serde(default)]
    pub q: String,
    #[serde(flatten)]
    pub page: PageQuery,
}

/// By hand: the derive drops `required` from a parameter whose schema is `schema_with`.
impl utoipa::IntoParams for SearchParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("q")
                .parameter_in(ParameterIn::Query)
                .required(Required::True)
                .description(Some("`\"quoted words\"` match as a phrase"))
                .schema(Some(schema::search_query()))
                .build(),
        ]
    }
}

#[utoipa::path(get, path = "/api/v1/users/search", tag = "admin", params(SearchParams, PageQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "best match first", body = Data<ListPage<UserView>>)))]
pub async fn search(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SearchParams>,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    let q = query.into_inner();
    let parsed = SearchQuery::parse(&q.q)?;
    let page = q.page.parse()?;
    let users = state.admin.search(&caller, &parsed, page).await?;
    Ok(render::ok(ListPage::from_paged(users, UserView::from)))
}

#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "admin", params(schema::IdParam),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<UserView>)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    user: UserParam,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    let user = state.admin.get(&caller, user.id).await?;
    Ok(render::ok(UserView::from(user)))
}

/// Every field optional; `""` leaves a field alone, `null` clears it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    #[serde(default)]
    #[schema(schema_with = schema::email_or_empty)]
    pub email: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::full_name_or_empty)]
    pub full_name: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::person_name_or_empty)]
    pub first_name: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::person_name_or_empty)]
    pub last_name: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::phone_or_empty)]
    pub phone: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::extra_patch)]
    pub extra: Change<BTreeMap<String, Option<String>>>,
    #[schema(schema_with = schema::roles)]
    pub roles: Option<Vec<String>>,
    pub is_active: Option<bool>,
    /// Marks the (new or current) email verified or not; a changed email is unverified unless
    /// this says otherwise.
    pub email_verified: Option<bool>,
    /// When given, must be the caller's namespace (else 403).
    pub tenant_id: Option<String>,
}

#[utoipa::path(method(put, patch), path = "/api/v1/users/{id}", tag = "admin", request_body = UpdateUserBody,
    params(schema::IdParam), security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<UserView>), (status = 409, body = ErrorBody)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    user: UserParam,
    body: Json<UpdateUserBody>,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    let id = user.id;
    let b = body.into_inner();
    let mut checks = Checks::new();
    let profile = ProfileInput {
        email: b.email,
        full_name: b.full_name,
        first_name: b.first_name,
        last_name: b.last_name,
        phone: b.phone,
        extra: b.extra,
    }
    .validate(&mut checks, true);
    let roles = roles(&mut checks, b.roles);
    checks.finish()?;
    let update = UserUpdate {
        profile,
        roles,
        is_active: b.is_active,
        email_verified: b.email_verified,
        tenant_id: b.tenant_id,
    };
    let user = state.admin.update(&caller, id, update).await?;
    Ok(render::ok(UserView::from(user)))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Message {
    pub message: &'static str,
}

#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "admin", params(schema::IdParam),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<Message>)))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    user: UserParam,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    state.admin.delete(&caller, user.id).await?;
    Ok(render::ok(Message {
        message: "User deleted successfully",
    }))
}

#[utoipa::path(post, path = "/api/v1/users/{id}/restore", tag = "admin", params(schema::IdParam),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, body = Data<UserView>),
              (status = 409, body = ErrorBody)))]
pub async fn restore(
    state: web::Data<AppState>,
    caller: Caller,
    user: UserParam,
) -> ApiResult<HttpResponse> {
    let caller = principal(caller)?;
    let user = state.admin.restore(&caller, user.id).await?;
    Ok(render::ok(UserView::from(user)))
}
