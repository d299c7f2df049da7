//! Namespaces: creation with a service key shown once, listing, and key rotation.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{Namespace, NamespaceChanges, NamespaceSlug, PageRequest, Paged, Principal};
use crate::ports::{Clock, IdGenerator, NamespaceRepository};
use crate::tokens::hash_secret;

/// A validated request to create a namespace.
#[derive(Debug, Clone)]
pub struct NewNamespace {
    /// The slug.
    pub slug: NamespaceSlug,
    /// A display name.
    pub name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
}

/// Namespaces and their service keys (API.md 2.1).
pub struct NamespaceService {
    namespaces: Arc<dyn NamespaceRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    /// Without an operator key, creating a namespace needs no credentials (development convenience).
    creation_open: bool,
}

impl NamespaceService {
    /// The service on its ports; `creation_open` lets anyone create namespaces (no operator key).
    pub fn new(
        namespaces: Arc<dyn NamespaceRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        creation_open: bool,
    ) -> Self {
        Self {
            namespaces,
            clock,
            ids,
            creation_open,
        }
    }

    /// Creates the namespace and returns it with its service key, which is stored only as a hash.
    pub async fn create(
        &self,
        caller: Option<&Principal>,
        new: NewNamespace,
    ) -> DomainResult<(Namespace, String)> {
        if !(self.creation_open || matches!(caller, Some(Principal::Operator))) {
            return Err(operator_only(caller));
        }
        let namespace = Namespace {
            slug: new.slug.into_inner(),
            name: new.name,
            description: new.description,
            created_at: self.clock.now(),
            settings: Default::default(),
        };
        let key = self.new_key();
        self.namespaces
            .create(&namespace, &hash_secret(&key))
            .await?;
        Ok((namespace, key))
    }

    /// A page of namespaces; the operator only.
    pub async fn list(
        &self,
        caller: Option<&Principal>,
        page: PageRequest,
    ) -> DomainResult<Paged<Namespace>> {
        match caller {
            Some(Principal::Operator) => self.namespaces.list(page).await,
            other => Err(operator_only(other)),
        }
    }

    /// The operator sees every namespace; its service key and its admins see their own; anyone else
    /// learns nothing about other namespaces.
    pub async fn get(&self, caller: Option<&Principal>, slug: &str) -> DomainResult<Namespace> {
        may_manage(caller, slug)?;
        self.namespaces
            .get(slug)
            .await?
            .ok_or_else(|| DomainError::NamespaceNotFound(slug.to_owned()))
    }

    /// Changes name, description and settings; allowed to whoever may see the namespace.
    pub async fn update(
        &self,
        caller: Option<&Principal>,
        slug: &str,
        changes: &NamespaceChanges,
    ) -> DomainResult<Namespace> {
        may_manage(caller, slug)?;
        self.namespaces
            .update(slug, changes)
            .await?
            .ok_or_else(|| DomainError::NamespaceNotFound(slug.to_owned()))
    }

    /// Issues a new service key; the old one stops working at once.
    pub async fn rotate_key(&self, caller: Option<&Principal>, slug: &str) -> DomainResult<String> {
        if !matches!(caller, Some(Principal::Operator)) {
            return Err(operator_only(caller));
        }
        let key = self.new_key();
        if self
            .namespaces
            .set_api_key_hash(slug, &hash_secret(&key))
            .await?
        {
            Ok(key)
        } else {
            Err(DomainError::NamespaceNotFound(slug.to_owned()))
        }
    }

    fn new_key(&self) -> String {
        format!("usk_{}", self.ids.new_secret())
    }
}

/// No credentials is an authentication problem; the wrong ones an authorization problem.
pub(crate) fn operator_only(caller: Option<&Principal>) -> DomainError {
    match caller {
        None => DomainError::ApiKeyInvalid,
        Some(_) => DomainError::Forbidden("only the platform operator may do this".into()),
    }
}

/// The operator, the namespace's service key and its admins; anyone else of the namespace is
/// refused, and anyone of another namespace learns nothing about it.
fn may_manage(caller: Option<&Principal>, slug: &str) -> DomainResult<()> {
    match caller {
        Some(Principal::Operator) => {}
        Some(p) if p.manages(slug) => {}
        Some(p) if p.namespace() == Some(slug) => {
            return Err(DomainError::Forbidden(
                "only the namespace's service key or admins may do this".into(),
            ));
        }
        Some(_) => return Err(DomainError::NamespaceNotFound(slug.to_owned())),
        None => return Err(DomainError::ApiKeyInvalid),
    }
    Ok(())
}
