//! `Database` itself: connecting, migrating, the pool and transactions.

use std::time::Instant;

use diesel::prelude::*;
use user_service_db::schema::namespaces;
use user_service_db::{
    Backend, Database, DbConnection, DbError, DieselNamespaces, write_transaction,
};
use user_service_domain::DomainError;
use user_service_domain::ports::NamespaceRepository;

use crate::support::{key_hash, namespace, now};

contract!(
    ping_answers_and_the_pool_reports_its_state,
    migrating_again_changes_nothing,
    a_failed_write_transaction_leaves_nothing_behind,
    write_transactions_nest,
);

async fn ping_answers_and_the_pool_reports_its_state(db: Database) {
    assert!(db.ping().await);
    let status = db.pool_status();
    assert_eq!(status.max_size, 8);
    assert!(status.connections >= 1, "{status:?}");
    assert!(status.idle_connections <= status.connections, "{status:?}");
    let answer = db.run(|_| Ok(42)).await.expect("run");
    assert_eq!(answer, 42);
}

async fn migrating_again_changes_nothing(db: Database) {
    let repo = user_service_db::DieselNamespaces::new(db.clone());
    let ns = namespace("acme", now());
    repo.create(&ns, &key_hash("acme")).await.expect("create");
    db.run_migrations().expect("second migration run");
    assert_eq!(repo.get("acme").await.expect("get"), Some(ns));
}

