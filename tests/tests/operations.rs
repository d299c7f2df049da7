//! The binary's command line and its behaviour when the database goes away and comes back.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use user_service_e2e::{Backend, StatusCode, Store, binary, read, text};

fn cli(database_url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(binary())
        .args(args)
        .env("APP_ENV", "test")
        .env(
            "USER_SERVICE_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../config"),
        )
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET_KEY", "e2e-secret-that-is-long-enough")
        // The commands build the whole service, avatar store included: keep its root out of the tree.
        .env(
            "USER_SERVICE__STORAGE__LOCAL_ROOT",
            std::env::temp_dir().join("user-service-e2e-cli-uploads"),
        )
        .output()
        .expect("run user-service");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_userspace_and_set_role_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A file in a folder that does not exist yet: the first command creates both.
    let url = format!("sqlite://{}/nested/users.db", dir.path().display());
    let (ok, out) = cli(&url, &["migrate"]);
    assert!(ok, "{out}");
    assert!(dir.path().join("nested/users.db").exists());

    let (ok, out) = cli(&url, &["userspace", "create", "shop", "--name", "Shop"]);
    assert!(ok, "{out}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("api key (shown once): "))
        .expect("key printed")
        .to_owned();
    let (ok, out) = cli(&url, &["userspace", "list"]);
    assert!(ok && out.starts_with("shop\tShop\t"), "{out}");
    let (ok, _) = cli(&url, &["userspace", "create", "shop"]);
    assert!(!ok, "a duplicate namespace must fail");

    let server = user_service_e2e::Server::start(&url, &[]).await;
    let res = server
        .client
        .get(server.url("/userspaces/shop"))
        .header("X-API-Key", &key)
        .send()
        .await
        .expect("sent");
    let (st, body) = read(res).await;
    assert_eq!(
        (st, text(&body["data"]["namespace"])),
        (StatusCode::OK, "shop".to_owned())
    );
    let (st, _) = server
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": "supersecret123"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);

    let (ok, out) = cli(
        &url,
        &["user", "set-role", "shop", "alice", "admin", "user"],
    );
    assert!(ok && out.contains("roles admin,user"), "{out}");
    let (_, login) = server
        .post(
            "/auth/login",
            &json!({"namespace": "shop", "username": "alice", "password": "supersecret123"}),
        )
        .await;
    let (_, me) = server
        .get_auth("/users/me", &text(&login["access_token"]))
        .await;
    assert_eq!(me["data"]["roles"], json!(["admin", "user"]));

    let (ok, out) = cli(&url, &["userspace", "rotate-key", "shop"]);
    assert!(ok, "{out}");
    let res = server
        .client
        .get(server.url("/userspaces/shop"))
        .header("X-API-Key", &key)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

fn psql(sql: &str) {
    let url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| user_service_db::testing::DEFAULT_POSTGRES_URL.to_owned());
    let ok = Command::new("psql")
        .arg(url)
        .arg("-v")
        .arg("ON_ERROR_STOP=1")
        .arg("-qc")
        .arg(sql)
        .status()
        .expect("psql runs");
    assert!(ok.success(), "psql failed: {sql}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_database_is_503_and_the_service_recovers_when_it_returns() {
    let store = Store::new(Backend::Postgres).await;
    let name = store
        .url()
        .rsplit('/')
        .next()
        .expect("database name")
        .to_owned();
    let s = store.start(&[]).await;
    s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let (st, health) = read(s.client.get(s.url("/health")).send().await.expect("sent")).await;
    assert_eq!(
        (st, health),
        (
            StatusCode::OK,
            json!({"status": "healthy", "database": "ok"})
        )
    );

    psql(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS false"
    ));
    psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ));
    let (st, health) = read(s.client.get(s.url("/health")).send().await.expect("sent")).await;
    assert_eq!(
        (st, health),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unhealthy", "database": "unavailable"})
        )
    );
    let (st, body) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": "supersecret123"}),
        )
        .await;
    assert_eq!(
        (st, text(&body["error"]["code"])),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE".to_owned()
        )
    );
    assert_eq!(body["error"]["message"], "service temporarily unavailable");

    psql(&format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS true"));
    let mut recovered = false;
    for _ in 0..50 {
        let (st, _) = read(s.client.get(s.url("/health")).send().await.expect("sent")).await;
        if st == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "the service did not recover");
    let (st, _) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": "supersecret123"}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    s.stop().await;
}
