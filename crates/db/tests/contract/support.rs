//! The macro that runs a contract test on both backends, and the fixtures the suites share.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use user_service_db::{Database, DieselNamespaces, DieselUsers};
use user_service_domain::model::{Namespace, RefreshToken, User};
use user_service_domain::ports::{Clock, NamespaceRepository, SystemClock, UserRepository};
use uuid::Uuid;

/// For each named `async fn(Database)` of the calling module, a `sqlite::name` and a
/// `postgres::name` test, each on its own fresh database.
macro_rules! contract {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = user_service_db::testing::fresh_sqlite().await;
                    super::$test(db.database().clone()).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = user_service_db::testing::fresh_postgres().await;
                    super::$test(db.database().clone()).await;
                }
            )+
        }
    };
}

/// The service's own clock: UTC truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    SystemClock.now()
}

pub fn namespace(slug: &str, created_at: DateTime<Utc>) -> Namespace {
    Namespace {
        slug: slug.to_owned(),
        name: Some(format!("The {slug} app")),
        description: Some("Ünïcode, \"quotes\" and 'apostrophes'".to_owned()),
        created_at,
        settings: Default::default(),
    }
}

pub fn key_hash(slug: &str) -> String {
    format!("key-hash-of-{slug}")
}

pub async fn create_namespace(db: &Database, slug: &str) -> Namespace {
    let ns = namespace(slug, now());
    DieselNamespaces::new(db.clone())
        .create(&ns, &key_hash(slug))
        .await
        .expect("creating a fixture namespace");
    ns
}

/// A user with every field set, so a round trip checks every column.
pub fn user(namespace: &str, username: &str, email: Option<&str>) -> User {
    let created = now() - Duration::days(3) - Duration::microseconds(123_457);
    User {
        id: Uuid::now_v7(),
        namespace: namespace.to_owned(),
        username: username.to_owned(),
        email: email.map(str::to_owned),
        email_verified: false,
        password_hash: Some(
            "$2b$04$abcdefghijklmnopqrstuu5WJ6h3hHqMJzY0H9wJ1H3e2z4Q4q9xW".to_owned(),
        ),
        full_name: Some("Zoë O'Brien-Đặng".to_owned()),
        first_name: Some("Zoë".to_owned()),
        last_name: Some("O'Brien-Đặng".to_owned()),
        phone: Some("+14155550123".to_owned()),
        avatar_url: Some(format!("https://cdn.example.com/avatars/{username}.png")),
        avatar_key: Some(format!("avatars/{namespace}/{username}.png")),
        extra: BTreeMap::from([
            ("plan".to_owned(), "pro".to_owned()),
            (
                "quote".to_owned(),
                "\"{[json]}\" \\ ünïcode 用户".to_owned(),
            ),
            ("empty".to_owned(), String::new()),
        ]),
        roles: vec!["user".to_owned(), "admin".to_owned()],
        is_active: true,
        token_version: 7,
        created_at: created,
        updated_at: created + Duration::hours(5),
        deleted_at: None,
    }
}

/// A user with every optional field empty.
pub fn bare_user(namespace: &str, username: &str) -> User {
    User {
        email: None,
        email_verified: false,
        password_hash: None,
        full_name: None,
        first_name: None,
        last_name: None,
        phone: None,
        avatar_url: None,
        avatar_key: None,
        extra: BTreeMap::new(),
        roles: Vec::new(),
        is_active: false,
        token_version: 0,
        ..user(namespace, username, None)
    }
}

pub async fn insert_user(db: &Database, user: &User) {
    DieselUsers::new(db.clone())
        .insert(user)
        .await
        .expect("inserting a fixture user");
}

/// A namespace and one user in it, with an email.
pub async fn namespace_with_user(db: &Database, slug: &str, username: &str) -> User {
    create_namespace(db, slug).await;
    let u = user(slug, username, Some(&format!("{username}@example.com")));
    insert_user(db, &u).await;
    u
}

pub fn token(user: &User, family_id: Uuid, hash: &str) -> RefreshToken {
    let issued = now() - Duration::minutes(10);
    RefreshToken {
        token_hash: hash.to_owned(),
        family_id,
        user_id: user.id,
        namespace: user.namespace.clone(),
        issued_at: issued,
        expires_at: issued + Duration::days(30),
        spent_at: None,
        revoked_at: None,
        token_version: user.token_version,
    }
}
