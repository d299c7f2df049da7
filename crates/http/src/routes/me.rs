//! `/users/me`: the caller's own account.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use user_service_domain::DomainError;
use user_service_domain::model::{Change, Checks, ProfileInput};

use crate::error::ApiResult;
use crate::extract::CurrentUser;
use crate::extract::Json;
use crate::rate_limit::ClientIp;
use crate::render::{self, Data, UserView};
use crate::schema;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/me")
            .route(web::get().to(get_me))
            .route(web::patch().to(update_me))
            .route(web::delete().to(delete_me)),
    );
}

#[utoipa::path(get, path = "/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Data<UserView>)))]
pub async fn get_me(user: CurrentUser) -> HttpResponse {
    render::ok(UserView::from(user.0))
}

/// A field set to `null` is cleared; `extra` is merged key by key.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeBody {
    #[serde(default)]
    #[schema(schema_with = schema::email_nullable)]
    pub email: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::full_name_nullable)]
    pub full_name: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::person_name_nullable)]
    pub first_name: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::person_name_nullable)]
    pub last_name: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::phone_nullable)]
    pub phone: Change<String>,
    #[serde(default)]
    #[schema(schema_with = schema::extra_patch)]
    pub extra: Change<BTreeMap<String, Option<String>>>,
    // Cannot change here: present means 400 naming the field, so they are read but not documented
    // (the document's `additionalProperties: false` refuses them too).
    #[serde(default)]
    #[schema(ignore)]
    pub username: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub roles: Option<serde_json::Value>,
    #[serde(default)]
    #[schema(ignore)]
    pub namespace: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/users/me", tag = "users", request_body = UpdateMeBody, security(("bearer" = [])),
    responses((status = 200, body = Data<UserView>)))]
pub async fn update_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: Json<UpdateMeBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let mut checks = Checks::new();
    for (field, present) in [
        ("username", body.username.is_some()),
        ("roles", body.roles.is_some()),
        ("namespace", body.namespace.is_some()),
    ] {
        if present {
            checks.push(field, "cannot be changed here");
        }
    }
    let changes = ProfileInput {
        email: body.email,
        full_name: body.full_name,
        first_name: body.first_name,
        last_name: body.last_name,
        phone: body.phone,
        extra: body.extra,
    }
    .validate(&mut checks, false);
    checks.finish()?;
    let updated = state.profiles.update(&user.0, changes).await?;
    Ok(render::ok(UserView::from(updated)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeBody {
    pub password: String,
}

#[utoipa::path(delete, path = "/users/me", tag = "users", request_body = DeleteMeBody, security(("bearer" = [])),
    responses((status = 204, description = "soft-deleted")))]
pub async fn delete_me(
    state: web::Data<AppState>,
    user: CurrentUser,
    ip: ClientIp,
    body: Json<DeleteMeBody>,
) -> ApiResult<HttpResponse> {
    if body.password.is_empty() {
        return Err(DomainError::field("password", "is required").into());
    }
    state
        .profiles
        .delete(&user.0, &body.password, &ip.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
