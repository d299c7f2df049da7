//! The rules of `AvatarService`: storage and database kept in agreement, against mocks of the ports.

use std::sync::Arc;

use mockall::Sequence;
use mockall::predicate::{always, eq};

use super::AvatarService;
use super::avatars::AVATAR_SWAP_ATTEMPTS;
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{AvatarKey, ImageFormat, User};
use crate::ports::{
    AvatarRef, MockAvatarStore, MockImageProcessor, MockUserRepository, ProcessedImage,
    StoredAvatar,
};

const OLD_KEY: &str = "avatars/shop/old/old-object.png";
const RACED_KEY: &str = "avatars/shop/old/raced-object.png";

struct Ports {
    users: MockUserRepository,
    store: MockAvatarStore,
    images: MockImageProcessor,
}

impl Ports {
    fn new() -> Self {
        let mut store = MockAvatarStore::new();
        store
            .expect_public_url()
            .returning(|k| format!("https://cdn.example/{k}"));
        Self {
            users: MockUserRepository::new(),
            store,
            images: MockImageProcessor::new(),
        }
    }

    fn service(self) -> AvatarService {
        AvatarService::new(
            Arc::new(self.users),
            Arc::new(self.store),
            Arc::new(self.images),
            Arc::new(fixed_clock()),
            Arc::new(sequential_ids()),
        )
    }

    /// The processor accepts the upload as a WEBP and answers these bytes; the store takes them.
    fn processed_and_stored(&mut self) {
        self.images
            .expect_process()
            .withf(|upload| upload == b"upload")
            .times(1)
            .returning(|_| {
                Ok(ProcessedImage {
                    format: ImageFormat::WebP,
                    bytes: b"re-encoded".to_vec(),
                    width: 10,
                    height: 5,
                })
            });
        let put_key = new_key();
        self.store
            .expect_put()
            .withf(move |k, bytes, ct| {
                k.as_str() == put_key && bytes == b"re-encoded" && ct == "image/webp"
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
    }

    /// `swap_avatar` is called once from `expected` to `avatar` and answers `result`.
    fn swap_once(
        &mut self,
        expected: Option<&str>,
        avatar: Option<AvatarRef>,
        result: Result<bool, DomainError>,
    ) {
        let mut result = Some(result);
        self.users
            .expect_swap_avatar()
            .with(
                eq(NS),
                eq(user().id),
                eq(expected.map(str::to_owned)),
                eq(avatar),
                eq(t0()),
            )
            .times(1)
            .returning(move |_, _, _, _, _| result.take().unwrap_or(Ok(false)));
    }

    fn deletes(&mut self, key: &str, ok: bool) {
        let key = key.to_owned();
        self.store
            .expect_delete()
            .withf(move |k| k.as_str() == key)
            .times(1)
            .returning(move |_| {
                if ok {
                    Ok(())
                } else {
                    Err(DomainError::unexpected("store down"))
                }
            });
    }
}

fn new_key() -> String {
    format!("avatars/shop/{}/{}.webp", user().id, generated_id(1))
}

fn new_avatar() -> AvatarRef {
    AvatarRef {
        key: new_key(),
        url: format!("https://cdn.example/{}", new_key()),
    }
}

fn with_avatar(key: &str) -> User {
    User {
        avatar_key: Some(key.into()),
        avatar_url: Some(format!("https://cdn.example/{key}")),
        ..user()
    }
}

fn expected_after_upload() -> User {
    User {
        avatar_key: Some(new_key()),
        avatar_url: Some(new_avatar().url),
        updated_at: t0(),
        ..user()
    }
}

#[tokio::test]
async fn an_upload_is_stored_under_a_fresh_key_then_the_old_object_goes() {
    let mut p = Ports::new();
    p.processed_and_stored();
    p.swap_once(Some(OLD_KEY), Some(new_avatar()), Ok(true));
    p.deletes(OLD_KEY, true);

    let updated = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert_eq!(updated.ok(), Some(expected_after_upload()));
}

#[tokio::test]
async fn a_first_upload_deletes_nothing() {
    let mut p = Ports::new();
    p.processed_and_stored();
    p.swap_once(None, Some(new_avatar()), Ok(true));
    p.store.expect_delete().never();

    let updated = p.service().replace(user(), b"upload".to_vec()).await;
    assert_eq!(updated.ok(), Some(expected_after_upload()));
}

#[tokio::test]
async fn an_invalid_image_touches_neither_store_nor_database() {
    let mut p = Ports::new();
    p.images
        .expect_process()
        .times(1)
        .returning(|_| Err(DomainError::InvalidImage("not an image".into())));
    p.store.expect_put().never();
    p.store.expect_delete().never();
    p.users.expect_swap_avatar().never();

    let result = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert!(matches!(result, Err(DomainError::InvalidImage(m)) if m == "not an image"));
}

#[tokio::test]
async fn a_failed_store_write_leaves_the_user_unchanged() {
    let mut p = Ports::new();
    p.images.expect_process().times(1).returning(|_| {
        Ok(ProcessedImage {
            format: ImageFormat::Png,
            bytes: vec![1],
            width: 1,
            height: 1,
        })
    });
    p.store
        .expect_put()
        .times(1)
        .returning(|_, _, _| Err(DomainError::unexpected("disk full")));
    p.users.expect_swap_avatar().never();
    p.store.expect_delete().never();

    let result = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert!(matches!(result, Err(DomainError::Unexpected(_))));
}

#[tokio::test]
async fn a_failed_database_update_removes_the_new_object_and_keeps_the_old() {
    let mut p = Ports::new();
    p.processed_and_stored();
    p.swap_once(
        Some(OLD_KEY),
        Some(new_avatar()),
        Err(DomainError::Unavailable {
            retry_after_secs: 1,
        }),
    );
    p.deletes(&new_key(), true);

    let result = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert!(matches!(
        result,
        Err(DomainError::Unavailable {
            retry_after_secs: 1
        })
    ));
}

#[tokio::test]
async fn a_vanished_user_is_not_found_and_leaves_no_object() {
    let mut p = Ports::new();
    p.processed_and_stored();
    p.swap_once(Some(OLD_KEY), Some(new_avatar()), Ok(false));
    p.users
        .expect_get()
        .with(eq(NS), eq(user().id))
        .times(1)
        .returning(|_, _| {
            Ok(Some(User {
                deleted_at: Some(t0()),
                ..with_avatar(OLD_KEY)
            }))
        });
    // Even when removing the new object fails, the answer is the user's absence.
    p.deletes(&new_key(), false);

    let result = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert!(matches!(result, Err(DomainError::UserNotFound)));
}

#[tokio::test]
async fn a_race_lost_rereads_and_replaces_the_winners_object() {
    let mut p = Ports::new();
    p.processed_and_stored();
    let mut seq = Sequence::new();
    p.users
        .expect_swap_avatar()
        .with(
            eq(NS),
            eq(user().id),
            eq(Some(OLD_KEY.to_owned())),
            always(),
            always(),
        )
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Ok(false));
    p.users
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(Some(with_avatar(RACED_KEY))));
    p.users
        .expect_swap_avatar()
        .with(
            eq(NS),
            eq(user().id),
            eq(Some(RACED_KEY.to_owned())),
            eq(Some(new_avatar())),
            eq(t0()),
        )
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Ok(true));
    // The winner's object is the one the row stopped naming; the original old one is not ours to touch.
    p.deletes(RACED_KEY, true);

    let updated = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert_eq!(updated.ok(), Some(expected_after_upload()));
}

