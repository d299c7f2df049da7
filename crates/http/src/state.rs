//! What every handler can reach: the domain services and the few settings of the HTTP layer, handed
//! in by the composition root (`crates/server`). Nothing here knows which database, store or
//! limiter backs them.

use std::sync::Arc;

use user_service_domain::model::DefaultNamespace;
use user_service_domain::ports::{Clock, DatabaseHealth, Telemetry};
use user_service_domain::services::{
    AdminService, AuthService, AvatarService, CreditService, EmailService, IdempotencyService,
    IdentityService, NamespaceService, ProfileService, RateLimiter, SessionService,
    SigningKeyService, UsageService,
};

use crate::rate_limit::TrustedProxies;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<AuthService>,
    pub namespaces: Arc<NamespaceService>,
    pub profiles: Arc<ProfileService>,
    pub admin: Arc<AdminService>,
    pub email: Arc<EmailService>,
    pub credits: Arc<CreditService>,
    pub usage: Arc<UsageService>,
    pub sessions: Arc<SessionService>,
    pub idempotency: Arc<IdempotencyService>,
    /// External issuers' users, and paths naming a user by an external subject.
    pub identities: Arc<IdentityService>,
    pub avatars: Arc<AvatarService>,
    /// The keys tokens are signed with, loaded (`start`) by the composition root before serving.
    pub signing_keys: Arc<SigningKeyService>,
    pub database: Arc<dyn DatabaseHealth>,
    pub telemetry: Arc<dyn Telemetry>,
    pub settings: Arc<HttpSettings>,
    /// `None` when `rate_limit.enabled` is false.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    pub trusted_proxies: Arc<TrustedProxies>,
    /// The one clock of the wiring: tests hand in one they can move.
    pub clock: Arc<dyn Clock>,
}

/// The settings only the HTTP layer reads.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub cors: CorsSettings,
    /// The whole request body must arrive within this many seconds of the headers, else 408.
    pub body_timeout_secs: u64,
    /// The largest avatar upload accepted.
    pub avatar_max_bytes: usize,
    /// The namespace of a body that names none (`auth.default_namespace`, API.md 7).
    pub default_namespace: DefaultNamespace,
}

#[derive(Debug, Clone, Default)]
pub struct CorsSettings {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
}
