//! `/auth/password-reset*` and `/auth/verify-email*` (API.md 2.4): the JSON routes apps call, and
//! the service's own two pages the links in mails lead to when a namespace has none of its own.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use user_service_domain::DomainError;
use user_service_domain::model::{Checks, Email, Password};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{CurrentUser, Json};
use crate::pages;
use crate::render::{self, Data, TokenResponse, UserView};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/auth/password-reset/request").route(web::post().to(request_password_reset)),
    )
    .service(
        web::resource("/auth/password-reset/confirm").route(web::post().to(confirm_password_reset)),
    )
    .service(
        web::resource("/auth/verify-email/request").route(web::post().to(request_verification)),
    )
    .service(
        web::resource("/auth/verify-email/confirm").route(web::post().to(confirm_verification)),
    )
    .service(
        web::resource("/auth/password-reset")
            .route(web::get().to(reset_page))
            .route(web::post().to(reset_form)),
    )
    .service(web::resource("/auth/verify-email").route(web::get().to(verify_page)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub message: &'static str,
}

fn accepted(message: &'static str) -> HttpResponse {
    HttpResponse::Accepted().json(Data {
        data: Accepted { message },
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    #[schema(schema_with = schema::namespace_slug_or_default)]
    pub namespace: Option<String>,
    #[schema(schema_with = schema::email)]
    pub email: String,
}

/// Always 202 with the same body, whether or not such an account exists (no enumeration).
#[utoipa::path(post, path = "/auth/password-reset/request", tag = "auth",
    request_body = ResetRequestBody,
    responses((status = 202, body = Data<Accepted>,
        description = "the same answer whether or not a live account has this email")))]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    body: Json<ResetRequestBody>,
) -> ApiResult<HttpResponse> {
    let ResetRequestBody { namespace, email } = body.into_inner();
    let mut checks = Checks::new();
    let namespace = checks.check(
        "namespace",
        state.settings.default_namespace.slug(namespace),
    );
    let email = checks.check("email", Email::parse(&email));
    checks.finish()?;
    if let (Some(namespace), Some(email)) = (namespace, email) {
        state
            .email
            .request_password_reset(&namespace, &email)
            .await?;
    }
    Ok(accepted(
        "if an account of this namespace has this email, a link to reset its password is on its way",
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmBody {
    /// The token of the link in the mail.
    pub token: String,
    #[schema(schema_with = schema::password)]
    pub new_password: String,
}

#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "auth",
    request_body = ResetConfirmBody,
    responses((status = 200, body = TokenResponse,
        description = "a fresh pair; every other session of the user has ended"),
        (status = 400, body = ErrorBody, description = "`EMAIL_TOKEN_INVALID` or a password rule")))]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    body: Json<ResetConfirmBody>,
) -> ApiResult<HttpResponse> {
    let mut checks = Checks::new();
    let new = checks.password("new_password", &body.new_password);
    checks.finish()?;
    let new = new.ok_or_else(|| DomainError::field("new_password", "is invalid"))?;
    let pair = state.email.confirm_password_reset(&body.token, new).await?;
    Ok(render::tokens(StatusCode::OK, TokenResponse::from(pair)))
}

#[utoipa::path(post, path = "/auth/verify-email/request", tag = "auth", security(("bearer" = [])),
    responses((status = 202, body = Data<Accepted>),
        (status = 400, body = ErrorBody, description = "the account has no email")))]
pub async fn request_verification(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> ApiResult<HttpResponse> {
    state.email.request_verification(&user.0).await?;
    Ok(accepted(
        "a verification link is on its way to the account's email",
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// The token of the link in the mail.
    pub token: String,
}

#[utoipa::path(post, path = "/auth/verify-email/confirm", tag = "auth", request_body = TokenBody,
    responses((status = 200, body = Data<UserView>, description = "with `email_verified: true`"),
        (status = 400, body = ErrorBody, description = "`EMAIL_TOKEN_INVALID`")))]
pub async fn confirm_verification(
    state: web::Data<AppState>,
    body: Json<TokenBody>,
) -> ApiResult<HttpResponse> {
    let user = state.email.confirm_verification(&body.token).await?;
    Ok(render::ok(UserView::from(user)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct TokenQuery {
    /// The token of the link in the mail.
    pub token: Option<String>,
}

/// The service's own page: a form for the new password, posted back to this address. Works
/// without JavaScript; nothing is used until the form is sent.
#[utoipa::path(get, path = "/auth/password-reset", tag = "auth", params(TokenQuery),
    responses((status = 200, content_type = "text/html", description = "the form"),
        (status = 400, content_type = "text/html", description = "the link has no token")))]
pub async fn reset_page(query: web::Query<TokenQuery>) -> HttpResponse {
    match query.into_inner().token.filter(|t| !t.is_empty()) {
        Some(token) => pages::reset_form(StatusCode::OK, &token, None),
        None => pages::invalid_link(),
    }
}

/// The form of the reset page, as a browser posts it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ResetForm {
    pub token: String,
    pub new_password: String,
    pub confirm_password: String,
}

#[utoipa::path(post, path = "/auth/password-reset", tag = "auth",
    request_body(content = ResetForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "the password is set"),
        (status = 400, content_type = "text/html",
            description = "the form again with what to correct, or an invalid link")))]
pub async fn reset_form(state: web::Data<AppState>, body: web::Bytes) -> HttpResponse {
    let Ok(form) = serde_urlencoded::from_bytes::<ResetForm>(&body) else {
        return pages::invalid_link();
    };
    if form.new_password != form.confirm_password {
        return pages::reset_form(
            StatusCode::BAD_REQUEST,
            &form.token,
            Some("The two passwords differ."),
        );
    }
    let new = match Password::parse(&form.new_password) {
        Ok(new) => new,
        Err(DomainError::PasswordTooLong) => {
            return pages::reset_form(
                StatusCode::BAD_REQUEST,
                &form.token,
                Some("The password is longer than 72 bytes."),
            );
        }
        Err(_) => {
            return pages::reset_form(
                StatusCode::BAD_REQUEST,
                &form.token,
                Some("The password needs at least 8 characters."),
            );
        }
    };
    match state.email.confirm_password_reset(&form.token, new).await {
        Ok(_) => pages::password_changed(),
        Err(DomainError::EmailTokenInvalid) => pages::invalid_link(),
        Err(e) => pages::failure(&e),
    }
}

/// The service's own page: following the link verifies the address.
#[utoipa::path(get, path = "/auth/verify-email", tag = "auth", params(TokenQuery),
    responses((status = 200, content_type = "text/html", description = "the email is verified"),
        (status = 400, content_type = "text/html", description = "the link is invalid or expired")))]
pub async fn verify_page(
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let Some(token) = query.into_inner().token.filter(|t| !t.is_empty()) else {
        return pages::invalid_link();
    };
    match state.email.confirm_verification(&token).await {
        Ok(user) => pages::email_verified(user.email.as_deref().unwrap_or_default()),
        Err(DomainError::EmailTokenInvalid) => pages::invalid_link(),
        Err(e) => pages::failure(&e),
    }
}
