//! An in-process tonic server on the real wiring (the binary's `Wiring`) over a fresh database, and
//! a generated client of it.

#![allow(dead_code)]

use std::sync::Arc;

use tokio::sync::oneshot;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use user_service::{Settings, Wiring};
use user_service_db::testing::{TestDatabase, fresh_postgres, fresh_sqlite};
use user_service_domain::model::{
    Change, Checks, Email, NamespaceSlug, Principal, ProfileInput, User, Username,
};
use user_service_domain::ports::ManualClock;
use user_service_domain::services::{NewNamespace, NewUser, Registration};
use user_service_grpc::pb::user_service_client::UserServiceClient;

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Harness {
    pub wiring: Wiring,
    pub client: UserServiceClient<Channel>,
    pub clock: Arc<ManualClock>,
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
    _db: TestDatabase,
    _uploads: tempfile::TempDir,
}

/// A namespace with its service key, an admin's and a plain user's access tokens.
pub struct Tenant {
    pub slug: String,
    pub api_key: String,
    pub admin_token: String,
    pub user_token: String,
    pub plain_user: User,
}

impl Harness {
    pub async fn new(backend: Backend, env: &[(&str, &str)]) -> Self {
        let db = match backend {
            Backend::Sqlite => fresh_sqlite().await,
            Backend::Postgres => fresh_postgres().await,
        };
        let uploads = tempfile::tempdir().expect("temp uploads dir");
        let settings = Settings::for_tests(uploads.path(), env).expect("test settings load");
        let clock = Arc::new(ManualClock::new());
        let wiring = Wiring::build_with_clock(settings, db.database().clone(), clock.clone())
            .expect("wiring builds");
        wiring
            .http
            .signing_keys
            .start()
            .await
            .expect("signing keys load");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(user_service_grpc::serve(
            wiring.grpc.clone(),
            listener,
            async {
                let _ = stopped.await;
            },
        ));
        let client = UserServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("client connects");
        Self {
            wiring,
            client,
            clock,
            addr,
            stop: Some(stop),
            server: Some(server),
            _db: db,
            _uploads: uploads,
        }
    }

    /// Stops the server gracefully and says whether it ended cleanly.
    pub async fn shutdown(mut self) -> bool {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.take() {
            Some(task) => matches!(task.await, Ok(Ok(()))),
            None => false,
        }
    }

    /// A namespace, its key, an admin and a plain user.
    /// The database the wiring runs on, for tests that set up what no RPC writes.
    pub fn database(&self) -> &user_service_db::Database {
        self._db.database()
    }

    pub async fn tenant(&self, slug: &str) -> Tenant {
        let state = &self.wiring.http;
        let (_, api_key) = state
            .namespaces
            .create(
                Some(&Principal::Operator),
                NewNamespace {
                    slug: NamespaceSlug::parse(slug).expect("slug"),
                    name: None,
                    description: None,
                },
            )
            .await
            .expect("namespace created");
        let register = |name: &str| Registration {
            namespace: NamespaceSlug::parse(slug).expect("slug"),
            username: Username::parse(name).expect("username"),
            password: user_service_domain::model::Password::parse("password-123")
                .expect("password"),
            profile: Default::default(),
        };
        let (_, admin_pair) = state
            .auth
            .register(register("boss"))
            .await
            .expect("admin registered");
        state
            .admin
            .set_roles(
                &Principal::Operator,
                slug,
                "boss",
                &["admin".into(), "user".into()],
            )
            .await
            .expect("roles set");
        let (plain_user, user_pair) = state
            .auth
            .register(register("plain"))
            .await
            .expect("user registered");
        Tenant {
            slug: slug.into(),
            api_key,
            admin_token: admin_pair.access_token,
            user_token: user_pair.access_token,
            plain_user,
        }
    }

    /// A user made by the namespace's service key, with profile fields to search.
    pub async fn user(&self, t: &Tenant, username: &str, first: &str, last: &str) -> User {
        let mut checks = Checks::new();
        let profile = ProfileInput {
            first_name: Change::Set(first.into()),
            last_name: Change::Set(last.into()),
            phone: Change::Set("+15551234567".into()),
            ..Default::default()
        }
        .validate(&mut checks, true);
        checks.finish().expect("valid profile");
        self.wiring
            .http
            .admin
            .create(
                &Principal::Service {
                    namespace: t.slug.clone(),
                },
                NewUser {
                    username: Some(Username::parse(username).expect("username")),
                    email: Email::parse(&format!("{username}@example.com")).expect("email"),
                    password: None,
                    profile,
                    roles: None,
                    tenant_id: None,
                    email_verified: false,
                },
            )
            .await
            .expect("user created")
    }
}

/// A request carrying `key: value` metadata.
pub fn with<T>(message: T, metadata: &[(&'static str, &str)]) -> Request<T> {
    let mut req = Request::new(message);
    for (k, v) in metadata {
        req.metadata_mut()
            .append(*k, MetadataValue::try_from(*v).expect("ascii metadata"));
    }
    req
}

pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Asserts the status code, the contract's error code and a request id on a failed call.
pub fn assert_status(s: &Status, code: Code, error_code: &str) {
    assert_eq!(s.code(), code, "{s:?}");
    assert_eq!(
        s.metadata().get("error-code").and_then(|v| v.to_str().ok()),
        Some(error_code),
        "{s:?}"
    );
    let rid = s
        .metadata()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok());
    assert!(
        rid.is_some_and(|r| !r.is_empty()),
        "x-request-id missing: {s:?}"
    );
}
