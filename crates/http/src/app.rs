//! Builds the `App`: the binary and the tests call this same function.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, HttpResponse, web};
use user_service_domain::DomainError;

use crate::error::ApiError;
use crate::state::AppState;
use crate::state::CorsSettings;
use crate::{
    body_deadline, edge, extract, methods, metrics, openapi, rate_limit, request_context, routes,
    security_headers,
};

pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let cors = cors(&state.settings.cors);
    let default_namespace = state.settings.default_namespace.clone();
    App::new()
        .app_data(web::Data::new(state))
        .app_data(extract::json_config())
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .app_data(web::PayloadConfig::new(extract::JSON_LIMIT_BYTES))
        .configure(routes::ops::routes)
        .configure(edge::routes)
        .configure(routes::keys::well_known)
        .configure(|cfg| openapi::routes(cfg, &default_namespace))
        .service(web::scope("/api/v1").configure(routes::api_v1))
        .configure(routes::seed002)
        .configure(routes::integration)
        .configure(routes::uploads::routes)
        .default_service(web::to(not_found))
        .wrap(from_fn(extract::json_objects_only))
        // Innermost, so a 429 still gets CORS headers, metrics and a request id, and CORS preflights
        // are answered before they count. It skips `/health`, `/ready` and `/metrics` itself.
        .wrap(from_fn(rate_limit::middleware))
        // Credentials are parsed once, before the limiter reads whose they are.
        .wrap(from_fn(extract::credentials_middleware))
        .wrap(cors)
        .wrap(from_fn(metrics::middleware))
        .wrap(from_fn(body_deadline::middleware))
        .wrap(from_fn(methods::middleware))
        .wrap(from_fn(request_context::middleware))
        .wrap(from_fn(security_headers::middleware))
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError(DomainError::NotFound))
}

/// Origins, methods and headers from configuration; credentials only for listed origins.
fn cors(settings: &CorsSettings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(settings.allowed_methods.iter().map(String::as_str))
        .allowed_headers(settings.allowed_headers.iter().map(String::as_str))
        .expose_headers([
            "x-request-id",
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ])
        .max_age(3600);
    if settings.allowed_origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin();
    } else {
        for origin in &settings.allowed_origins {
            cors = cors.allowed_origin(origin);
        }
        if !settings.allowed_origins.is_empty() {
            cors = cors.supports_credentials();
        }
    }
    cors
}
