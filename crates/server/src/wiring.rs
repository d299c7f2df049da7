//! The wiring: which adapter serves each port, chosen from the settings, and the domain services
//! built on them once. The driving adapters are handed what they need from here.

use std::path::PathBuf;
use std::sync::Arc;

use user_service_db::{
    Database, DieselCreditLedger, DieselEmailTokens, DieselIdempotencyStore, DieselIdentityLinks,
    DieselNamespaces, DieselOutbox, DieselRefreshTokens, DieselSessions, DieselSigningKeys,
    DieselUsage, DieselUsers,
};
use user_service_domain::ports::{Clock, IdGenerator, MailOutbox, Pause, SystemClock, SystemIds};
use user_service_domain::services::{
    AdminService, AuthPolicy, AuthService, AvatarService, CreditService, DeliveryPolicy,
    EmailService, IdempotencyService, IdentityService, LoginThrottle, MailPolicy, Mailer,
    NamespaceService, OutboxSender, ProfileService, RateLimiter, SessionService, SigningKeyService,
    ThrottlePolicy, UsageService,
};
use user_service_domain::signing::KeySealer;

use user_service_domain::model::TrustedProxies;
use user_service_grpc::GrpcState;
use user_service_http::{AppState, CorsSettings, HttpSettings};

use crate::adapters::{
    BcryptHasher, BlockingImageProcessor, BlockingKeyGenerator, HashCapacity, ImageRules,
    JwksExternalTokens, PrometheusTelemetry, limit_store, open_avatar_store, open_transport,
};
use crate::config::{AuthSettings, Settings};

/// Everything the process serves, wired once.
#[derive(Clone)]
pub struct Wiring {
    /// The services, as the HTTP adapter is handed them (the CLI uses the same ones).
    pub http: AppState,
    /// The same service instances, limiter and metrics, as the gRPC adapter is handed them.
    pub grpc: GrpcState,
    pub settings: Arc<Settings>,
    /// The outbox's delivery side, for the background sender `serve` starts.
    pub mail: MailDelivery,
}

/// What the background sender needs: the rules, the outbox (for its counts) and the gauge.
#[derive(Clone)]
pub struct MailDelivery {
    pub sender: Arc<OutboxSender>,
    pub outbox: Arc<dyn MailOutbox>,
    pub gauge: prometheus::IntGaugeVec,
}

/// The login throttle's delays, on the runtime's timer.
struct TokioPause;

