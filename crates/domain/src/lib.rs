//! What the user service knows and decides.
//!
//! Value types that can only be built valid (`model`), the ports the service needs from the outside
//! world (`ports`), and one service per capability holding every rule of the contract (`services`).
//! Nothing here names a web framework, a database driver or an async runtime.

#![warn(missing_docs)]

pub mod error;
pub mod model;
pub mod ports;
pub mod services;
pub mod signing;
pub mod tokens;

pub use error::{DomainError, FieldError};
