//! What the domain needs from the outside world, one trait per need. Adapters live in other crates;
//! mocks of every port are exported behind the `mock` feature.

mod avatars;
mod clock;
mod email;
mod idempotency;
mod identities;
mod ledger;
mod namespaces;
mod passwords;
mod rate_limits;
mod refresh_tokens;
mod sessions;
mod signing_keys;
mod telemetry;
mod usage;
mod users;

pub use avatars::{AvatarStore, ImageProcessor, ProcessedImage, StoredAvatar};
pub use clock::{Clock, IdGenerator, ManualClock, SystemClock, SystemIds};
pub use email::{DeliveryError, EmailTokenRepository, MailOutbox, MailTransport};
pub use idempotency::IdempotencyStore;
pub use identities::{ExternalTokenRefusal, ExternalTokenVerifier, IdentityLinkRepository};
pub use ledger::CreditLedger;
pub use namespaces::NamespaceRepository;
pub use passwords::PasswordHasher;
pub use rate_limits::{Pause, RateLimitStore, WindowCount};
pub use refresh_tokens::RefreshTokenRepository;
pub use sessions::SessionRepository;
pub use signing_keys::{InlineKeyGenerator, KeyGenerator, SigningKeyRepository};
pub use telemetry::{DatabaseHealth, ExternalTokenOutcome, Protocol, RequestOutcome, Telemetry};
pub use usage::UsageRepository;
pub use users::{AvatarRef, LoginName, UserFilter, UserRepository};

#[cfg(any(test, feature = "mock"))]
pub use avatars::{MockAvatarStore, MockImageProcessor};
#[cfg(any(test, feature = "mock"))]
pub use clock::{MockClock, MockIdGenerator};
#[cfg(any(test, feature = "mock"))]
pub use email::{MockEmailTokenRepository, MockMailOutbox, MockMailTransport};
#[cfg(any(test, feature = "mock"))]
pub use idempotency::MockIdempotencyStore;
#[cfg(any(test, feature = "mock"))]
pub use identities::{MockExternalTokenVerifier, MockIdentityLinkRepository};
#[cfg(any(test, feature = "mock"))]
pub use ledger::MockCreditLedger;
#[cfg(any(test, feature = "mock"))]
pub use namespaces::MockNamespaceRepository;
#[cfg(any(test, feature = "mock"))]
pub use passwords::MockPasswordHasher;
#[cfg(any(test, feature = "mock"))]
pub use rate_limits::{MockPause, MockRateLimitStore};
#[cfg(any(test, feature = "mock"))]
pub use refresh_tokens::MockRefreshTokenRepository;
#[cfg(any(test, feature = "mock"))]
pub use sessions::MockSessionRepository;
#[cfg(any(test, feature = "mock"))]
pub use signing_keys::{MockKeyGenerator, MockSigningKeyRepository};
#[cfg(any(test, feature = "mock"))]
pub use telemetry::MockDatabaseHealth;
#[cfg(any(test, feature = "mock"))]
pub use usage::MockUsageRepository;
#[cfg(any(test, feature = "mock"))]
pub use users::MockUserRepository;
