//! The schema migrations of both dialects, compiled into the binary.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::DbConnection;
use crate::database::Database;
use crate::errors::DbError;
use crate::name_keys::{self, NameKeyReport};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Instances starting together against one PostgreSQL database take turns migrating; an arbitrary
/// but fixed advisory lock key names the turn.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7305214631)";
const PG_MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7305214631)";

impl Database {
    /// Applies every pending migration of this backend's dialect, then fills the name keys SQL
    /// cannot compute (`name_keys`). Each collision that leaves an account without a key is logged
    /// as an error and returned, every time the service starts, until an operator resolves it.
    pub fn run_migrations(&self) -> Result<NameKeyReport, DbError> {
        let mut conn = self.get_blocking()?;
        let conn: &mut DbConnection = &mut conn;
        let postgres = matches!(conn, DbConnection::Pg(_));
        if postgres {
            conn.batch_execute(PG_MIGRATION_LOCK).map_err(failed)?;
        }
        let done = migrate_and_key(conn);
        // Released even when migrating failed: the connection goes back to the pool.
        if postgres {
            conn.batch_execute(PG_MIGRATION_UNLOCK).map_err(failed)?;
        }
        let (applied, report) = done?;
        tracing::info!(applied, backend = %self.backend(), keyed = report.keyed, "database migrations are up to date");
        for c in &report.collisions {
            tracing::error!(
                namespace = %c.namespace,
                field = c.field.as_str(),
                user_id = %c.user_id,
                holder_id = %c.holder_id,
                "two live accounts have one name under Unicode comparison: the later one cannot log in \
                 by this name until it is renamed or deleted (docs/DECISIONS.md)"
            );
        }
        Ok(report)
    }
}

#[cfg(feature = "testing")]
impl Database {
    /// Reverts every applied migration from `version` (a folder name's leading version, such as
    /// `2026-12-03-100014`) on, newest first: a test then writes rows as an older schema had them
    /// and migrates again to see what the migration makes of them.
    pub fn revert_migrations_from(&self, version: &str) -> Result<(), DbError> {
        // Diesel's versions are the folder names' leading digits without the dashes.
        let version: String = version.chars().filter(char::is_ascii_digit).collect();
        let mut conn = self.get_blocking()?;
        let conn: &mut DbConnection = &mut conn;
        loop {
            let applied = match conn {
                DbConnection::Pg(pg) => pg.applied_migrations(),
                DbConnection::Sqlite(sqlite) => sqlite.applied_migrations(),
            }
            .map_err(failed)?;
            let newest = applied
                .iter()
                .map(|v| {
                    v.to_string()
                        .chars()
                        .filter(char::is_ascii_digit)
                        .collect::<String>()
                })
                .max();
            match newest {
                Some(newest) if newest >= version => {}
                _ => return Ok(()),
            }
            match conn {
                DbConnection::Pg(pg) => pg.revert_last_migration(POSTGRES).map(|_| ()),
                DbConnection::Sqlite(sqlite) => sqlite.revert_last_migration(SQLITE).map(|_| ()),
            }
            .map_err(failed)?;
        }
    }
}

fn migrate_and_key(conn: &mut DbConnection) -> Result<(usize, NameKeyReport), DbError> {
    let applied = match conn {
        DbConnection::Pg(pg) => pg.run_pending_migrations(POSTGRES).map_err(failed)?.len(),
        DbConnection::Sqlite(sqlite) => {
            sqlite.run_pending_migrations(SQLITE).map_err(failed)?.len()
        }
    };
    Ok((applied, name_keys::fill(conn)?))
}

fn failed(cause: impl std::fmt::Display) -> DbError {
    DbError::Migration(cause.to_string())
}