async fn a_failed_write_transaction_leaves_nothing_behind(db: Database) {
    let outcome = db
        .run(|conn| {
            let result: Result<(), diesel::result::Error> = write_transaction(conn, |conn| {
                insert_namespace(conn, "doomed")?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            Ok(result.is_err())
        })
        .await
        .expect("run");
    assert!(outcome);
    let count: i64 = db
        .run(|conn| {
            namespaces::table
                .count()
                .get_result(conn)
                .map_err(DomainError::unexpected)
        })
        .await
        .expect("count");
    assert_eq!(count, 0);

    // And one that succeeds commits, on a connection that is usable afterwards.
    let stored: i64 = db
        .run(|conn| {
            write_transaction(conn, |conn| {
                insert_namespace(conn, "kept")?;
                namespaces::table.count().get_result(conn)
            })
            .map_err(DomainError::unexpected)
        })
        .await
        .expect("run");
    assert_eq!(stored, 1);
}

fn insert_namespace(conn: &mut DbConnection, slug: &str) -> Result<usize, diesel::result::Error> {
    diesel::insert_into(namespaces::table)
        .values((
            namespaces::slug.eq(slug),
            namespaces::api_key_hash.eq(format!("hash-{slug}")),
            namespaces::created_at.eq(now().naive_utc()),
        ))
        .execute(conn)
}

async fn write_transactions_nest(db: Database) {
    let slugs: Vec<String> = db
        .run(|conn| {
            write_transaction(conn, |conn| {
                insert_namespace(conn, "outer")?;
                let inner: Result<(), diesel::result::Error> = write_transaction(conn, |conn| {
                    insert_namespace(conn, "inner")?;
                    Err(diesel::result::Error::RollbackTransaction)
                });
                assert!(inner.is_err());
                write_transaction(conn, |conn| insert_namespace(conn, "inner-kept"))?;
                Ok::<_, diesel::result::Error>(())
            })
            .and_then(|()| {
                namespaces::table
                    .select(namespaces::slug)
                    .order(namespaces::slug.asc())
                    .load(conn)
            })
            .map_err(DomainError::unexpected)
        })
        .await
        .expect("run");
    assert_eq!(slugs, ["inner-kept", "outer"]);
}

#[tokio::test]
async fn a_sqlite_url_in_a_missing_directory_creates_directory_and_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("not").join("yet").join("there.db");
    let db = Database::connect(&format!("sqlite://{}", file.display()), 2).expect("connect");
    assert!(file.is_file(), "{} was not created", file.display());
    assert_eq!(db.backend(), Backend::Sqlite);
    db.run_migrations().expect("migrate");
    assert!(db.ping().await);
}

#[tokio::test]
async fn sqlite_connections_are_set_up_for_concurrency_and_integrity() {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let test_db = user_service_db::testing::fresh_sqlite().await;
    let settings = test_db
        .run(|conn| {
            let DbConnection::Sqlite(sqlite) = conn else {
                return Ok(None);
            };
            let mut values = Vec::new();
            let pragmas = [
                ("journal_mode", "journal_mode"),
                ("busy_timeout", "timeout"),
                ("foreign_keys", "foreign_keys"),
                ("synchronous", "synchronous"),
            ];
            for (pragma, column) in pragmas {
                let setting: Setting = diesel::sql_query(format!(
                    "SELECT CAST({column} AS TEXT) AS value FROM pragma_{pragma}"
                ))
                .get_result(sqlite)
                .map_err(DomainError::unexpected)?;
                values.push(setting.value);
            }
            Ok(Some(values))
        })
        .await
        .expect("read pragmas");
    // synchronous: 1 is NORMAL.
    assert_eq!(
        settings,
        Some(vec![
            "wal".to_owned(),
            "5000".to_owned(),
            "1".to_owned(),
            "1".to_owned()
        ])
    );
}

#[tokio::test]
async fn connect_fails_when_the_first_connection_cannot_be_made() {
    match Database::connect("postgres://postgres@127.0.0.1:1/nothing", 2) {
        Err(DbError::Connect(message)) => assert!(!message.is_empty()),
        other => panic!("expected a connect error, got {other:?}"),
    }
    match Database::connect("mysql://root:secret@127.0.0.1/db", 2) {
        Err(DbError::UnsupportedUrl(scheme)) => assert_eq!(scheme, "mysql"),
        other => panic!("expected an unsupported URL error, got {other:?}"),
    }
    // A bare path is not taken for SQLite: that is how a typo would create an empty database.
    assert!(matches!(
        Database::connect("data/user-service.db", 2),
        Err(DbError::UnsupportedUrl(_))
    ));
}

#[tokio::test]
async fn a_database_that_goes_away_answers_unavailable() {
    let test_db = user_service_db::testing::fresh_postgres().await;
    assert_eq!(test_db.backend(), Backend::Postgres);
    let name = test_db
        .url()
        .rsplit('/')
        .next()
        .expect("the URL names a database")
        .to_owned();
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| user_service_db::testing::DEFAULT_POSTGRES_URL.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut admin = PgConnection::establish(&admin_url).expect("admin connection");
        diesel::connection::SimpleConnection::batch_execute(
            &mut admin,
            &format!("DROP DATABASE \"{name}\" WITH (FORCE)"),
        )
        .expect("drop the database under the pool");
    })
    .await
    .expect("drop task");

    let started = Instant::now();
    // The first query finds its connection dead...
    let namespaces = DieselNamespaces::new(test_db.database().clone());
    match namespaces.get("acme").await {
        Err(DomainError::Unavailable { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // ...and from then on no pooled connection is handed out unchecked: the pool has none that
    // answers and cannot make one.
    match test_db.run(|_| Ok(())).await {
        Err(DomainError::Unavailable { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert!(!test_db.ping().await);
}

#[derive(diesel::QueryableByName)]
struct Encrypted {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
}

/// The test server is local and its URL leaves `sslmode` to libpq's default (`prefer`): the pool's
/// connections are then in clear text, like the async connections, though the server offers TLS.
#[tokio::test]
async fn local_pooled_connections_skip_the_tls_libpq_would_only_prefer() {
    let test_db = user_service_db::testing::fresh_postgres().await;
    assert!(!test_db.url().contains("sslmode"), "{}", test_db.url());
    let encrypted = test_db
        .database()
        .run(|conn| {
            diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .get_result::<Encrypted>(conn)
                .map_err(DomainError::unexpected)
        })
        .await
        .expect("pg_stat_ssl");
    assert!(!encrypted.ssl);
}
