//! Diesel adapters of the domain's repository ports: one code path for SQLite and PostgreSQL.
//!
//! [`Database`] is a pool over either backend, picked by the URL scheme; every adapter runs its queries
//! through [`Database::run`], off the async executor, except the principal read, which is cheaper
//! inline on SQLite and on an async connection on PostgreSQL (`async_pg`). The schema is the same in both migration folders,
//! in portable column types, so a query is written once.

mod async_pg;
mod connection;
mod database;
mod email;
mod errors;
mod group_commit;
mod idempotency;
mod identity_links;
mod ledger;
mod migrations;
mod models;
mod name_keys;
mod namespaces;
mod paging;
mod read_batch;
mod refresh_tokens;
pub mod schema;
mod sessions;
mod signing_keys;
#[cfg(feature = "testing")]
pub mod testing;
mod usage;
mod user_search;
mod users;

pub use connection::{DbConnection, write_transaction};
pub use database::{Backend, Database, PoolStatus};
pub use email::{DieselEmailTokens, DieselOutbox};
pub use errors::DbError;
pub use idempotency::DieselIdempotencyStore;
pub use identity_links::DieselIdentityLinks;
pub use ledger::DieselCreditLedger;
pub use name_keys::{NameCollision, NameField, NameKeyReport};
pub use namespaces::DieselNamespaces;
pub use refresh_tokens::DieselRefreshTokens;
pub use sessions::DieselSessions;
pub use signing_keys::DieselSigningKeys;
pub use usage::DieselUsage;
pub use users::DieselUsers;