#[async_trait::async_trait]
impl Pause for TokioPause {
    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("password hashing: {0}")]
    Hasher(#[from] crate::adapters::HasherError),
    #[error("configuration: {0}")]
    RateLimit(String),
    #[error(transparent)]
    Storage(#[from] user_service_storage::StorageError),
    #[error("configuration: {0}")]
    Email(String),
    #[error("configuration: {0}")]
    ExternalIssuers(String),
    #[error("signing keys: {0}")]
    Keys(#[from] user_service_domain::DomainError),
}

/// HS256 with the shared secret, or keys of `auth.signing` kept in the database and sealed under
/// `auth.key_secret`.
fn signing_keys(
    auth: &AuthSettings,
    db: &Database,
    clock: Arc<dyn Clock>,
) -> Result<SigningKeyService, StateError> {
    let algorithm = auth.signing_algorithm();
    if !algorithm.is_asymmetric() {
        return Ok(SigningKeyService::shared_secret(
            auth.jwt_secret.as_bytes(),
            &auth.issuer,
            clock,
        ));
    }
    Ok(SigningKeyService::stored(
        algorithm,
        &auth.issuer,
        Arc::new(DieselSigningKeys::new(db.clone())),
        Arc::new(BlockingKeyGenerator),
        KeySealer::new(auth.key_secret.as_bytes()),
        clock,
        auth.access_ttl_secs,
    )?)
}

impl Wiring {
    pub fn build(settings: Settings, db: Database) -> Result<Self, StateError> {
        Self::build_with_clock(settings, db, Arc::new(SystemClock))
    }

    /// The wiring of `serve`: as [`Wiring::build`], but on Linux, unless `auth.hash_process` is
    /// off, passwords are hashed in a child process of this very binary (`adapters::hash_process`),
    /// which only the binary itself can start; tests and the other commands hash on threads.
    pub fn serving(settings: Settings, db: Database) -> Result<Self, StateError> {
        let child = (cfg!(target_os = "linux") && settings.auth.hash_process)
            // The running binary even if its file was replaced since it started.
            .then(|| PathBuf::from("/proc/self/exe"));
        Self::assemble(settings, db, Arc::new(SystemClock), child)
    }

    /// The wiring with a given clock: every service and middleware reads time from it.
    pub fn build_with_clock(
        settings: Settings,
        db: Database,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StateError> {
        Self::assemble(settings, db, clock, None)
    }

    fn assemble(
        settings: Settings,
        db: Database,
        clock: Arc<dyn Clock>,
        hash_child: Option<PathBuf>,
    ) -> Result<Self, StateError> {
        let ids: Arc<dyn IdGenerator> = Arc::new(SystemIds);
        let namespaces = Arc::new(DieselNamespaces::new(db.clone()));
        let users = Arc::new(DieselUsers::new(db.clone()));
        let refresh_tokens = Arc::new(DieselRefreshTokens::new(db.clone()));
        let concurrency = if settings.auth.hash_concurrency == 0 {
            num_cpus::get()
        } else {
            settings.auth.hash_concurrency
        };
        let hasher = Arc::new(BcryptHasher::new(
            settings.auth.bcrypt_cost,
            HashCapacity {
                threads: concurrency,
                queue: settings.auth.hash_queue,
                nice: settings.auth.hash_nice,
                child: hash_child,
            },
        )?);
        let signing_keys = Arc::new(signing_keys(&settings.auth, &db, clock.clone())?);
        let access = signing_keys.access_tokens(settings.auth.access_ttl_secs);
        let policy = AuthPolicy {
            refresh_ttl_secs: settings.auth.refresh_ttl_secs,
            refresh_reuse_leeway_secs: settings.auth.refresh_reuse_leeway_secs,
            operator_key: settings.operator_key(),
        };
        let auth = AuthService::new(
            namespaces.clone(),
            users.clone(),
            refresh_tokens.clone(),
            hasher.clone(),
            clock.clone(),
            ids.clone(),
            access,
            policy,
        );
        let email_tokens = Arc::new(DieselEmailTokens::new(db.clone()));
        let mailer = Arc::new(Mailer::new(
            namespaces.clone(),
            email_tokens.clone(),
            clock.clone(),
            ids.clone(),
            MailPolicy::new(&settings.public_url(), &settings.email.from),
        ));
        let auth = auth.with_mailer(mailer.clone());
        let creation_open = settings.operator_key().is_none();
        let avatars = AvatarService::new(
            users.clone(),
            Arc::new(open_avatar_store(&settings.storage)?),
            Arc::new(BlockingImageProcessor::new(
                ImageRules {
                    max_side_px: settings.avatar.max_side_px,
                    store_side_px: settings.avatar.store_side_px,
                },
                num_cpus::get(),
            )),
            clock.clone(),
            ids.clone(),
        );
        let metrics = Arc::new(PrometheusTelemetry::new(db.clone()));
        let outbox: Arc<dyn MailOutbox> = Arc::new(DieselOutbox::new(db.clone()));
        let mail = MailDelivery {
            sender: Arc::new(OutboxSender::new(
                outbox.clone(),
                open_transport(&settings.email).map_err(StateError::Email)?,
                clock.clone(),
                ids.clone(),
                DeliveryPolicy {
                    max_attempts: settings.email.max_attempts,
                    backoff_base_secs: settings.email.retry_base_secs,
                    backoff_max_secs: settings.email.retry_max_secs,
                    // A claim outlives the longest delivery, so no second sender takes a mail
                    // that is still being handed over.
                    lease_secs: settings.email.smtp.timeout_secs.saturating_mul(4).max(60),
                    ..DeliveryPolicy::default()
                },
            )),
            outbox,
            gauge: metrics.outbox_gauge(),
        };
        let rl = &settings.rate_limit;
        let trusted_proxies =
            Arc::new(TrustedProxies::parse(&rl.trusted_proxies).map_err(StateError::RateLimit)?);
        let (rate_limiter, login_throttle) = if rl.enabled {
            let store = limit_store(rl, clock.clone(), metrics.rate_limit_fallback())
                .map_err(StateError::RateLimit)?;
            let limiter = RateLimiter::new(
                store.clone(),
                u64::from(rl.per_ip_per_minute),
                u64::from(rl.per_user_per_hour),
            );
            let throttle = LoginThrottle::new(
                store,
                Arc::new(TokioPause),
                ThrottlePolicy {
                    max_failures: u64::from(rl.login_max_failures.max(1)),
                    cooldown_secs: rl.login_cooldown_secs,
                },
            );
            (Some(Arc::new(limiter)), Some(Arc::new(throttle)))
        } else {
            (None, None)
        };
        let usage_records = Arc::new(DieselUsage::new(db.clone()));
        let session_store = Arc::new(DieselSessions::new(db.clone()));
        let credits = CreditService::new(
            users.clone(),
            Arc::new(DieselCreditLedger::new(db.clone())),
            usage_records.clone(),
            clock.clone(),
            ids.clone(),
        );
        let usage = UsageService::new(
            users.clone(),
            usage_records,
            session_store.clone(),
            clock.clone(),
        );
        let sessions =
            SessionService::new(users.clone(), session_store, clock.clone(), ids.clone());
        let idempotency = IdempotencyService::new(
            Arc::new(DieselIdempotencyStore::new(db.clone())),
            clock.clone(),
            settings.idempotency.ttl_secs,
        );
        let http_settings = HttpSettings {
            cors: CorsSettings {
                allowed_origins: settings.cors.allowed_origins.clone(),
                allowed_methods: settings.cors.allowed_methods.clone(),
                allowed_headers: settings.cors.allowed_headers.clone(),
            },
            body_timeout_secs: settings.server.body_timeout_secs,
            avatar_max_bytes: settings.avatar.max_bytes,
            default_namespace: settings.auth.default_namespace(),
        };
        let identities = Arc::new(
            IdentityService::new(
                settings
                    .auth
                    .external_issuers()
                    .map_err(StateError::ExternalIssuers)?,
                Arc::new(DieselIdentityLinks::new(db.clone())),
                users.clone(),
                Arc::new(
                    JwksExternalTokens::new(&settings.auth.external_issuers)
                        .map_err(StateError::ExternalIssuers)?,
                ),
                clock.clone(),
                ids.clone(),
            )
            .with_telemetry(metrics.clone()),
        );
        let auth = auth.with_identities(identities.clone());
        let auth = Arc::new(match &login_throttle {
            Some(t) => auth.with_throttle(t.clone()),
            None => auth,
        });
        let email = EmailService::new(
            users.clone(),
            email_tokens,
            mailer.clone(),
            auth.clone(),
            clock.clone(),
        );
        let http = AppState {
            email: Arc::new(email),
            credits: Arc::new(credits),
            usage: Arc::new(usage),
            sessions: Arc::new(sessions),
            idempotency: Arc::new(idempotency),
            identities,
            auth,
            namespaces: Arc::new(NamespaceService::new(
                namespaces,
                clock.clone(),
                ids.clone(),
                creation_open,
            )),
            admin: Arc::new(
                AdminService::new(
                    users.clone(),
                    refresh_tokens.clone(),
                    hasher.clone(),
                    clock.clone(),
                    ids.clone(),
                )
                .with_mailer(mailer.clone()),
            ),
            avatars: Arc::new(avatars),
            signing_keys,
            profiles: Arc::new({
                let profiles = ProfileService::new(users, refresh_tokens, hasher, clock.clone())
                    .with_mailer(mailer);
                match &login_throttle {
                    Some(t) => profiles.with_throttle(t.clone()),
                    None => profiles,
                }
            }),
            telemetry: metrics,
            database: Arc::new(db),
            settings: Arc::new(http_settings),
            rate_limiter,
            trusted_proxies,
            clock,
        };
        let grpc = GrpcState {
            auth: http.auth.clone(),
            admin: http.admin.clone(),
            identities: http.identities.clone(),
            database: http.database.clone(),
            telemetry: http.telemetry.clone(),
            rate_limiter: http.rate_limiter.clone(),
            trusted_proxies: http.trusted_proxies.clone(),
            clock: http.clock.clone(),
        };
        Ok(Self {
            http,
            grpc,
            settings: Arc::new(settings),
            mail,
        })
    }
}
