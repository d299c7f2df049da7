//! The actix-web adapter of the user service: routes, extractors, the error mapping, OpenAPI,
//! configuration and wiring. `main.rs` is a thin CLI over this library.

pub mod adapters;
pub mod app;
pub mod body_deadline;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod header_rules;
pub mod idempotency;
pub mod methods;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod render;
pub mod request_context;
pub mod routes;
pub mod schema;
pub mod security_headers;
pub mod state;

pub use app::build_app;
pub use config::Settings;
pub use state::AppState;
