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

/// Seed 002's (Streamly's) own paths (API.md 7), at the root only: its frontend calls these, with
/// bodies that name no namespace. The handlers are those of 2.2 and 2.3, so every rule is theirs.
pub fn seed002(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/auth/register").route(web::post().to(auth::register)))
        .service(web::resource("/api/auth/login").route(web::post().to(auth::login)))
        .service(web::resource("/api/auth/me").route(web::get().to(me::get_me)));
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
