//! One service per capability. Each holds the ports it needs and enforces every rule of the contract
//! that is not pure HTTP.

mod admin;
mod auth;
mod avatars;
mod login_throttle;
mod namespaces;
mod profile;

pub use admin::{AdminService, NewUser, UserUpdate, managed_namespace};
pub use auth::{AuthPolicy, AuthService, Registration, new_user};
pub use avatars::AvatarService;
pub use login_throttle::{LoginThrottle, ThrottlePolicy};
pub use namespaces::{NamespaceService, NewNamespace};
pub use profile::ProfileService;

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod avatars_tests;
#[cfg(test)]
mod login_throttle_tests;
#[cfg(test)]
mod namespaces_tests;
#[cfg(test)]
mod profile_tests;
