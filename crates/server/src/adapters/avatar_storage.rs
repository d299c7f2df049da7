//! Opens the avatar store the settings name: `local` (the default), `s3`, or `memory` (tests only).

use std::path::PathBuf;

use user_service_storage::{Backend, ObjectAvatarStore, S3Config, StorageConfig, StorageError};

use crate::config::StorageSettings;

pub fn open_avatar_store(settings: &StorageSettings) -> Result<ObjectAvatarStore, StorageError> {
    let backend = match settings.backend.as_str() {
        "local" => Backend::Local {
            root: PathBuf::from(&settings.local_root),
        },
        "s3" => {
            let s3 = &settings.s3;
            Backend::S3(S3Config {
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                endpoint: s3.endpoint.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.clone(),
                allow_http: s3.allow_http,
            })
        }
        "memory" => Backend::Memory,
        other => {
            return Err(StorageError::Invalid(format!(
                "storage.backend must be local, s3 or memory, not '{other}'"
            )));
        }
    };
    ObjectAvatarStore::open(&StorageConfig {
        backend,
        public_base_url: settings.public_base_url.clone(),
    })
}
