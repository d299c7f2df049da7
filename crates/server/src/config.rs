//! Layered configuration: built-in defaults, `config/default.toml`, `config/{profile}.toml`, the plain
//! environment names existing deployments use, then `USER_SERVICE__SECTION__KEY` variables.

use std::path::Path;

use serde::Deserialize;
use user_service_domain::model::{
    DefaultNamespace, ExternalIssuer, ExternalIssuers, NamespaceSlug, SigningAlgorithm,
};

/// The JWT secret used when none is configured. The production profile refuses to start with it.
pub const DEV_JWT_SECRET: &str = "dev-only-insecure-jwt-secret-change-me";

/// RFC 7518 3.2: an HS256 key at least as long as its hash (256 bits). Other profiles accept 16
/// bytes so a short development secret still works.
pub const MIN_PRODUCTION_SECRET_BYTES: usize = 32;

/// The key that seals stored private signing keys when none is configured. The production profile
/// refuses it when `auth.signing` keeps keys in the database.
pub const DEV_KEY_SECRET: &str = "dev-only-insecure-key-secret-change-me";

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub profile: String,
    pub server: ServerSettings,
    pub grpc: GrpcSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub admin: AdminSettings,
    pub avatar: AvatarSettings,
    pub idempotency: IdempotencySettings,
    pub storage: StorageSettings,
    pub rate_limit: RateLimitSettings,
    pub cors: CorsSettings,
    pub log: LogSettings,
    pub email: EmailSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// 0 means one per core.
    pub workers: usize,
    /// The whole request body must arrive within this many seconds of the headers, else 408.
    pub body_timeout_secs: u64,
    /// The service's own address, for links in mails; empty means `http://{host}:{port}`.
    pub public_url: String,
}

/// The gRPC API (API.md 6), on `server.host`.
#[derive(Debug, Clone, Deserialize)]
pub struct GrpcSettings {
    pub enabled: bool,
    /// 0 asks the system for a free port (tests); the one chosen is printed at start.
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
}

/// The most password-hashing threads `auth.hash_concurrency` may ask for.
pub const MAX_HASH_THREADS: usize = 64;

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub refresh_reuse_leeway_secs: u64,
    pub bcrypt_cost: u32,
    pub issuer: String,
    /// Hashes run at once; 0 means one per core.
    pub hash_concurrency: usize,
    /// Hash requests allowed to wait for a slot before the answer is 503.
    pub hash_queue: usize,
    /// Nice steps the hashing threads run below requests (0-19; 0: the same priority).
    pub hash_nice: u8,
    /// On Linux, `serve` hashes in a child process with a scheduling group of its own, so that
    /// hashing yields to other groups too (a PostgreSQL on the same host); off: threads of this
    /// process, whose nice orders them only against the service's own threads.
    pub hash_process: bool,
    /// `hs256`, `eddsa` or `rs256` (API.md 2.5).
    pub signing: String,
    /// Seals the private signing keys stored in the database (HKDF-SHA256, then XChaCha20-Poly1305).
    pub key_secret: String,
    /// How often an instance reloads the signing keys, picking up rotations made elsewhere (1-60).
    pub key_refresh_secs: u64,
    /// The namespace of a register, login or password-reset body that names none (API.md 7);
    /// empty: such a body is 400.
    pub default_namespace: String,
    /// Trusted identity providers (API.md 7): a list of tables in a file, or the same list as JSON
    /// in `USER_SERVICE__AUTH__EXTERNAL_ISSUERS` (an environment variable holds only text).
    #[serde(default, deserialize_with = "list_or_json")]
    pub external_issuers: Vec<ExternalIssuerSettings>,
}

/// One trusted identity provider (API.md 7, docs/CONFIGURATION.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuerSettings {
    /// The `iss` its tokens carry, exactly.
    pub issuer: String,
    /// Its key set; `{issuer}/.well-known/jwks.json` when unset.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The `aud` its tokens must name; unchecked when unset.
    #[serde(default)]
    pub audience: Option<String>,
    /// The namespace its users belong to.
    pub namespace: String,
    /// The claim new users' usernames come from; the `sub` when unset.
    #[serde(default)]
    pub username_claim: Option<String>,
    /// The claim new users' emails come from (when `email_verified`); `email` when unset.
    #[serde(default)]
    pub email_claim: Option<String>,
}

