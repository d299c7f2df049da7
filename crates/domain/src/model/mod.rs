//! Entities and the value types that can only be built valid.

pub mod avatar;
pub mod credits;
pub mod namespace;
pub mod page;
pub mod principal;
pub mod profile;
pub mod search;
pub mod token;
pub mod user;
pub mod values;

pub use avatar::{AvatarKey, ImageFormat};
pub use credits::Credits;
pub use namespace::{Namespace, NamespaceSlug};
pub use page::{PageRequest, Paged};
pub use principal::{Credentials, Principal};
pub use profile::{Change, ExtraChange, ProfileChanges, ProfileInput};
pub use search::{SearchQuery, SearchTerm};
pub use token::{AccessClaims, RefreshToken, TokenPair};
pub use user::{Role, User};
pub use values::{Checks, Email, Extra, FullName, Password, PersonName, Phone, Username};
