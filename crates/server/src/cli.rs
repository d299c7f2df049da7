//! The command line: `serve` (the default), `migrate`, `userspace create|list|rotate-key`,
//! `user set-role`, `keys rotate`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use user_service_db::Database;
use user_service_domain::DomainError;
use user_service_domain::model::{NamespaceSlug, PageRequest, Principal};
use user_service_domain::services::NewNamespace;

use crate::adapters::spawn_sender;
use crate::config::{LogSettings, Settings};
use user_service_http::AppState;

use crate::wiring::Wiring;

#[derive(Debug, Parser)]
#[command(
    name = "user-service",
    version,
    about = "Multi-tenant users, tokens and profiles over HTTP"
)]
pub struct Cli {
    /// Folder of default.toml and {profile}.toml.
    #[arg(
        long,
        env = "USER_SERVICE_CONFIG_DIR",
        default_value = "config",
        global = true
    )]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage namespaces.
    #[command(subcommand)]
    Userspace(UserspaceCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the keys access tokens are signed with (`auth.signing` eddsa or rs256).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new signing key active. The previous key verifies until its last token expired;
    /// running instances pick the new key up within `auth.key_refresh_secs`.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum UserspaceCommand {
    /// Create a namespace and print its service key (shown once).
    Create {
        namespace: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List namespaces.
    List,
    /// Issue a new service key; the old one stops working at once.
    RotateKey { namespace: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Replace a user's roles, e.g. `user set-role shop alice admin user`.
    SetRole {
        namespace: String,
        username: String,
        #[arg(required = true)]
        roles: Vec<String>,
    },
}

pub type CliResult = Result<(), Box<dyn std::error::Error>>;

pub async fn run(cli: Cli) -> CliResult {
    let settings = Settings::load(&cli.config_dir)?;
    init_logging(&settings.log);
    let db = Database::connect(&settings.database.url, settings.database.max_connections)?;
    let names = db.run_migrations()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings, db).await,
        Command::Migrate => {
            println!("migrations applied; {} name keys computed", names.keyed);
            for c in &names.collisions {
                println!(
                    "name collision in namespace {}: the {} of user {} is already held by user {}; \
                     it cannot log in by it until renamed or deleted",
                    c.namespace,
                    c.field.as_str(),
                    c.user_id,
                    c.holder_id
                );
            }
            Ok(())
        }
        Command::Userspace(cmd) => userspace(cmd, Wiring::build(settings, db)?.http).await,
        Command::Keys(KeysCommand::Rotate) => {
            let state = Wiring::build(settings, db)?.http;
            let key = state.signing_keys.rotate().await.map_err(with_causes)?;
            println!(
                "new signing key {} ({}) is active",
                key.kid,
                key.algorithm.jws_name()
            );
            Ok(())
        }
        Command::User(UserCommand::SetRole {
            namespace,
            username,
            roles,
        }) => {
            let state = Wiring::build(settings, db)?.http;
            let user = state
                .admin
                .set_roles(&Principal::Operator, &namespace, &username, &roles)
                .await?;
            println!(
                "{}/{}: roles {}",
                user.namespace,
                user.username,
                user.roles.join(",")
            );
            Ok(())
        }
    }
}

/// Every seed 002 registration would be 404 `NAMESPACE_NOT_FOUND`: said once at start, with the fix,
/// rather than discovered from the app. Not fatal, since the namespace may be created later.
async fn warn_if_default_namespace_is_missing(state: &AppState) {
    let Some(ns) = state.settings.default_namespace.get() else {
        return;
    };
    if let Err(DomainError::NamespaceNotFound(_)) = state
        .namespaces
        .get(Some(&Principal::Operator), ns.as_str())
        .await
    {
        tracing::warn!(
            namespace = ns.as_str(),
            "auth.default_namespace names no namespace yet: create it (`user-service userspace create {}`) before clients register",
            ns.as_str()
        );
    }
}

