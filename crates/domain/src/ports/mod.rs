//! What the domain needs from the outside world, one trait per need. Adapters live in other crates;
//! mocks of every port are exported behind the `mock` feature.

mod avatars;
mod clock;
mod namespaces;
mod passwords;
mod rate_limits;
mod refresh_tokens;
mod users;

pub use avatars::{AvatarStore, ImageProcessor, ProcessedImage, StoredAvatar};
pub use clock::{Clock, IdGenerator, SystemClock, SystemIds};
pub use namespaces::NamespaceRepository;
pub use passwords::PasswordHasher;
pub use rate_limits::{RateLimitStore, WindowCount};
pub use refresh_tokens::RefreshTokenRepository;
pub use users::{AvatarRef, LoginName, UserFilter, UserRepository};

#[cfg(any(test, feature = "mock"))]
pub use avatars::{MockAvatarStore, MockImageProcessor};
#[cfg(any(test, feature = "mock"))]
pub use clock::{MockClock, MockIdGenerator};
#[cfg(any(test, feature = "mock"))]
pub use namespaces::MockNamespaceRepository;
#[cfg(any(test, feature = "mock"))]
pub use passwords::MockPasswordHasher;
#[cfg(any(test, feature = "mock"))]
pub use rate_limits::MockRateLimitStore;
#[cfg(any(test, feature = "mock"))]
pub use refresh_tokens::MockRefreshTokenRepository;
#[cfg(any(test, feature = "mock"))]
pub use users::MockUserRepository;
