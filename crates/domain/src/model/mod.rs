//! Entities and the value types that can only be built valid.

pub mod avatar;
pub mod client_address;
pub mod credits;
pub mod email;
pub mod idempotency;
pub mod identity;
pub mod json_object;
pub mod ledger;
pub mod namespace;
pub mod number;
pub mod page;
pub mod principal;
pub mod profile;
pub mod request_id;
pub mod search;
pub mod session;
pub mod signing_key;
pub mod text;
pub mod token;
pub mod usage;
pub mod user;
pub mod values;

pub use avatar::{AvatarKey, ImageFormat};
pub use client_address::TrustedProxies;
pub use credits::Credits;
pub use email::{
    EmailPurpose, EmailToken, Issued, Mail, MailQuota, OutboxCounts, OutboxMail, OutboxStatus,
};
pub use idempotency::{Claim, IdempotencyKey, IdempotencyRecord, StoredResponse};
pub use identity::{
    ExternalIdentity, ExternalIssuer, ExternalIssuers, ExternalSubject, IdentityLink, username_from,
};
pub use json_object::JsonObject;
pub use ledger::{
    ConsumeCredits, CreditTransaction, NewTransaction, RechargeCredits, TransactionType,
};
pub use namespace::{
    DefaultNamespace, LinkUrl, Namespace, NamespaceChanges, NamespaceSettings, NamespaceSlug,
    link_with_token,
};
pub use number::Count;
pub use page::{PageRequest, Paged};
pub use principal::{Credentials, Principal};
pub use profile::{Change, ExtraChange, ProfileChanges, ProfileInput, UserChanges};
pub use search::{SearchQuery, SearchTerm};
pub use session::{
    MessageDraft, MessageInput, MessageRole, NewSession, Session, SessionDraft, SessionInput,
    SessionMessage, SessionStatus,
};
pub use signing_key::{SigningAlgorithm, SigningKeyInfo, SigningKeyRecord};
pub use token::{AccessClaims, RefreshToken, Rotation, TokenPair};
pub use usage::{DateRange, NewUsageRecord, UsageEvent, UsageInput, UsageRecord, UsageStats};
pub use user::{Role, User};
pub use values::{Checks, Email, Extra, FullName, Password, PersonName, Phone, Username};