#[tokio::test]
async fn an_avatar_that_keeps_changing_is_a_conflict_and_leaves_no_object() {
    let mut p = Ports::new();
    p.processed_and_stored();
    p.users
        .expect_swap_avatar()
        .times(AVATAR_SWAP_ATTEMPTS)
        .returning(|_, _, _, _, _| Ok(false));
    p.users
        .expect_get()
        .times(AVATAR_SWAP_ATTEMPTS)
        .returning(|_, _| Ok(Some(with_avatar(RACED_KEY))));
    p.deletes(&new_key(), true);

    let result = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert!(matches!(result, Err(DomainError::Conflict(_))));
}

#[tokio::test]
async fn failing_to_delete_the_old_object_does_not_fail_the_upload() {
    let mut p = Ports::new();
    p.processed_and_stored();
    p.swap_once(Some(OLD_KEY), Some(new_avatar()), Ok(true));
    p.deletes(OLD_KEY, false);

    let updated = p
        .service()
        .replace(with_avatar(OLD_KEY), b"upload".to_vec())
        .await;
    assert_eq!(updated.ok(), Some(expected_after_upload()));
}

#[tokio::test]
async fn remove_clears_the_user_first_then_deletes_the_object() {
    let mut p = Ports::new();
    let mut seq = Sequence::new();
    p.users
        .expect_swap_avatar()
        .with(
            eq(NS),
            eq(user().id),
            eq(Some(OLD_KEY.to_owned())),
            eq(None),
            eq(t0()),
        )
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _, _, _| Ok(true));
    p.store
        .expect_delete()
        .withf(|k| k.as_str() == OLD_KEY)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));

    let updated = p.service().remove(with_avatar(OLD_KEY)).await;
    assert_eq!(
        updated.ok(),
        Some(User {
            updated_at: t0(),
            ..user()
        })
    );
}

#[tokio::test]
async fn remove_without_an_avatar_changes_nothing() {
    let mut p = Ports::new();
    p.users.expect_swap_avatar().never();
    p.store.expect_delete().never();

    let updated = p.service().remove(user()).await;
    assert_eq!(updated.ok(), Some(user()));
}

#[tokio::test]
async fn remove_keeps_the_object_when_the_database_fails() {
    let mut p = Ports::new();
    p.swap_once(
        Some(OLD_KEY),
        None,
        Err(DomainError::Unavailable {
            retry_after_secs: 1,
        }),
    );
    p.store.expect_delete().never();

    let result = p.service().remove(with_avatar(OLD_KEY)).await;
    assert!(matches!(result, Err(DomainError::Unavailable { .. })));
}

#[tokio::test]
async fn fetch_answers_not_found_for_a_missing_object() {
    let mut p = Ports::new();
    let stored = StoredAvatar {
        bytes: b"png".to_vec(),
        content_type: "image/png".into(),
        etag: "abc".into(),
    };
    let answer = stored.clone();
    p.store
        .expect_get()
        .times(2)
        .returning(move |k| Ok((k.as_str() == OLD_KEY).then(|| answer.clone())));
    let service = p.service();
    let present = AvatarKey::parse(OLD_KEY).expect("valid key");
    let missing = AvatarKey::parse("avatars/shop/none.png").expect("valid key");
    assert_eq!(service.fetch(&present).await.ok(), Some(stored));
    assert!(matches!(
        service.fetch(&missing).await,
        Err(DomainError::NotFound)
    ));
}
