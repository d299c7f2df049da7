//! The schema migrations of both dialects, compiled into the binary.

use diesel::connection::SimpleConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::connection::DbConnection;
use crate::database::Database;
use crate::errors::DbError;

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Instances starting together against one PostgreSQL database take turns migrating; an arbitrary
/// but fixed advisory lock key names the turn.
const PG_MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7305214631)";
const PG_MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7305214631)";

impl Database {
    /// Applies every pending migration of this backend's dialect.
    pub fn run_migrations(&self) -> Result<(), DbError> {
        let mut conn = self.get_blocking()?;
        let applied = match &mut *conn {
            DbConnection::Pg(pg) => {
                pg.batch_execute(PG_MIGRATION_LOCK).map_err(failed)?;
                let applied = pg.run_pending_migrations(POSTGRES).map(|v| v.len());
                // Released even when migrating failed: the connection goes back to the pool.
                let unlocked = pg.batch_execute(PG_MIGRATION_UNLOCK);
                let applied = applied.map_err(failed)?;
                unlocked.map_err(failed)?;
                applied
            }
            DbConnection::Sqlite(sqlite) => {
                sqlite.run_pending_migrations(SQLITE).map_err(failed)?.len()
            }
        };
        tracing::info!(applied, backend = %self.backend(), "database migrations are up to date");
        Ok(())
    }
}

fn failed(cause: impl std::fmt::Display) -> DbError {
    DbError::Migration(cause.to_string())
}
