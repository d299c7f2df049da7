//! One service per capability. Each holds the ports it needs and enforces every rule of the contract
//! that is not pure HTTP.

mod auth;
mod namespaces;
mod profile;

pub use auth::{AuthPolicy, AuthService, Registration};
pub use namespaces::{NamespaceService, NewNamespace};
pub use profile::ProfileService;
