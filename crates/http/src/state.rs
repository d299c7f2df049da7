//! The services and resources every handler can reach, built once from the settings.

use std::sync::Arc;

use user_service_db::{
    Database, DieselCreditLedger, DieselIdempotencyStore, DieselNamespaces, DieselRefreshTokens,
    DieselSessions, DieselUsage, DieselUsers,
};
use user_service_domain::ports::{Clock, IdGenerator, SystemClock, SystemIds};
use user_service_domain::services::{
    AdminService, AuthPolicy, AuthService, CreditService, IdempotencyService, NamespaceService,
    ProfileService, SessionService, UsageService,
};
use user_service_domain::tokens::AccessTokens;

use crate::adapters::BcryptHasher;
use crate::config::Settings;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<AuthService>,
    pub namespaces: Arc<NamespaceService>,
    pub profiles: Arc<ProfileService>,
    pub admin: Arc<AdminService>,
    pub credits: Arc<CreditService>,
    pub usage: Arc<UsageService>,
    pub sessions: Arc<SessionService>,
    pub idempotency: Arc<IdempotencyService>,
    pub db: Database,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn build(settings: Settings, db: Database) -> Result<Self, bcrypt::BcryptError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
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
            concurrency,
            settings.auth.hash_queue,
        )?);
        let access = AccessTokens::new(
            settings.auth.jwt_secret.as_bytes(),
            &settings.auth.issuer,
            settings.auth.access_ttl_secs,
        );
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
        let creation_open = settings.operator_key().is_none();
        let credits = CreditService::new(
            users.clone(),
            Arc::new(DieselCreditLedger::new(db.clone())),
            clock.clone(),
            ids.clone(),
        );
        let usage = UsageService::new(
            users.clone(),
            Arc::new(DieselUsage::new(db.clone())),
            clock.clone(),
        );
        let sessions = SessionService::new(
            users.clone(),
            Arc::new(DieselSessions::new(db.clone())),
            clock.clone(),
            ids.clone(),
        );
        let idempotency = IdempotencyService::new(
            Arc::new(DieselIdempotencyStore::new(db.clone())),
            clock.clone(),
            settings.idempotency.ttl_secs,
        );
        Ok(Self {
            credits: Arc::new(credits),
            usage: Arc::new(usage),
            sessions: Arc::new(sessions),
            idempotency: Arc::new(idempotency),
            auth: Arc::new(auth),
            namespaces: Arc::new(NamespaceService::new(
                namespaces,
                clock.clone(),
                ids,
                creation_open,
            )),
            admin: Arc::new(AdminService::new(users.clone(), clock.clone())),
            profiles: Arc::new(ProfileService::new(users, refresh_tokens, hasher, clock)),
            metrics: Arc::new(Metrics::new(db.clone())),
            db,
            settings: Arc::new(settings),
        })
    }
}
