//! `/auth/*`: register, login, refresh, logout, logout-all, change-password.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use user_service_domain::DomainError;
use user_service_domain::model::{
    Change, Checks, DefaultNamespace, ProfileInput, TokenPair, User, Username,
};
use user_service_domain::ports::LoginName;
use user_service_domain::services::Registration;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Json;
use crate::extract::{CurrentUser, request_credentials};
use crate::rate_limit::ClientIp;
use crate::render::{self, TokenResponse, UserView};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/register").route(web::post().to(register)))
        .service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/auth/logout-all").route(web::post().to(logout_all)))
        .service(web::resource("/auth/change-password").route(web::post().to(change_password)));
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    #[schema(schema_with = schema::namespace_slug_or_default)]
    pub namespace: Option<String>,
    #[schema(schema_with = schema::username)]
    pub username: String,
    #[schema(schema_with = schema::password)]
    pub password: String,
    #[schema(schema_with = schema::email_nullable)]
    pub email: Option<String>,
    #[schema(schema_with = schema::full_name_nullable)]
    pub full_name: Option<String>,
    #[schema(schema_with = schema::person_name_nullable)]
    pub first_name: Option<String>,
    #[schema(schema_with = schema::person_name_nullable)]
    pub last_name: Option<String>,
    #[schema(schema_with = schema::phone_nullable)]
    pub phone: Option<String>,
    #[schema(schema_with = schema::extra)]
    pub extra: Option<BTreeMap<String, String>>,
}

fn optional(v: Option<String>) -> Change<String> {
    v.map_or(Change::Keep, Change::Set)
}

impl RegisterBody {
    fn validate(self, default: &DefaultNamespace) -> Result<Registration, DomainError> {
        let mut checks = Checks::new();
        let namespace = checks.check("namespace", default.slug(self.namespace));
        let username = checks.check("username", Username::parse(&self.username));
        let password = checks.password("password", &self.password);
        let profile = ProfileInput {
            email: optional(self.email),
            full_name: optional(self.full_name),
            first_name: optional(self.first_name),
            last_name: optional(self.last_name),
            phone: optional(self.phone),
            extra: self.extra.map_or(Change::Keep, |m| {
                Change::Set(m.into_iter().map(|(k, v)| (k, Some(v))).collect())
            }),
        }
        .validate(&mut checks, false);
        checks.finish()?;
        match (namespace, username, password) {
            (Some(namespace), Some(username), Some(password)) => Ok(Registration {
                namespace,
                username,
                password,
                profile,
            }),
            _ => Err(DomainError::BadRequest("invalid registration".into())),
        }
    }
}

/// The token response plus the account: what register and login answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokensWithUser {
    #[serde(flatten)]
    pub tokens: TokenResponse,
    pub user: UserView,
}

impl From<(User, TokenPair)> for TokensWithUser {
    fn from((user, tokens): (User, TokenPair)) -> Self {
        Self {
            tokens: tokens.into(),
            user: user.into(),
        }
    }
}

#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = TokensWithUser), (status = 404, body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    body: Json<RegisterBody>,
) -> ApiResult<HttpResponse> {
    let registration = body
        .into_inner()
        .validate(&state.settings.default_namespace)?;
    let registered = state.auth.register(registration).await?;
    Ok(render::tokens(
        StatusCode::CREATED,
        TokensWithUser::from(registered),
    ))
}

/// The account is named by `username` or by `email`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(schema_with = schema::namespace_slug_or_default)]
    pub namespace: Option<String>,
    /// Either `username` or `email`.
    pub username: Option<String>,
    pub email: Option<String>,
    pub password: String,
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokensWithUser), (status = 401, body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: Json<LoginBody>,
) -> ApiResult<HttpResponse> {
    let LoginBody {
        namespace,
        username,
        email,
        password,
    } = body.into_inner();
    let namespace = state
        .settings
        .default_namespace
        .resolve(namespace)
        .map_err(|m| DomainError::field("namespace", m))?;
    let name = match (username, email) {
        (Some(u), _) => LoginName::username(&u),
        (None, Some(e)) => LoginName::email(&e),
        (None, None) => {
            return Err(DomainError::field("username", "username or email is required").into());
        }
    };
    let result = state.auth.login(&namespace, name, &password, &ip.0).await;
    if matches!(&result, Ok(_) | Err(DomainError::InvalidCredentials)) {
        state.telemetry.login(result.is_ok());
    }
    Ok(render::tokens(
        StatusCode::OK,
        TokensWithUser::from(result?),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RefreshBody>,
) -> ApiResult<HttpResponse> {
    let tenant = request_credentials(&req)?.tenant;
    let pair = state
        .auth
        .refresh(&body.refresh_token, tenant.as_deref())
        .await?;
    Ok(render::tokens(StatusCode::OK, TokenResponse::from(pair)))
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshBody,
    responses((status = 204, description = "that login's refresh tokens are revoked")))]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshBody>,
) -> ApiResult<HttpResponse> {
    state.auth.logout(&body.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "every refresh token revoked, every access token stale")))]
pub async fn logout_all(state: web::Data<AppState>, user: CurrentUser) -> ApiResult<HttpResponse> {
    state.auth.logout_all(&user.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    pub current_password: String,
    #[schema(schema_with = schema::password)]
    pub new_password: String,
}

#[utoipa::path(post, path = "/auth/change-password", tag = "auth", request_body = ChangePasswordBody,
    security(("bearer" = [])),
    responses((status = 200, body = TokenResponse)))]
pub async fn change_password(
    state: web::Data<AppState>,
    user: CurrentUser,
    ip: ClientIp,
    body: Json<ChangePasswordBody>,
) -> ApiResult<HttpResponse> {
    let mut checks = Checks::new();
    let new = checks.password("new_password", &body.new_password);
    checks.finish()?;
    let new = new.ok_or_else(|| DomainError::field("new_password", "is invalid"))?;
    let pair = state
        .auth
        .change_password(&user.0, &body.current_password, new, &ip.0)
        .await?;
    Ok(render::tokens(StatusCode::OK, TokenResponse::from(pair)))
}
