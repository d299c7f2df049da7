//! The `AvatarStore` contract, written once and run against every backend: local disk, memory, and a
//! real S3-compatible server (moto) that the test starts itself on 127.0.0.1.

mod cases;
mod local_only;

use user_service_storage::ObjectAvatarStore;
use user_service_storage::testing::MotoServer;

#[tokio::test]
async fn memory_backend_honours_the_contract() {
    cases::run_all(|base| async move { ObjectAvatarStore::memory(&base) }).await;
}

#[tokio::test]
async fn local_backend_honours_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_owned();
    let mut n = 0;
    cases::run_all(|base| {
        n += 1;
        // A fresh, not yet existing root per case: opening must create it.
        let root = root.join(format!("case-{n}/uploads"));
        async move { ObjectAvatarStore::local(&root, &base).expect("local store opens") }
    })
    .await;
}

#[tokio::test]
async fn s3_backend_honours_the_contract() {
    let server = MotoServer::start().await;
    let mut n = 0;
    cases::run_all(|base| {
        n += 1;
        let bucket = format!("contract-{n}");
        let server = &server;
        async move {
            let config = server.bucket(&bucket).await;
            ObjectAvatarStore::s3(&config, &base).expect("s3 store opens")
        }
    })
    .await;
}