async fn serve(settings: Settings, db: Database) -> CliResult {
    if settings.operator_key().is_none() {
        tracing::warn!(
            "no operator key (admin.api_key / ADMIN_API_KEY) is set: anyone can create namespaces"
        );
    }
    let mut settings = settings;
    let workers = settings.workers();
    let listener =
        std::net::TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
    // Port 0 asks for any free port: links in mails must name the one actually bound.
    settings.server.port = listener.local_addr()?.port();
    let poll = std::time::Duration::from_millis(settings.email.poll_interval_ms);
    let refresh_every = std::time::Duration::from_secs(settings.auth.key_refresh_secs);
    let grpc_port = settings.grpc.enabled.then_some(settings.grpc.port);
    let host = settings.server.host.clone();
    let wiring = Wiring::serving(settings, db)?;
    let state = wiring.http;
    // Before listening: the first key is made here, and a key_secret that cannot open the active
    // key stops the start with a message saying so.
    state.signing_keys.start().await.map_err(with_causes)?;
    warn_if_default_namespace_is_missing(&state).await;
    let keys = state.signing_keys.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(refresh_every);
        loop {
            tick.tick().await;
            if let Err(e) = keys.refresh().await {
                tracing::warn!(error = %with_causes(e), "reloading the signing keys failed; keeping the ones held");
            }
        }
    });
    let mail = wiring.mail;
    // Started before the server answers anything: a mail queued by an earlier run (a crash between
    // its request and its delivery) goes out now.
    spawn_sender(mail.sender, mail.outbox, mail.gauge, poll);
    let http_addr = listener.local_addr()?;
    // Bound before HTTP answers, so a taken port stops the start instead of half a service.
    let grpc_listener = match grpc_port {
        Some(p) => Some(std::net::TcpListener::bind((host.as_str(), p))?),
        None => None,
    };
    if let Some(l) = &grpc_listener {
        // Printed before the HTTP line, which tests and scripts wait for.
        println!("user-service gRPC listening on {}", l.local_addr()?);
    }
    // Tests and scripts wait for this line; it also tells the actual port when 0 was asked for.
    println!("user-service listening on http://{http_addr}");
    let http = user_service_http::edge::serve(listener, workers, state)?;
    let grpc = grpc_listener
        .map(|l| grpc::start(wiring.grpc, l, workers, http.handle()))
        .transpose()?;
    // actix answers SIGINT and SIGTERM by finishing the requests in flight; gRPC then does the same.
    let http_result = http.await;
    if let Some(grpc) = grpc {
        grpc.stop()?;
    }
    http_result?;
    Ok(())
}

/// gRPC on a runtime of its own: actix's main thread is a single-threaded runtime, and the RPCs
/// should use every core as the HTTP workers do.
mod grpc {
    use std::thread::JoinHandle;

    use tokio::sync::oneshot;

    pub struct Running {
        stop: oneshot::Sender<()>,
        thread: JoinHandle<Result<(), String>>,
    }

    pub fn start(
        state: user_service_grpc::GrpcState,
        listener: std::net::TcpListener,
        workers: usize,
        http: actix_web::dev::ServerHandle,
    ) -> std::io::Result<Running> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("grpc")
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("grpc-server".into())
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                    user_service_grpc::serve(state, listener, async {
                        let _ = stopped.await;
                    })
                    .await
                    .map_err(|e| e.to_string())
                });
                if let Err(e) = &result {
                    // One process serves both APIs or neither: a failed gRPC server stops HTTP.
                    tracing::error!(error = %e, "the gRPC server failed; stopping");
                    drop(http.stop(true));
                }
                result
            })?;
        Ok(Running { stop, thread })
    }

    impl Running {
        /// Asks the server to finish the calls in flight and waits until it has.
        pub fn stop(self) -> Result<(), Box<dyn std::error::Error>> {
            let _ = self.stop.send(());
            match self.thread.join() {
                Ok(result) => Ok(result.map_err(|e| format!("gRPC server: {e}"))?),
                Err(_) => Err("the gRPC server thread panicked".into()),
            }
        }
    }
}

async fn userspace(cmd: UserspaceCommand, state: AppState) -> CliResult {
    let operator = Some(&Principal::Operator);
    match cmd {
        UserspaceCommand::Create {
            namespace,
            name,
            description,
        } => {
            let slug = NamespaceSlug::parse(&namespace).map_err(|m| format!("namespace {m}"))?;
            let (ns, key) = state
                .namespaces
                .create(
                    operator,
                    NewNamespace {
                        slug,
                        name,
                        description,
                    },
                )
                .await?;
            println!("created namespace {}\napi key (shown once): {key}", ns.slug);
        }
        UserspaceCommand::List => {
            let mut page = PageRequest {
                offset: 0,
                limit: PageRequest::MAX_SIZE,
            };
            loop {
                let paged = state.namespaces.list(operator, page).await?;
                for ns in &paged.items {
                    println!(
                        "{}\t{}\t{}",
                        ns.slug,
                        ns.name.as_deref().unwrap_or(""),
                        ns.created_at.to_rfc3339()
                    );
                }
                if paged.items.len() < page.limit as usize {
                    break;
                }
                page.offset += page.limit;
            }
        }
        UserspaceCommand::RotateKey { namespace } => {
            let key = state.namespaces.rotate_key(operator, &namespace).await?;
            println!("new api key for {namespace} (shown once): {key}");
        }
    }
    Ok(())
}

/// An error with its causes, for messages read by an operator (a domain error keeps them out of its
/// own text, which may reach clients).
fn with_causes(e: impl std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn init_logging(log: &LogSettings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