impl ExternalIssuerSettings {
    /// Where its keys are.
    pub fn jwks_url(&self) -> String {
        self.jwks_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/jwks.json",
                self.issuer.trim_end_matches('/')
            )
        })
    }

    /// What the domain's rules need of it.
    pub fn rules(&self) -> ExternalIssuer {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        ExternalIssuer {
            issuer: self.issuer.clone(),
            audience: some(&self.audience),
            namespace: self.namespace.clone(),
            username_claim: some(&self.username_claim),
            email_claim: some(&self.email_claim),
        }
    }
}

fn list_or_json<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ExternalIssuerSettings>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<ExternalIssuerSettings>),
        Json(String),
    }
    match Raw::deserialize(d)? {
        Raw::List(list) => Ok(list),
        Raw::Json(text) if text.trim().is_empty() => Ok(Vec::new()),
        Raw::Json(text) => serde_json::from_str(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "auth.external_issuers must be a JSON list of issuers: {e}"
            ))
        }),
    }
}

impl AuthSettings {
    /// The external issuers as the domain knows them, checked by `Settings::load`.
    pub fn external_issuers(&self) -> Result<ExternalIssuers, String> {
        ExternalIssuers::new(
            self.external_issuers
                .iter()
                .map(ExternalIssuerSettings::rules)
                .collect(),
        )
    }

