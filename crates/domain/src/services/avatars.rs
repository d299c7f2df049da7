//! The current user's avatar: replace it with a checked, re-encoded upload, or remove it.
//!
//! Storage and database cannot share a transaction, so the order of steps is what keeps them in
//! agreement: a new object is written under a fresh key before the database points at it, and an
//! object is deleted only once the database no longer points at it. Whatever fails, the user row never
//! names a missing object, and the object this request wrote is removed again when its row update fails.
//!
//! Soft-deleting a user leaves its avatar object in place (a restore brings the user back whole);
//! objects of deleted users are removed only by an explicit `DELETE /users/me/avatar` before deletion.

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{AvatarKey, User};
use crate::ports::{AvatarStore, Clock, IdGenerator, ImageProcessor, UserRepository};

pub struct AvatarService {
    users: Arc<dyn UserRepository>,
    store: Arc<dyn AvatarStore>,
    images: Arc<dyn ImageProcessor>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl AvatarService {
    pub fn new(
        users: Arc<dyn UserRepository>,
        store: Arc<dyn AvatarStore>,
        images: Arc<dyn ImageProcessor>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Self {
            users,
            store,
            images,
            clock,
            ids,
        }
    }

    /// Checks and re-encodes `upload`, stores it under a fresh key, points the user at it, then removes
    /// the previous object.
    pub async fn replace(&self, user: User, upload: Vec<u8>) -> DomainResult<User> {
        let image = self.images.process(upload).await?;
        let key = AvatarKey::fresh(&user.namespace, user.id, self.ids.new_id(), image.format);
        self.store
            .put(&key, image.bytes, image.format.content_type())
            .await?;

        let previous = user.avatar_key.clone();
        let mut updated = user;
        updated.avatar_url = Some(self.store.public_url(&key));
        updated.avatar_key = Some(key.as_str().to_owned());
        updated.updated_at = self.clock.now();
        let written = match self.users.update_profile(&updated).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DomainError::UserNotFound),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            // The row still names the previous object; the new one would be an orphan. Should this
            // delete fail too, the request's error is still the one worth reporting.
            let _ = self.store.delete(&key).await;
            return Err(e);
        }
        self.forget(previous.as_deref()).await;
        Ok(updated)
    }

    /// Clears the user's avatar, then deletes its object. Without an avatar this changes nothing.
    pub async fn remove(&self, user: User) -> DomainResult<User> {
        if user.avatar_key.is_none() && user.avatar_url.is_none() {
            return Ok(user);
        }
        let previous = user.avatar_key.clone();
        let mut updated = user;
        updated.avatar_url = None;
        updated.avatar_key = None;
        updated.updated_at = self.clock.now();
        if !self.users.update_profile(&updated).await? {
            return Err(DomainError::UserNotFound);
        }
        self.forget(previous.as_deref()).await;
        Ok(updated)
    }

    /// The stored object under `key`, for serving it.
    pub async fn fetch(&self, key: &AvatarKey) -> DomainResult<crate::ports::StoredAvatar> {
        self.store.get(key).await?.ok_or(DomainError::NotFound)
    }

    /// Deletes an object the database no longer names. The user's change is already committed, so a
    /// failure here must not turn a success into an error; it leaves an unreferenced object behind.
    async fn forget(&self, key: Option<&str>) {
        if let Some(key) = key.and_then(AvatarKey::parse) {
            let _ = self.store.delete(&key).await;
        }
    }
}
