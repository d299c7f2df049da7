//! The HTTP routes, one module per resource family. Handlers are thin: extract, call one service
//! method, render.

pub mod auth;
pub mod avatars;
pub mod credits;
pub mod email;
pub mod keys;
pub mod me;
pub mod namespaces;
pub mod ops;
pub mod sessions;
pub mod uploads;
pub mod usage;
pub mod users;

use actix_web::web;

/// The integration contract (section 2): served at the root and under `/api/v1`.
pub fn integration(cfg: &mut web::ServiceConfig) {
    namespaces::routes(cfg);
    auth::routes(cfg);
    email::routes(cfg);
    me::routes(cfg);
    avatars::routes(cfg);
    keys::routes(cfg);
}

/// Everything under `/api/v1`.
pub fn api_v1(cfg: &mut web::ServiceConfig) {
    // `/users/me` (integration) is registered before the admin `/users/{id}`.
    integration(cfg);
    users::routes(cfg);
    credits::routes(cfg);
    usage::routes(cfg);
    sessions::routes(cfg);
}
