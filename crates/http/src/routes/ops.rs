//! Operations: health, readiness, metrics. Never rate limited, never authenticated.

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(health)))
        .service(web::resource("/ready").route(web::get().to(ready)))
        .service(web::resource("/metrics").route(web::get().to(metrics)));
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    if state.database.ping().await {
        HttpResponse::Ok().json(Health {
            status: "healthy",
            database: "ok",
        })
    } else {
        HttpResponse::ServiceUnavailable().json(Health {
            status: "unhealthy",
            database: "unavailable",
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ready {
    /// `ready` or `not_ready`.
    pub status: &'static str,
}

/// Migrations run before the server listens, so the database answering is what is left to check.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.database.ping().await {
        HttpResponse::Ok().json(Ready { status: "ready" })
    } else {
        HttpResponse::ServiceUnavailable().json(Ready {
            status: "not_ready",
        })
    }
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.telemetry.render())
}
