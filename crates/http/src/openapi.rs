//! The OpenAPI document, generated from the handlers' annotations, and the documentation page whose
//! assets are compiled into the binary.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{auth, avatars, credits, me, namespaces, ops, sessions, uploads, usage, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "user-service", description = "Multi-tenant users, tokens and profiles. \
        The integration routes (`/userspaces`, `/auth/*`, `/users/me`) are served at the root and under `/api/v1`."),
    paths(
        namespaces::create, namespaces::list, namespaces::get, namespaces::rotate_key,
        auth::register, auth::login, auth::refresh, auth::logout, auth::logout_all, auth::change_password,
        me::get_me, me::update_me, me::delete_me,
        avatars::upload_avatar, avatars::delete_avatar, uploads::get_upload,
        ops::health, ops::ready, ops::metrics,
        users::create, users::list, users::search, users::get, users::update, users::delete, users::restore,
        credits::consume, credits::recharge, credits::balance, credits::transactions,
        usage::record, usage::record_batch, usage::history, usage::stats,
        sessions::create, sessions::list, sessions::get, sessions::set_status, sessions::add_message,
        sessions::messages,
    ),
    modifiers(&Security),
    tags((name = "namespaces"), (name = "auth"), (name = "users"), (name = "admin"), (name = "operations"),
         (name = "credits"), (name = "usage"), (name = "sessions"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "operator_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Admin-Key"))),
        );
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let doc = ApiDoc::openapi();
    let json = doc.to_pretty_json().unwrap_or_else(|_| "{}".into());
    cfg.service(web::resource("/openapi.json").route(web::get().to(move || {
        let json = json.clone();
        async move {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(json)
        }
    })))
    .service(web::resource("/docs").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header(("Location", "/docs/"))
            .finish()
    })))
    .service(SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi.json", doc));
}
