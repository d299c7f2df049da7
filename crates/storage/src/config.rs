//! What the adapter needs to know to open a store; the binary fills it from its settings.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Backend {
    /// Files under a root directory, created when missing.
    Local { root: PathBuf },
    /// A bucket of AWS S3 or of any S3-compatible server.
    S3(S3Config),
    /// Gone with the process; for tests.
    Memory,
}

#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// Empty for AWS itself; the base URL of any other S3-compatible server.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Plain `http://` endpoints are refused unless this is set.
    pub allow_http: bool,
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub backend: Backend,
    /// Base of every `avatar_url`; empty means the service's own `/uploads/`.
    pub public_base_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Invalid(String),
    #[error("storage: cannot create the local root {path}: {source}")]
    LocalRoot {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("storage: {0}")]
    Open(#[from] object_store::Error),
}
