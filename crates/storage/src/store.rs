//! `ObjectAvatarStore`: one adapter for every backend `object_store` offers us.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload};
use sha2::{Digest, Sha256};
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::AvatarKey;
use user_service_domain::ports::{AvatarStore, StoredAvatar};

use crate::config::{Backend, S3Config, StorageConfig, StorageError};

pub struct ObjectAvatarStore {
    store: Arc<dyn ObjectStore>,
    /// The canonical local root, for the local backend only: every read is checked to resolve inside
    /// it, so a symlink planted under the root cannot lead out of it.
    local_root: Option<PathBuf>,
    /// Local files cannot carry a content type; other backends store it with the object.
    keeps_attributes: bool,
    public_base_url: String,
}

impl ObjectAvatarStore {
    pub fn open(config: &StorageConfig) -> Result<Self, StorageError> {
        match &config.backend {
            Backend::Local { root } => Self::local(root, &config.public_base_url),
            Backend::S3(s3) => Self::s3(s3, &config.public_base_url),
            Backend::Memory => Ok(Self::memory(&config.public_base_url)),
        }
    }

    pub fn local(root: &FsPath, public_base_url: &str) -> Result<Self, StorageError> {
        let local_root = |source| StorageError::LocalRoot {
            path: root.display().to_string(),
            source,
        };
        std::fs::create_dir_all(root).map_err(local_root)?;
        let canonical = root.canonicalize().map_err(local_root)?;
        let store = LocalFileSystem::new_with_prefix(&canonical)?;
        Ok(Self {
            store: Arc::new(store),
            local_root: Some(canonical),
            keeps_attributes: false,
            public_base_url: public_base_url.to_owned(),
        })
    }

    pub fn s3(config: &S3Config, public_base_url: &str) -> Result<Self, StorageError> {
        if config.bucket.is_empty() {
            return Err(StorageError::Invalid(
                "storage.s3.bucket is required for the s3 backend".into(),
            ));
        }
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            // Most S3-compatible servers (MinIO, moto, Ceph) serve buckets by path, not by host name.
            .with_virtual_hosted_style_request(false);
        if !config.endpoint.is_empty() {
            builder = builder.with_endpoint(&config.endpoint);
        }
        if !config.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&config.access_key_id)
                .with_secret_access_key(&config.secret_access_key);
        }
        Ok(Self {
            store: Arc::new(builder.build()?),
            local_root: None,
            keeps_attributes: true,
            public_base_url: public_base_url.to_owned(),
        })
    }

    pub fn memory(public_base_url: &str) -> Self {
        Self {
            store: Arc::new(InMemory::new()),
            local_root: None,
            keeps_attributes: true,
            public_base_url: public_base_url.to_owned(),
        }
    }

    /// For the local backend: whether `key` names a regular file whose real path is inside the root.
    /// Other backends have no file system to escape into.
    async fn inside_root(&self, key: &AvatarKey) -> bool {
        let Some(root) = &self.local_root else {
            return true;
        };
        match tokio::fs::canonicalize(root.join(key.as_str())).await {
            Ok(real) if real.starts_with(root) => {
                tokio::fs::metadata(&real).await.is_ok_and(|m| m.is_file())
            }
            _ => false,
        }
    }
}

fn location(key: &AvatarKey) -> DomainResult<Path> {
    Path::parse(key.as_str()).map_err(DomainError::unexpected)
}

#[async_trait]
impl AvatarStore for ObjectAvatarStore {
    async fn put(&self, key: &AvatarKey, bytes: Vec<u8>, content_type: &str) -> DomainResult<()> {
        let path = location(key)?;
        let mut options = PutOptions::default();
        if self.keeps_attributes {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
            options.attributes = attributes;
        }
        self.store
            .put_opts(&path, PutPayload::from(bytes), options)
            .await
            .map_err(DomainError::unexpected)?;
        Ok(())
    }

    async fn get(&self, key: &AvatarKey) -> DomainResult<Option<StoredAvatar>> {
        if !self.inside_root(key).await {
            return Ok(None);
        }
        let path = location(key)?;
        let result = match self.store.get(&path).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(DomainError::unexpected(e)),
        };
        let content_type = result
            .attributes
            .get(&Attribute::ContentType)
            .map(|v| v.as_ref().to_owned())
            .unwrap_or_else(|| key.format().content_type().to_owned());
        let e_tag = result.meta.e_tag.clone();
        let bytes = result.bytes().await.map_err(DomainError::unexpected)?;
        let etag = match e_tag {
            Some(tag) => tag.trim_start_matches("W/").trim_matches('"').to_owned(),
            None => hex::encode(&Sha256::digest(&bytes)[..16]),
        };
        Ok(Some(StoredAvatar {
            bytes: bytes.to_vec(),
            content_type,
            etag,
        }))
    }

    async fn delete(&self, key: &AvatarKey) -> DomainResult<()> {
        let path = location(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(DomainError::unexpected(e)),
        }
    }

    fn public_url(&self, key: &AvatarKey) -> String {
        if self.public_base_url.is_empty() {
            format!("/uploads/{key}")
        } else {
            format!("{}/{key}", self.public_base_url.trim_end_matches('/'))
        }
    }
}
