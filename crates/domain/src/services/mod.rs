//! One service per capability. Each holds the ports it needs and enforces every rule of the contract
//! that is not pure HTTP.

pub mod access;
mod admin;
mod auth;
mod avatars;
mod credits;
mod email;
mod idempotency;
mod identities;
mod login_throttle;
mod mail;
mod namespaces;
mod outbox;
mod profile;
mod rate_limiter;
mod sessions;
mod signing_keys;
mod usage;

pub use admin::{AdminService, NewUser, UserUpdate, check_request_tenant, managed_namespace};
pub use auth::{AuthPolicy, AuthService, Registration, VerifiedBearer, new_user};
pub use avatars::AvatarService;
pub use credits::CreditService;
pub use email::EmailService;
pub use idempotency::{Begin, IN_FLIGHT_LEASE_SECS, IdempotencyService, ScopedKey, fingerprint};
pub use identities::IdentityService;
pub use login_throttle::{Account, LoginThrottle, ThrottlePolicy};
pub use mail::{MailPolicy, Mailer, html_escape, own_page};
pub use namespaces::{NamespaceService, NewNamespace};
pub use outbox::{DeliveryPolicy, DeliveryReport, OutboxSender};
pub use profile::ProfileService;
pub use rate_limiter::{Decision, RateLimiter};
pub use sessions::SessionService;
pub use signing_keys::SigningKeyService;
pub use usage::UsageService;

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod avatars_tests;
#[cfg(test)]
mod credits_tests;
#[cfg(test)]
mod email_tests;
#[cfg(test)]
mod idempotency_tests;
#[cfg(test)]
mod identities_tests;
#[cfg(test)]
mod login_throttle_tests;
#[cfg(test)]
mod namespaces_tests;
#[cfg(test)]
mod profile_tests;
#[cfg(test)]
mod sessions_tests;
#[cfg(test)]
mod signing_keys_tests;
#[cfg(test)]
mod usage_tests;
