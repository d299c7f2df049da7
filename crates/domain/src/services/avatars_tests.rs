//! The rules of `AvatarService`: storage and database kept in agreement, against mocks of the ports.

use std::sync::Arc;

use mockall::predicate::always;

use super::AvatarService;
use super::test_support::*;
use crate::error::DomainError;
use crate::model::{AvatarKey, ImageFormat, User};
use crate::ports::{
    MockAvatarStore, MockImageProcessor, MockUserRepository, ProcessedImage, StoredAvatar,
};

const OLD_KEY: &str = "avatars/shop/old/old-object.png";

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

    /// The processor accepts the upload as a WEBP and answers these bytes.
    fn processed_webp(&mut self) {
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
    }
}

fn new_key() -> String {
    format!("avatars/shop/{}/{}.webp", user().id, generated_id(1))
}

fn with_avatar() -> User {
    User {
        avatar_key: Some(OLD_KEY.into()),
        avatar_url: Some(format!("https://cdn.example/{OLD_KEY}")),
        ..user()
    }
}

fn expected_after_upload() -> User {
    User {
        avatar_key: Some(new_key()),
        avatar_url: Some(format!("https://cdn.example/{}", new_key())),
        updated_at: t0(),
        ..user()
    }
}

fn key_is(expected: &str) -> impl Fn(&AvatarKey) -> bool + use<> {
    let expected = expected.to_owned();
    move |k| k.as_str() == expected
}

#[tokio::test]
async fn an_upload_is_stored_under_a_fresh_key_then_the_old_object_goes() {
    let mut p = Ports::new();
    p.processed_webp();
    let put_key = new_key();
    p.store
        .expect_put()
        .withf(move |k, bytes, ct| {
            k.as_str() == put_key && bytes == b"re-encoded" && ct == "image/webp"
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let expected = expected_after_upload();
    p.users
        .expect_update_profile()
        .withf(move |u| *u == expected)
        .times(1)
        .returning(|_| Ok(true));
    p.store
        .expect_delete()
        .withf(key_is(OLD_KEY))
        .times(1)
        .returning(|_| Ok(()));

    let updated = p.service().replace(with_avatar(), b"upload".to_vec()).await;
    assert_eq!(updated.ok(), Some(expected_after_upload()));
}

#[tokio::test]
async fn a_first_upload_deletes_nothing() {
    let mut p = Ports::new();
    p.processed_webp();
    p.store.expect_put().times(1).returning(|_, _, _| Ok(()));
    p.users
        .expect_update_profile()
        .times(1)
        .returning(|_| Ok(true));
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
    p.users.expect_update_profile().never();

    let result = p.service().replace(with_avatar(), b"upload".to_vec()).await;
    assert!(matches!(result, Err(DomainError::InvalidImage(m)) if m == "not an image"));
}

#[tokio::test]
async fn a_failed_store_write_leaves_the_user_unchanged() {
    let mut p = Ports::new();
    p.processed_webp();
    p.store
        .expect_put()
        .times(1)
        .returning(|_, _, _| Err(DomainError::unexpected("disk full")));
    p.users.expect_update_profile().never();
    p.store.expect_delete().never();

    let result = p.service().replace(with_avatar(), b"upload".to_vec()).await;
    assert!(matches!(result, Err(DomainError::Unexpected(_))));
}

#[tokio::test]
async fn a_failed_database_update_removes_the_new_object_and_keeps_the_old() {
    let mut p = Ports::new();
    p.processed_webp();
    p.store.expect_put().times(1).returning(|_, _, _| Ok(()));
    p.users.expect_update_profile().times(1).returning(|_| {
        Err(DomainError::Unavailable {
            retry_after_secs: 1,
        })
    });
    p.store
        .expect_delete()
        .withf(key_is(&new_key()))
        .times(1)
        .returning(|_| Ok(()));

    let result = p.service().replace(with_avatar(), b"upload".to_vec()).await;
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
    p.processed_webp();
    p.store.expect_put().times(1).returning(|_, _, _| Ok(()));
    p.users
        .expect_update_profile()
        .times(1)
        .returning(|_| Ok(false));
    p.store
        .expect_delete()
        .withf(key_is(&new_key()))
        .times(1)
        .returning(|_| Err(DomainError::unexpected("store down")));

    let result = p.service().replace(with_avatar(), b"upload".to_vec()).await;
    assert!(matches!(result, Err(DomainError::UserNotFound)));
}

#[tokio::test]
async fn failing_to_delete_the_old_object_does_not_fail_the_upload() {
    let mut p = Ports::new();
    p.processed_webp();
    p.store.expect_put().times(1).returning(|_, _, _| Ok(()));
    p.users
        .expect_update_profile()
        .times(1)
        .returning(|_| Ok(true));
    p.store
        .expect_delete()
        .withf(key_is(OLD_KEY))
        .times(1)
        .returning(|_| Err(DomainError::unexpected("store down")));

    let updated = p.service().replace(with_avatar(), b"upload".to_vec()).await;
    assert_eq!(updated.ok(), Some(expected_after_upload()));
}

#[tokio::test]
async fn remove_clears_the_user_first_then_deletes_the_object() {
    let mut p = Ports::new();
    let expected = User {
        updated_at: t0(),
        ..user()
    };
    let want = expected.clone();
    p.users
        .expect_update_profile()
        .withf(move |u| *u == want)
        .times(1)
        .returning(|_| Ok(true));
    p.store
        .expect_delete()
        .withf(key_is(OLD_KEY))
        .times(1)
        .returning(|_| Ok(()));

    let updated = p.service().remove(with_avatar()).await;
    assert_eq!(updated.ok(), Some(expected));
}

#[tokio::test]
async fn remove_without_an_avatar_changes_nothing() {
    let mut p = Ports::new();
    p.users.expect_update_profile().never();
    p.store.expect_delete().never();

    let updated = p.service().remove(user()).await;
    assert_eq!(updated.ok(), Some(user()));
}

#[tokio::test]
async fn remove_keeps_the_object_when_the_database_fails() {
    let mut p = Ports::new();
    p.users.expect_update_profile().times(1).returning(|_| {
        Err(DomainError::Unavailable {
            retry_after_secs: 1,
        })
    });
    p.store.expect_delete().never();

    let result = p.service().remove(with_avatar()).await;
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
        .with(always())
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
