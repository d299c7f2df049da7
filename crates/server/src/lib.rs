//! The composition root: configuration, the command line, the wiring of adapters into the domain
//! services, and the adapters that need the runtime. The only crate that knows which database,
//! store and limiter the driving adapters (HTTP, gRPC) run on.

pub mod adapters;
pub mod cli;
pub mod config;
pub mod wiring;

pub use config::Settings;
pub use wiring::Wiring;
