//! The contract of each repository port, written once against a `Database` and run on SQLite and on
//! PostgreSQL, every test in a fresh database. PostgreSQL must be reachable (`TEST_POSTGRES_URL`).

#[macro_use]
mod support;

mod avatars;
mod database;
mod email;
mod idempotency;
mod identity_links;
mod ledger;
mod names;
mod namespaces;
mod principal_reads;
mod refresh_tokens;
mod sessions;
mod signing_keys;
mod usage;
mod user_admin;
mod user_counts;
mod user_search;
mod users;
