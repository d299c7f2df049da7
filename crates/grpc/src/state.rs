use std::sync::Arc;

use user_service_domain::model::TrustedProxies;
use user_service_domain::ports::{Clock, DatabaseHealth, Telemetry};
use user_service_domain::services::{AdminService, AuthService, IdentityService, RateLimiter};

/// What the RPCs can reach, handed in by the composition root: the same service instances, rate
/// limiter and metrics the HTTP adapter is given.
#[derive(Clone)]
pub struct GrpcState {
    pub auth: Arc<AuthService>,
    pub admin: Arc<AdminService>,
    /// Resolves a request's `user_id` as HTTP paths are: our id or a linked external subject.
    pub identities: Arc<IdentityService>,
    pub database: Arc<dyn DatabaseHealth>,
    pub telemetry: Arc<dyn Telemetry>,
    /// `None` when `rate_limit.enabled` is false.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    pub trusted_proxies: Arc<TrustedProxies>,
    pub clock: Arc<dyn Clock>,
}
