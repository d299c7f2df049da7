//! The cases every backend must pass. Each case gets a fresh, empty store.

use std::future::Future;

use user_service_domain::model::{AvatarKey, ImageFormat};
use user_service_domain::ports::AvatarStore;
use user_service_storage::ObjectAvatarStore;
use uuid_like::key;

/// Runs every case against stores made by `open(public_base_url)`.
pub async fn run_all<F, Fut>(mut open: F)
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ObjectAvatarStore>,
{
    put_then_get_returns_bytes_type_and_a_stable_etag(&open(String::new()).await).await;
    a_missing_object_is_none(&open(String::new()).await).await;
    a_second_put_replaces_the_object_and_its_etag(&open(String::new()).await).await;
    delete_removes_and_is_idempotent(&open(String::new()).await).await;
    objects_under_different_keys_are_independent(&open(String::new()).await).await;
    urls_default_to_the_service_uploads_path(&open(String::new()).await);
    urls_use_the_public_base_url(&open("https://cdn.example/avatars-bucket/".into()).await);
}

/// Keys built the way the service builds them.
mod uuid_like {
    use super::*;

    pub fn key(user: u128, object: u128, format: ImageFormat) -> AvatarKey {
        let id = |n: u128| format!("00000000-0000-7000-8000-{n:012x}");
        AvatarKey::parse(&format!(
            "avatars/shop/{}/{}.{}",
            id(user),
            id(object),
            format.extension()
        ))
        .expect("a valid key")
    }
}

async fn put_then_get_returns_bytes_type_and_a_stable_etag(store: &ObjectAvatarStore) {
    let k = key(1, 1, ImageFormat::Png);
    store
        .put(&k, b"png bytes".to_vec(), "image/png")
        .await
        .expect("put");
    let first = store.get(&k).await.expect("get").expect("object present");
    assert_eq!(first.bytes, b"png bytes");
    assert_eq!(first.content_type, "image/png");
    assert!(!first.etag.is_empty(), "an etag");
    assert!(
        !first.etag.contains('"'),
        "the etag comes without quotes: {}",
        first.etag
    );
    let again = store.get(&k).await.expect("get").expect("object present");
    assert_eq!(again, first, "an unchanged object reads back identically");
}

async fn a_missing_object_is_none(store: &ObjectAvatarStore) {
    let got = store.get(&key(2, 1, ImageFormat::Jpeg)).await.expect("get");
    assert_eq!(got, None);
}

async fn a_second_put_replaces_the_object_and_its_etag(store: &ObjectAvatarStore) {
    let k = key(3, 1, ImageFormat::WebP);
    store
        .put(&k, b"first".to_vec(), "image/webp")
        .await
        .expect("put");
    let first = store.get(&k).await.expect("get").expect("present");
    store
        .put(&k, b"second version".to_vec(), "image/webp")
        .await
        .expect("put");
    let second = store.get(&k).await.expect("get").expect("present");
    assert_eq!(
        (second.bytes.as_slice(), second.content_type.as_str()),
        (b"second version".as_slice(), "image/webp")
    );
    assert_ne!(second.etag, first.etag, "new content, new etag");
}

async fn delete_removes_and_is_idempotent(store: &ObjectAvatarStore) {
    let k = key(4, 1, ImageFormat::Jpeg);
    store
        .put(&k, b"jpeg".to_vec(), "image/jpeg")
        .await
        .expect("put");
    store.delete(&k).await.expect("delete");
    assert_eq!(store.get(&k).await.expect("get"), None);
    store
        .delete(&k)
        .await
        .expect("deleting a missing object succeeds");
}

async fn objects_under_different_keys_are_independent(store: &ObjectAvatarStore) {
    let a = key(5, 1, ImageFormat::Png);
    let b = key(5, 2, ImageFormat::Png);
    store
        .put(&a, b"a".to_vec(), "image/png")
        .await
        .expect("put");
    store
        .put(&b, b"b".to_vec(), "image/png")
        .await
        .expect("put");
    store.delete(&a).await.expect("delete");
    let left = store.get(&b).await.expect("get").expect("b survives");
    assert_eq!(left.bytes, b"b");
    assert_eq!(store.get(&a).await.expect("get"), None);
}

fn urls_default_to_the_service_uploads_path(store: &ObjectAvatarStore) {
    let k = key(6, 1, ImageFormat::Png);
    assert_eq!(store.public_url(&k), format!("/uploads/{k}"));
}

fn urls_use_the_public_base_url(store: &ObjectAvatarStore) {
    let k = key(7, 1, ImageFormat::Jpeg);
    assert_eq!(
        store.public_url(&k),
        format!("https://cdn.example/avatars-bucket/{k}")
    );
}
