//! Fresh, migrated databases for tests, each dropped with its handle. PostgreSQL must be reachable:
//! a test that needs it fails loudly rather than skipping.

use std::ops::Deref;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use uuid::Uuid;

use crate::database::Database;

/// Where `fresh_postgres` creates its databases unless `TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

const POOL_SIZE: u32 = 8;

/// A migrated database that exists as long as this value does.
#[derive(Debug)]
pub struct TestDatabase {
    // Declared first so the pool closes its connections before the file or database goes away.
    database: Database,
    url: String,
    _dir: Option<tempfile::TempDir>,
    _drop: Option<DropDatabase>,
}

impl TestDatabase {
    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Deref for TestDatabase {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.database
    }
}

/// A SQLite database in a file of a new temporary directory.
pub async fn fresh_sqlite() -> TestDatabase {
    blocking(|| {
        let dir = tempfile::tempdir().expect("cannot create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let database = open(&url);
        TestDatabase {
            database,
            url,
            _dir: Some(dir),
            _drop: None,
        }
    })
    .await
}

/// A new database named `us_test_<uuid>` on the server of `TEST_POSTGRES_URL`.
///
/// # Panics
/// When that server cannot be reached or refuses to create the database.
pub async fn fresh_postgres() -> TestDatabase {
    blocking(|| {
        let admin_url =
            std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let name = format!("us_test_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin_url}: {e}\n\
                 The db tests need it: start PostgreSQL there or point TEST_POSTGRES_URL at one."
            )
        });
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .unwrap_or_else(|e| panic!("cannot create test database {name} at {admin_url}: {e}"));
        // Armed before migrating, so a failed migration still drops the database.
        let drop = DropDatabase {
            admin_url: admin_url.clone(),
            name: name.clone(),
        };
        let url = with_database(&admin_url, &name);
        let database = open(&url);
        TestDatabase {
            database,
            url,
            _dir: None,
            _drop: Some(drop),
        }
    })
    .await
}

fn open(url: &str) -> Database {
    let database = Database::connect(url, POOL_SIZE)
        .unwrap_or_else(|e| panic!("cannot open test database {url}: {e}"));
    database
        .run_migrations()
        .unwrap_or_else(|e| panic!("cannot migrate test database {url}: {e}"));
    database
}

/// Runs blocking set-up off the test's runtime, keeping a panic's own message.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("test database set-up was cancelled: {e}"),
    }
}

/// `url` with its database name replaced by `name`, keeping credentials, host and query.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

#[derive(Debug)]
struct DropDatabase {
    admin_url: String,
    name: String,
}

impl Drop for DropDatabase {
    // Never panics: this may run while a failed test unwinds, where a second panic aborts the run.
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(|e| e.to_string())
            .and_then(|mut admin| admin.batch_execute(&sql).map_err(|e| e.to_string()));
        if let Err(e) = dropped {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Instantiates each named test (an `async fn(Harness)` in scope) on SQLite and on PostgreSQL, in
/// modules `sqlite` and `postgres`, under the test attribute given first (`#[actix_web::test]`,
/// `#[tokio::test]`), optionally with settings (`env: &[(name, value)];` before the names) on top of
/// the test defaults. The calling test crate provides `common::Harness::new(common::Backend, env)`.
#[macro_export]
macro_rules! on_both {
    (#[$attr:meta] env: $env:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[$attr]
            async fn $name() { super::$name(super::common::Harness::new(super::common::Backend::Sqlite, $env).await).await })*
        }
        mod postgres {
            $(#[$attr]
            async fn $name() { super::$name(super::common::Harness::new(super::common::Backend::Postgres, $env).await).await })*
        }
    };
    (#[$attr:meta] $($name:ident),* $(,)?) => {
        $crate::on_both!(#[$attr] env: &[]; $($name),*);
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t1"),
            "postgres://h:5432/t1"
        );
    }
}
