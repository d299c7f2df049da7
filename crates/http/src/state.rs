//! The services and resources every handler can reach, built once from the settings.

use std::sync::Arc;

use user_service_db::{Database, DieselNamespaces, DieselRefreshTokens, DieselUsers};
use user_service_domain::ports::{Clock, IdGenerator, SystemClock, SystemIds};
use user_service_domain::services::{
    AdminService, AuthPolicy, AuthService, AvatarService, NamespaceService, ProfileService,
};
use user_service_domain::tokens::AccessTokens;

use crate::adapters::{BcryptHasher, BlockingImageProcessor, ImageRules, open_avatar_store};
use crate::config::Settings;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<AuthService>,
    pub namespaces: Arc<NamespaceService>,
    pub profiles: Arc<ProfileService>,
    pub admin: Arc<AdminService>,
    pub avatars: Arc<AvatarService>,
    pub db: Database,
    pub metrics: Arc<Metrics>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn build(settings: Settings, db: Database) -> Result<Self, StateError> {
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
        Ok(Self {
            auth: Arc::new(auth),
            namespaces: Arc::new(NamespaceService::new(
                namespaces,
                clock.clone(),
                ids,
                creation_open,
            )),
            admin: Arc::new(AdminService::new(users.clone(), clock.clone())),
            avatars: Arc::new(avatars),
            profiles: Arc::new(ProfileService::new(users, refresh_tokens, hasher, clock)),
            metrics: Arc::new(Metrics::new(db.clone())),
            db,
            settings: Arc::new(settings),
        })
    }
}

/// Why the services could not be built from the settings.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("password hasher: {0}")]
    Hasher(#[from] bcrypt::BcryptError),
    #[error(transparent)]
    Storage(#[from] user_service_storage::StorageError),
}
