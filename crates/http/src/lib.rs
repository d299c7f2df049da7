//! The actix-web adapter of the user service: routes, extractors, the error mapping, OpenAPI and
//! middleware. It is handed its services (`AppState`) by the composition root, `crates/server`.

pub mod app;
pub mod body_deadline;
pub mod edge;
pub mod error;
pub mod extract;
pub mod header_rules;
pub mod idempotency;
pub mod methods;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod rate_limit;
pub mod render;
pub mod request_context;
pub mod routes;
pub mod schema;
pub mod security_headers;
pub mod state;

pub use app::build_app;
pub use state::{AppState, CorsSettings, HttpSettings};
