use async_trait::async_trait;

use crate::error::DomainResult;
use crate::model::{Namespace, NamespaceChanges, PageRequest, Paged};

/// Namespaces and their service keys.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait NamespaceRepository: Send + Sync {
    /// Fails with `NamespaceExists` when the slug is taken.
    async fn create(&self, namespace: &Namespace, api_key_hash: &str) -> DomainResult<()>;
    /// The namespace with this slug.
    async fn get(&self, slug: &str) -> DomainResult<Option<Namespace>>;
    /// A page of namespaces, oldest first.
    async fn list(&self, page: PageRequest) -> DomainResult<Paged<Namespace>>;
    /// The namespace whose service key hashes to `api_key_hash`.
    async fn find_by_api_key_hash(&self, api_key_hash: &str) -> DomainResult<Option<Namespace>>;
    /// Applies `changes` to the namespace as stored at the moment of the write (one transaction);
    /// the namespace afterwards, `None` when it does not exist.
    async fn update(
        &self,
        slug: &str,
        changes: &NamespaceChanges,
    ) -> DomainResult<Option<Namespace>>;
    /// Replaces the key hash; false when the namespace does not exist.
    async fn set_api_key_hash(&self, slug: &str, api_key_hash: &str) -> DomainResult<bool>;
}
