//! What only the local backend can get wrong: files in the right place, and no way out of its root.

use user_service_domain::model::AvatarKey;
use user_service_domain::ports::AvatarStore;
use user_service_storage::{Backend, ObjectAvatarStore, StorageConfig};

fn key(raw: &str) -> AvatarKey {
    AvatarKey::parse(raw).expect("a valid key")
}

#[tokio::test]
async fn objects_are_plain_files_under_the_root_which_is_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("a/b/uploads");
    let store = ObjectAvatarStore::open(&StorageConfig {
        backend: Backend::Local { root: root.clone() },
        public_base_url: String::new(),
    })
    .expect("opens");
    store
        .put(&key("avatars/shop/u/x.png"), b"file".to_vec(), "image/png")
        .await
        .expect("put");
    let on_disk = std::fs::read(root.join("avatars/shop/u/x.png")).expect("file on disk");
    assert_eq!(on_disk, b"file");
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_leading_out_of_the_root_are_not_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).expect("outside dir");
    std::fs::write(outside.join("secret.png"), b"secret").expect("secret file");
    let root = dir.path().join("uploads");
    let store = ObjectAvatarStore::local(&root, "").expect("opens");
    std::fs::create_dir_all(root.join("avatars")).expect("avatars dir");
    std::os::unix::fs::symlink(outside.join("secret.png"), root.join("avatars/file.png"))
        .expect("file symlink");
    std::os::unix::fs::symlink(&outside, root.join("avatars/dir")).expect("dir symlink");

    for k in ["avatars/file.png", "avatars/dir/secret.png"] {
        assert_eq!(store.get(&key(k)).await.expect("get"), None, "{k}");
    }
    // A symlink that stays inside the root is harmless and still served.
    std::fs::write(root.join("avatars/real.png"), b"inside").expect("inside file");
    std::os::unix::fs::symlink(
        root.join("avatars/real.png"),
        root.join("avatars/alias.png"),
    )
    .expect("inner symlink");
    let alias = store.get(&key("avatars/alias.png")).await.expect("get");
    assert_eq!(alias.map(|a| a.bytes), Some(b"inside".to_vec()));
}

#[tokio::test]
async fn a_directory_is_not_an_object() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = ObjectAvatarStore::local(dir.path(), "").expect("opens");
    std::fs::create_dir_all(dir.path().join("avatars/d.png")).expect("dir");
    assert_eq!(store.get(&key("avatars/d.png")).await.expect("get"), None);
}

#[tokio::test]
async fn a_root_that_cannot_be_created_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    let err = ObjectAvatarStore::local(&file.join("uploads"), "")
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("local root")),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_s3_backend_needs_a_bucket() {
    let err = ObjectAvatarStore::s3(&Default::default(), "")
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref().is_some_and(|e| e.contains("bucket")),
        "{err:?}"
    );
}