    /// `auth.signing`, checked by `Settings::load`.
    pub fn signing_algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::parse(&self.signing).unwrap_or(SigningAlgorithm::Hs256)
    }

    /// `auth.default_namespace`, checked by `Settings::load`.
    pub fn default_namespace(&self) -> DefaultNamespace {
        DefaultNamespace::new(NamespaceSlug::parse(&self.default_namespace).ok())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    pub api_key: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AvatarSettings {
    pub max_bytes: usize,
    pub max_side_px: u32,
    pub store_side_px: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdempotencySettings {
    pub ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub backend: String,
    pub local_root: String,
    pub public_base_url: String,
    pub s3: S3Settings,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub allow_http: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub per_ip_per_minute: u32,
    pub per_user_per_hour: u32,
    pub login_max_failures: u32,
    pub login_cooldown_secs: u64,
    pub redis_url: String,
    /// Prepended to every Redis key, so several services (or test runs) can share one Redis.
    pub redis_key_prefix: String,
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CorsSettings {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: String,
    pub level: String,
}

/// How mails leave the process (docs/EMAIL.md).
#[derive(Debug, Clone, Deserialize)]
pub struct EmailSettings {
    /// `log` (each mail to the log and to `outbox_dir`) or `smtp`.
    pub transport: String,
    /// The sender when a namespace names none.
    pub from: String,
    pub smtp: SmtpSettings,
    /// Where the `log` transport writes each mail as an `.eml` file.
    pub outbox_dir: String,
    /// How often the sender looks for due mails when the outbox is idle.
    pub poll_interval_ms: u64,
    /// The wait after a failed attempt, doubled after each further one up to `retry_max_secs`.
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    /// Attempts before a mail is given up.
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    /// `smtp://[user:pass@]host[:587]` (STARTTLS) or `smtps://[user:pass@]host[:465]` (TLS).
    pub url: String,
    /// The longest one delivery may take; a claim's lease is longer than this.
    pub timeout_secs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
}

/// Plain environment names honoured for compatibility, and the key each one sets.
const PLAIN_NAMES: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("DB_URL", "database.url"),
    ("JWT_SECRET_KEY", "auth.jwt_secret"),
    ("SECRET_KEY", "auth.jwt_secret"),
    ("AVATAR_MAX_BYTES", "avatar.max_bytes"),
    ("PORT", "server.port"),
    ("GRPC_PORT", "grpc.port"),
    ("HOST", "server.host"),
    ("REDIS_URL", "rate_limit.redis_url"),
    ("ADMIN_API_KEY", "admin.api_key"),
    ("BCRYPT_COST", "auth.bcrypt_cost"),
    ("SMTP_URL", "email.smtp.url"),
    ("DEFAULT_NAMESPACE", "auth.default_namespace"),
];

const LIST_KEYS: &[&str] = &[
    "rate_limit.trusted_proxies",
    "cors.allowed_origins",
    "cors.allowed_methods",
    "cors.allowed_headers",
];

impl Settings {
    /// Loads the settings from `config_dir` and the process environment.
    pub fn load(config_dir: &Path) -> Result<Self, ConfigError> {
        Self::load_from(
            config_dir,
            |k| std::env::var(k).ok(),
            std::env::vars().collect(),
        )
    }

    /// Loads with an explicit environment, so tests need not touch the process's.
    pub fn load_from(
        config_dir: &Path,
        var: impl Fn(&str) -> Option<String>,
        all_vars: Vec<(String, String)>,
    ) -> Result<Self, ConfigError> {
        let profile = var("APP_ENV").unwrap_or_else(|| "development".into());
        let mut builder = defaults(config::Config::builder())?
            .set_override("profile", profile.clone())?
            .add_source(config::File::from(config_dir.join("default.toml")).required(false))
            .add_source(
                config::File::from(config_dir.join(format!("{profile}.toml"))).required(false),
            );

        let prefixed: std::collections::HashMap<String, String> = all_vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("USER_SERVICE__"))
            .collect();
        for (name, key) in PLAIN_NAMES.iter().rev() {
            let env_key = format!("USER_SERVICE__{}", key.replace('.', "__").to_uppercase());
            if let Some(v) = var(name)
                && !prefixed.contains_key(&env_key)
            {
                builder = builder.set_override(*key, v)?;
            }
        }
        let mut env = config::Environment::with_prefix("USER_SERVICE")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .source(Some(prefixed));
        for key in LIST_KEYS {
            env = env.with_list_parse_key(key);
        }
        let settings: Settings = builder.add_source(env).build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// What in-process tests run on: no files, not the process environment; cheap hashing, no rate
    /// limits, avatars under `uploads`, then `env` on top.
    pub fn for_tests(uploads: &Path, env: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let root = uploads.display().to_string();
        let vars: Vec<(String, String)> = [
            ("USER_SERVICE__STORAGE__LOCAL_ROOT", root.as_str()),
            ("USER_SERVICE__AUTH__BCRYPT_COST", "4"),
            ("USER_SERVICE__RATE_LIMIT__ENABLED", "false"),
            (
                "USER_SERVICE__AUTH__JWT_SECRET",
                "test-secret-that-is-long-enough",
            ),
        ]
        .iter()
        .chain(env)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let lookup = vars.clone();
        // Later entries win, as a later variable would.
        Self::load_from(
            &uploads.join("no-config-files-here"),
            move |k| lookup.iter().rfind(|(n, _)| n == k).map(|(_, v)| v.clone()),
            vars,
        )
    }

    fn validate_external_issuers(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(format!("auth.external_issuers: {m}")));
        for i in &self.auth.external_issuers {
            if i.issuer.trim().is_empty() {
                return invalid("an issuer needs its `issuer`".into());
            }
            // Our own tokens are told from theirs by `iss`.
            if i.issuer == self.auth.issuer {
                return invalid(format!("'{}' is auth.issuer, the service's own", i.issuer));
            }
            if NamespaceSlug::parse(&i.namespace).is_err() {
                return invalid(format!("'{}' has no valid namespace", i.issuer));
            }
            let url = i.jwks_url();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return invalid(format!(
                    "the key set of '{}' must be an http(s) URL (jwks_url), not '{url}'",
                    i.issuer
                ));
            }
        }
        self.auth.external_issuers().map(|_| ()).or_else(invalid)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(ConfigError::Invalid(
                "auth.bcrypt_cost must be between 4 and 31".into(),
            ));
        }
        if self.auth.jwt_secret.len() < 16 {
            return Err(ConfigError::Invalid(
                "auth.jwt_secret must be at least 16 bytes".into(),
            ));
        }
        let Some(signing) = SigningAlgorithm::parse(&self.auth.signing) else {
            return Err(ConfigError::Invalid(
                "auth.signing must be hs256, eddsa or rs256".into(),
            ));
        };
        // A typo here would otherwise only show as every seed 002 request failing.
        if !self.auth.default_namespace.is_empty()
            && let Err(rule) = NamespaceSlug::parse(&self.auth.default_namespace)
        {
            return Err(ConfigError::Invalid(format!(
                "auth.default_namespace (DEFAULT_NAMESPACE) {rule}"
            )));
        }
        // Each hash runs on an OS thread of its own, started up front, and bcrypt is CPU-bound: more
        // threads than this buy no throughput and cost a stack each.
        if self.auth.hash_concurrency > MAX_HASH_THREADS {
            return Err(ConfigError::Invalid(format!(
                "auth.hash_concurrency must be between 0 (one per core) and {MAX_HASH_THREADS}"
            )));
        }
        if self.auth.hash_nice > 19 {
            return Err(ConfigError::Invalid(
                "auth.hash_nice must be between 0 and 19".into(),
            ));
        }
        if !(1..=60).contains(&self.auth.key_refresh_secs) {
            return Err(ConfigError::Invalid(
                "auth.key_refresh_secs must be between 1 and 60".into(),
            ));
        }
        if signing.is_asymmetric() && self.auth.key_secret.len() < 16 {
            return Err(ConfigError::Invalid(
                "auth.key_secret must be at least 16 bytes".into(),
            ));
        }
        if self.profile == "production"
            && signing.is_asymmetric()
            && (self.auth.key_secret == DEV_KEY_SECRET
                || self.auth.key_secret.len() < MIN_PRODUCTION_SECRET_BYTES)
        {
            return Err(ConfigError::Invalid(format!(
                "the production profile needs an auth.key_secret of at least {MIN_PRODUCTION_SECRET_BYTES} bytes other than the default: set USER_SERVICE__AUTH__KEY_SECRET"
            )));
        }
        if self.profile == "production" {
            if self.auth.jwt_secret == DEV_JWT_SECRET {
                return Err(ConfigError::Invalid(
                    "the production profile refuses the default auth.jwt_secret: set JWT_SECRET_KEY".into(),
                ));
            }
            // RFC 7518 3.2: an HS256 key at least as long as the hash output (256 bits).
            if self.auth.jwt_secret.len() < MIN_PRODUCTION_SECRET_BYTES {
                return Err(ConfigError::Invalid(format!(
                    "the production profile needs an auth.jwt_secret of at least {MIN_PRODUCTION_SECRET_BYTES} bytes"
                )));
            }
            if self.admin.api_key.is_empty() {
                return Err(ConfigError::Invalid(
                    "the production profile needs an operator key: set ADMIN_API_KEY".into(),
                ));
            }
        }
        self.validate_external_issuers()?;
        match self.email.transport.as_str() {
            "log" => {}
            "smtp" if self.email.smtp.url.is_empty() => {
                return Err(ConfigError::Invalid(
                    "email.transport = \"smtp\" needs email.smtp.url (or SMTP_URL)".into(),
                ));
            }
            "smtp" => {}
            other => {
                return Err(ConfigError::Invalid(format!(
                    "email.transport must be \"log\" or \"smtp\", not \"{other}\""
                )));
            }
        }
        if self.email.max_attempts == 0 || self.email.poll_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "email.max_attempts and email.poll_interval_ms must be at least 1".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        let avatar = &self.avatar;
        if avatar.max_bytes == 0 || avatar.max_side_px == 0 || avatar.store_side_px == 0 {
            return Err(ConfigError::Invalid(
                "avatar.max_bytes, avatar.max_side_px and avatar.store_side_px must be at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn operator_key(&self) -> Option<String> {
        Some(self.admin.api_key.clone()).filter(|k| !k.is_empty())
    }

    /// `server.public_url`, or the address the server listens on.
    pub fn public_url(&self) -> String {
        if self.server.public_url.is_empty() {
            format!("http://{}:{}", self.server.host, self.server.port)
        } else {
            self.server.public_url.trim_end_matches('/').to_owned()
        }
    }

    pub fn workers(&self) -> usize {
        if self.server.workers == 0 {
            num_cpus::get()
        } else {
            self.server.workers
        }
    }
}

type Builder = config::ConfigBuilder<config::builder::DefaultState>;

fn defaults(b: Builder) -> Result<Builder, config::ConfigError> {
    let empty: Vec<String> = Vec::new();
    b.set_default("server.host", "127.0.0.1")?
        .set_default("server.port", 8080)?
        .set_default("server.workers", 0)?
        .set_default("server.body_timeout_secs", 30)?
        .set_default("server.public_url", "")?
        .set_default("grpc.enabled", true)?
        .set_default("grpc.port", 50052)?
        .set_default("database.url", "sqlite://data/user-service.db")?
        .set_default("database.max_connections", 16)?
        .set_default("auth.jwt_secret", DEV_JWT_SECRET)?
        .set_default("auth.access_ttl_secs", 900)?
        .set_default("auth.refresh_ttl_secs", 2_592_000)?
        .set_default("auth.refresh_reuse_leeway_secs", 30)?
        .set_default("auth.bcrypt_cost", 12)?
        .set_default("auth.issuer", "user-service")?
        .set_default("auth.hash_concurrency", 0)?
        .set_default("auth.hash_queue", 256)?
        .set_default("auth.hash_process", true)?
        .set_default("auth.hash_nice", 19)?
        .set_default("auth.signing", "hs256")?
        .set_default("auth.key_secret", DEV_KEY_SECRET)?
        .set_default("auth.key_refresh_secs", 30)?
        .set_default("auth.default_namespace", "")?
        .set_default("admin.api_key", "")?
        .set_default("avatar.max_bytes", 1_048_576)?
        .set_default("avatar.max_side_px", 4096)?
        .set_default("avatar.store_side_px", 512)?
        .set_default("idempotency.ttl_secs", 86_400)?
        .set_default("storage.backend", "local")?
        .set_default("storage.local_root", "data/uploads")?
        .set_default("storage.public_base_url", "")?
        .set_default("storage.s3.bucket", "")?
        .set_default("storage.s3.region", "us-east-1")?
        .set_default("storage.s3.endpoint", "")?
        .set_default("storage.s3.access_key_id", "")?
        .set_default("storage.s3.secret_access_key", "")?
        .set_default("storage.s3.allow_http", false)?
        .set_default("rate_limit.enabled", true)?
        .set_default("rate_limit.per_ip_per_minute", 100)?
        .set_default("rate_limit.per_user_per_hour", 1000)?
        .set_default("rate_limit.login_max_failures", 5)?
        .set_default("rate_limit.login_cooldown_secs", 900)?
        .set_default("rate_limit.redis_url", "")?
        .set_default("rate_limit.redis_key_prefix", "user-service:")?
        .set_default("rate_limit.trusted_proxies", empty.clone())?
        .set_default("cors.allowed_origins", empty)?
        .set_default(
            "cors.allowed_methods",
            vec!["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        )?
        .set_default(
            "cors.allowed_headers",
            vec![
                "authorization",
                "content-type",
                "x-api-key",
                "x-tenant-id",
                "x-request-id",
                "idempotency-key",
            ],
        )?
        .set_default("email.transport", "log")?
        .set_default("email.from", "no-reply@localhost")?
        .set_default("email.smtp.url", "")?
        .set_default("email.smtp.timeout_secs", 30)?
        .set_default("email.outbox_dir", "data/outbox")?
        .set_default("email.poll_interval_ms", 1000)?
        .set_default("email.retry_base_secs", 10)?
        .set_default("email.retry_max_secs", 3600)?
        .set_default("email.max_attempts", 10)?
        .set_default("log.format", "pretty")?
        .set_default("log.level", "info")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let owned: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = owned.clone();
        Settings::load_from(
            dir.path(),
            move |k| lookup.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
            owned,
        )
    }

    #[test]
    fn defaults_are_the_documented_ones() -> Result<(), ConfigError> {
        let s = load(&[])?;
        assert_eq!((s.server.host.as_str(), s.server.port), ("127.0.0.1", 8080));
        assert_eq!(s.database.url, "sqlite://data/user-service.db");
        assert_eq!(
            (
                s.auth.access_ttl_secs,
                s.auth.refresh_ttl_secs,
                s.auth.bcrypt_cost
            ),
            (900, 2_592_000, 12)
        );
        assert_eq!(s.avatar.max_bytes, 1_048_576);
        assert_eq!(s.profile, "development");
        assert!(s.operator_key().is_none());
        Ok(())
    }

    #[test]
    fn grpc_is_on_by_default_on_50052_and_follows_grpc_port() -> Result<(), ConfigError> {
        let s = load(&[])?;
        assert!(s.grpc.enabled);
        assert_eq!(s.grpc.port, 50052);
        assert_eq!(load(&[("GRPC_PORT", "6000")])?.grpc.port, 6000);
        let off = load(&[("USER_SERVICE__GRPC__ENABLED", "false")])?;
        assert!(!off.grpc.enabled);
        Ok(())
    }

    #[test]
    fn hashing_runs_at_the_lowest_nice_level_unless_told() -> Result<(), ConfigError> {
        assert_eq!(load(&[])?.auth.hash_nice, 19);
        assert!(load(&[])?.auth.hash_process);
        assert_eq!(
            load(&[("USER_SERVICE__AUTH__HASH_NICE", "0")])?
                .auth
                .hash_nice,
            0
        );
        assert!(
            load(&[("USER_SERVICE__AUTH__HASH_NICE", "20")])
                .err()
                .is_some_and(|e| e.to_string().contains("auth.hash_nice"))
        );
        Ok(())
    }

    #[test]
    fn hashing_threads_are_bounded() -> Result<(), ConfigError> {
        assert_eq!(load(&[])?.auth.hash_concurrency, 0);
        let limit = MAX_HASH_THREADS.to_string();
        assert_eq!(
            load(&[("USER_SERVICE__AUTH__HASH_CONCURRENCY", limit.as_str())])?
                .auth
                .hash_concurrency,
            MAX_HASH_THREADS
        );
        let over = (MAX_HASH_THREADS + 1).to_string();
        assert!(
            load(&[("USER_SERVICE__AUTH__HASH_CONCURRENCY", over.as_str())])
                .err()
                .is_some_and(|e| e.to_string().contains("auth.hash_concurrency"))
        );
        Ok(())
    }

    #[test]
    fn signing_settings_are_checked() -> Result<(), ConfigError> {
        let s = load(&[])?;
        assert_eq!(s.auth.signing_algorithm(), SigningAlgorithm::Hs256);
        assert_eq!(s.auth.key_refresh_secs, 30);
        let s = load(&[("USER_SERVICE__AUTH__SIGNING", "EdDSA")])?;
        assert_eq!(s.auth.signing_algorithm(), SigningAlgorithm::EdDsa);
        let err = |vars: &[(&str, &str)]| load(vars).err().map(|e| e.to_string());
        assert!(
            err(&[("USER_SERVICE__AUTH__SIGNING", "es256")])
                .is_some_and(|e| e.contains("auth.signing"))
        );
        assert!(
            err(&[("USER_SERVICE__AUTH__KEY_REFRESH_SECS", "61")])
                .is_some_and(|e| e.contains("key_refresh_secs"))
        );
        let production = [
            ("APP_ENV", "production"),
            ("ADMIN_API_KEY", "op"),
            ("JWT_SECRET_KEY", "a-real-secret-of-a-production-length"),
        ];
        // HS256 never reads the key secret: production needs none.
        assert!(load(&production).is_ok());
        let mut eddsa = production.to_vec();
        eddsa.push(("USER_SERVICE__AUTH__SIGNING", "eddsa"));
        assert!(err(&eddsa).is_some_and(|e| e.contains("auth.key_secret")));
        eddsa.push((
            "USER_SERVICE__AUTH__KEY_SECRET",
            "another-real-secret-of-production-length",
        ));
        assert!(load(&eddsa).is_ok());
        Ok(())
    }

    #[test]
    fn default_namespace_is_empty_by_default_and_follows_default_namespace()
    -> Result<(), ConfigError> {
        assert_eq!(
            load(&[])?.auth.default_namespace(),
            DefaultNamespace::default()
        );
        let streamly = NamespaceSlug::parse("streamly").map_err(ConfigError::Invalid)?;
        let s = load(&[("DEFAULT_NAMESPACE", "streamly")])?;
        assert_eq!(s.auth.default_namespace().get(), Some(&streamly));
        let s = load(&[
            ("DEFAULT_NAMESPACE", "other"),
            ("USER_SERVICE__AUTH__DEFAULT_NAMESPACE", "streamly"),
        ])?;
        assert_eq!(s.auth.default_namespace().get(), Some(&streamly));
        let err = load(&[("DEFAULT_NAMESPACE", "Streamly App")])
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("auth.default_namespace")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn plain_names_and_prefixed_variables_apply_prefixed_first() -> Result<(), ConfigError> {
        let s = load(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("BCRYPT_COST", "4"),
            ("PORT", "9000"),
        ])?;
        assert_eq!(
            (s.database.url.as_str(), s.auth.bcrypt_cost, s.server.port),
            ("postgres://x/y", 4, 9000)
        );
        let s = load(&[
            ("BCRYPT_COST", "5"),
            ("USER_SERVICE__AUTH__BCRYPT_COST", "6"),
        ])?;
        assert_eq!(s.auth.bcrypt_cost, 6);
        let s = load(&[(
            "USER_SERVICE__CORS__ALLOWED_ORIGINS",
            "https://a.example,https://b.example",
        )])?;
        assert_eq!(
            s.cors.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        Ok(())
    }

    #[test]
    fn production_refuses_the_default_secret_and_a_missing_operator_key() {
        let err = load(&[("APP_ENV", "production"), ("ADMIN_API_KEY", "op")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("jwt_secret")));
        let err = load(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET_KEY", "a-real-secret-of-a-production-length"),
        ])
        .err()
        .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("operator key")));
        // 28 bytes: fine in development, refused in production (API.md 2.2: at least 32).
        let short = "a-real-secret-of-some-length";
        assert!(load(&[("JWT_SECRET_KEY", short)]).is_ok());
        let err = load(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET_KEY", short),
            ("ADMIN_API_KEY", "op"),
        ])
        .err()
        .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("at least 32 bytes")),
            "{err:?}"
        );
        let long = "a-real-secret-of-some-length-0123";
        assert_eq!(long.len(), 33);
        assert!(
            load(&[
                ("APP_ENV", "production"),
                ("JWT_SECRET_KEY", long),
                ("ADMIN_API_KEY", "op")
            ])
            .is_ok()
        );
        assert!(load(&[("BCRYPT_COST", "3")]).is_err());
    }

    #[test]
    fn avatar_limits_default_and_honour_avatar_max_bytes() -> Result<(), ConfigError> {
        let s = load(&[])?;
        assert_eq!(
            (
                s.avatar.max_bytes,
                s.avatar.max_side_px,
                s.avatar.store_side_px
            ),
            (1_048_576, 4096, 512)
        );
        assert_eq!(
            (s.storage.backend.as_str(), s.storage.local_root.as_str()),
            ("local", "data/uploads")
        );
        assert_eq!(
            load(&[("AVATAR_MAX_BYTES", "2048")])?.avatar.max_bytes,
            2048
        );
        let err = load(&[("USER_SERVICE__AVATAR__STORE_SIDE_PX", "0")])
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("store_side_px")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn external_issuers_come_as_json_in_the_environment() -> Result<(), ConfigError> {
        const KEY: &str = "USER_SERVICE__AUTH__EXTERNAL_ISSUERS";
        assert!(load(&[])?.auth.external_issuers.is_empty());
        let s = load(&[(
            KEY,
            r#"[{"issuer": "https://x.auth0.com/", "audience": "https://api", "namespace": "shop"},
                {"issuer": "https://kc/realms/a", "namespace": "blog", "jwks_url": "https://kc/certs",
                 "username_claim": "preferred_username", "email_claim": "mail"}]"#,
        )])?;
        let [auth0, keycloak] = s.auth.external_issuers.as_slice() else {
            panic!("two issuers: {:?}", s.auth.external_issuers);
        };
        assert_eq!(
            auth0.jwks_url(),
            "https://x.auth0.com/.well-known/jwks.json"
        );
        assert_eq!(keycloak.jwks_url(), "https://kc/certs");
        let rules = s.auth.external_issuers().map_err(ConfigError::Invalid)?;
        assert_eq!(rules.all()[0].audience.as_deref(), Some("https://api"));
        assert_eq!(
            (
                rules.all()[1].username_claim.as_deref(),
                rules.all()[1].email_claim.as_deref()
            ),
            (Some("preferred_username"), Some("mail"))
        );
        for (bad, says) in [
            (
                r#"[{"issuer": "https://a", "namespace": "shop", "typo": 1}]"#,
                "typo",
            ),
            (
                r#"[{"issuer": "https://a", "namespace": "S H O P"}]"#,
                "namespace",
            ),
            (
                r#"[{"issuer": "user-service", "namespace": "shop"}]"#,
                "auth.issuer",
            ),
            (
                r#"[{"issuer": "https://a", "namespace": "shop", "jwks_url": "file:///k"}]"#,
                "http(s)",
            ),
            (
                r#"[{"issuer": "https://a", "namespace": "shop"}, {"issuer": "https://a", "namespace": "blog"}]"#,
                "twice",
            ),
            ("not json", "JSON list"),
        ] {
            let err = load(&[(KEY, bad)]).expect_err(bad);
            assert!(err.to_string().contains(says), "{bad}: {err}");
        }
        Ok(())
    }
}
