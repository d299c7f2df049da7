//! The current user's avatar: replace it with a checked, re-encoded upload, or remove it.
//!
//! Storage and database cannot share a transaction, so the order of steps is what keeps them in
//! agreement: a new object is written under a fresh key before the database points at it, and an
//! object is deleted only once the database no longer points at it. The row is switched with a
//! compare-and-set on the previous key, so two requests racing cannot both believe they replaced the
//! same picture: the later one sees the change, re-reads and replaces the winner's object instead.
//! Whatever fails, the user row never names a missing object, and an object this request wrote is
//! removed again when the row cannot be made to name it.
//!
//! Soft-deleting a user leaves its avatar object in place (a restore brings the user back whole).

use std::sync::Arc;

use crate::error::{DomainError, DomainResult};
use crate::model::{AvatarKey, User};
use crate::ports::{
    AvatarRef, AvatarStore, Clock, IdGenerator, ImageProcessor, StoredAvatar, UserRepository,
};

/// Compare-and-set attempts before giving up with 409. An attempt fails only when another request's
/// succeeded since our read, so up to this many uploads of one user at once all succeed.
pub const AVATAR_SWAP_ATTEMPTS: usize = 10;

/// Avatar upload, serving and removal.
pub struct AvatarService {
    users: Arc<dyn UserRepository>,
    store: Arc<dyn AvatarStore>,
    images: Arc<dyn ImageProcessor>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl AvatarService {
    /// The service on its ports.
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
        let avatar = AvatarRef {
            key: key.as_str().to_owned(),
            url: self.store.public_url(&key),
        };
        match self.point_at(user, Some(avatar)).await {
            Ok(updated) => Ok(updated),
            Err(e) => {
                // The row does not name the new object; left in place it would be an orphan. Should
                // this delete fail too, the request's own error is still the one worth reporting.
                let _ = self.store.delete(&key).await;
                Err(e)
            }
        }
    }

    /// Clears the user's avatar, then deletes its object. Without an avatar this changes nothing.
    pub async fn remove(&self, user: User) -> DomainResult<User> {
        if user.avatar_key.is_none() && user.avatar_url.is_none() {
            return Ok(user);
        }
        self.point_at(user, None).await
    }

    /// The stored object under `key`, for serving it.
    pub async fn fetch(&self, key: &AvatarKey) -> DomainResult<StoredAvatar> {
        self.store.get(key).await?.ok_or(DomainError::NotFound)
    }

    /// Switches the row from the avatar `user` has to `avatar`, re-reading the user when another
    /// request changed it meanwhile, then deletes the object the row no longer names.
    async fn point_at(&self, mut user: User, avatar: Option<AvatarRef>) -> DomainResult<User> {
        for _ in 0..AVATAR_SWAP_ATTEMPTS {
            let previous = user.avatar_key.clone();
            let now = self.clock.now();
            if self
                .users
                .swap_avatar(
                    &user.namespace,
                    user.id,
                    previous.clone(),
                    avatar.clone(),
                    now,
                )
                .await?
            {
                user.avatar_key = avatar.as_ref().map(|a| a.key.clone());
                user.avatar_url = avatar.map(|a| a.url);
                user.updated_at = now;
                self.forget(previous.as_deref()).await;
                return Ok(user);
            }
            user = self
                .users
                .get(&user.namespace, user.id)
                .await?
                .filter(|u| u.deleted_at.is_none())
                .ok_or(DomainError::UserNotFound)?;
        }
        Err(DomainError::Conflict(
            "the avatar was changed by another request; try again".into(),
        ))
    }

    /// Deletes an object the database no longer names. The user's change is already committed, so a
    /// failure here must not turn a success into an error; it leaves an unreferenced object behind.
    async fn forget(&self, key: Option<&str>) {
        if let Some(key) = key.and_then(AvatarKey::parse) {
            let _ = self.store.delete(&key).await;
        }
    }
}
