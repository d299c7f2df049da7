//! `/users/me/avatar` and `/uploads/{key}`: every avatar rule, on SQLite and PostgreSQL, with real
//! image files made by the tests.

mod common;
#[path = "common/images.rs"]
mod images;

use std::cell::Cell;
use std::rc::Rc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use bytes::Bytes;
use common::{Backend, Harness, Reply};
use futures_util::stream;
use serde_json::{Value, json};
use user_service_domain::model::AvatarKey;
use user_service_domain::ports::AvatarStore;

const PW: &str = "supersecret123";
const MIB: usize = 1024 * 1024;

async fn setup(h: &Harness) -> String {
    h.namespace("shop").await;
    let reg = h.register("shop", "alice", PW).await;
    reg["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

fn upload_request(path: &str, token: &str, body: Vec<u8>) -> TestRequest {
    TestRequest::post()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", images::multipart_content_type()))
        .set_payload(body)
}

async fn upload(h: &Harness, token: &str, filename: &str, bytes: &[u8]) -> Reply {
    let body = images::multipart("file", filename, "application/octet-stream", bytes);
    h.send(upload_request("/users/me/avatar", token, body))
        .await
}

fn avatar_url(r: &Reply) -> String {
    r.body["data"]["avatar_url"]
        .as_str()
        .unwrap_or_else(|| panic!("an avatar_url in {}", r.body))
        .to_owned()
}

async fn get(h: &Harness, path: &str) -> Reply {
    h.send(TestRequest::get().uri(path)).await
}

async fn delete_avatar(h: &Harness, token: &str) -> Reply {
    h.send(
        TestRequest::delete()
            .uri("/users/me/avatar")
            .insert_header(("Authorization", format!("Bearer {token}"))),
    )
    .await
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.code()), (status, code), "{}", r.body);
}

async fn upload_serve_replace_delete(h: Harness) {
    let token = setup(&h).await;
    let me = h.get_auth("/users/me", &token).await;
    let user_id = me.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(me.body["data"]["avatar_url"], Value::Null);

    let r = upload(&h, &token, "me.png", &images::png(800, 400)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["username"], "alice");
    let first = avatar_url(&r);
    let prefix = format!("/uploads/avatars/shop/{user_id}/");
    assert!(
        first.starts_with(&prefix) && first.ends_with(".png"),
        "{first}"
    );
    assert_eq!(
        h.get_auth("/users/me", &token).await.body["data"]["avatar_url"],
        first
    );

    let served = get(&h, &first).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(
        served.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let etag = served.header("etag").expect("an ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "{etag}"
    );
    assert_eq!(
        images::inspect(&served.raw),
        (image::ImageFormat::Png, 512, 256),
        "scaled to 512 on the longer side, aspect kept"
    );

    let cached = h
        .send(
            TestRequest::get()
                .uri(&first)
                .insert_header(("If-None-Match", format!("W/\"x\", {etag}"))),
        )
        .await;
    assert_eq!(
        (cached.status, cached.raw.len()),
        (StatusCode::NOT_MODIFIED, 0)
    );
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    let stale = h
        .send(
            TestRequest::get()
                .uri(&first)
                .insert_header(("If-None-Match", "\"something-else\"")),
        )
        .await;
    assert_eq!(
        (stale.status, stale.raw.len()),
        (StatusCode::OK, served.raw.len())
    );

    // A new upload gets a new key; the old object is gone.
    let r = upload(&h, &token, "me.jpg", &images::jpeg(300, 600)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second = avatar_url(&r);
    assert!(
        second.starts_with(&prefix) && second.ends_with(".jpg"),
        "{second}"
    );
    assert_ne!(second, first);
    assert_error(&get(&h, &first).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    let served = get(&h, &second).await;
    assert_eq!(served.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        images::inspect(&served.raw),
        (image::ImageFormat::Jpeg, 256, 512)
    );

    let r = delete_avatar(&h, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["data"]["avatar_url"].clone(),
            r.body["data"]["username"].clone()
        ),
        (Value::Null, json!("alice"))
    );
    assert_error(&get(&h, &second).await, StatusCode::NOT_FOUND, "NOT_FOUND");
    assert_eq!(
        h.get_auth("/users/me", &token).await.body["data"]["avatar_url"],
        Value::Null
    );
    // Deleting again is harmless.
    let again = delete_avatar(&h, &token).await;
    assert_eq!(
        (again.status, again.body["data"]["avatar_url"].clone()),
        (StatusCode::OK, Value::Null)
    );
}

async fn formats_are_decided_by_content(h: Harness) {
    let token = setup(&h).await;
    // Names and declared types lie; the bytes decide.
    for (bytes, declared, ext, content_type, format) in [
        (
            images::jpeg(64, 48),
            "x.png",
            ".jpg",
            "image/jpeg",
            image::ImageFormat::Jpeg,
        ),
        (
            images::webp(64, 48),
            "x.gif",
            ".webp",
            "image/webp",
            image::ImageFormat::WebP,
        ),
        (
            images::png_rgba(64, 48),
            "x.jpg",
            ".png",
            "image/png",
            image::ImageFormat::Png,
        ),
    ] {
        let body = images::multipart("file", declared, "text/plain", &bytes);
        let r = h
            .send(upload_request("/api/v1/users/me/avatar", &token, body))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let url = avatar_url(&r);
        assert!(url.ends_with(ext), "{url}");
        let served = get(&h, &url).await;
        assert_eq!(served.header("content-type"), Some(content_type));
        // Small images are kept at their size: never scaled up.
        assert_eq!(images::inspect(&served.raw), (format, 64, 48));
    }
}

async fn exif_location_does_not_survive(h: Harness) {
    let token = setup(&h).await;
    let original = images::jpeg_with_gps(640, 480);
    assert!(
        images::contains(&original, b"Exif") && image::load_from_memory(&original).is_ok(),
        "the test image carries EXIF and still decodes"
    );
    let r = upload(&h, &token, "holiday.jpg", &original).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let served = get(&h, &avatar_url(&r)).await;
    assert_eq!(served.status, StatusCode::OK);
    assert!(!images::contains(&served.raw, b"Exif"), "EXIF was stripped");
    assert!(
        !images::contains(&served.raw, &[0xFF, 0xE1]),
        "no APP1 segment at all"
    );
    assert_eq!(
        images::inspect(&served.raw),
        (image::ImageFormat::Jpeg, 512, 384)
    );
}

async fn invalid_images_are_refused(h: Harness) {
    let token = setup(&h).await;
    let mut truncated = images::png(100, 100);
    truncated.truncate(60);
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    let started = std::time::Instant::now();
    for (name, bytes, message) in [
        (
            "text",
            b"hello, I am not an image".to_vec(),
            "only JPEG, PNG and WEBP",
        ),
        ("gif", gif, "only JPEG, PNG and WEBP"),
        ("truncated png", truncated, "not a valid png"),
        ("too wide", images::png(4097, 8), "at most 4096x4096"),
        (
            "bomb",
            images::png_bomb_header(100_000),
            "at most 4096x4096",
        ),
    ] {
        let r = upload(&h, &token, "a.png", &bytes).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_IMAGE");
        let got = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(got.contains(message), "{name}: {got}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "refusals are cheap: no bomb was inflated"
    );
    let me = h.get_auth("/users/me", &token).await;
    assert_eq!(me.body["data"]["avatar_url"], Value::Null);
    assert_eq!(
        std::fs::read_dir(h.uploads.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "nothing was stored"
    );
}

async fn malformed_requests_are_refused(h: Harness) {
    let token = setup(&h).await;
    let wrong_field = images::multipart("picture", "a.png", "image/png", &images::png(8, 8));
    let r = h
        .send(upload_request("/users/me/avatar", &token, wrong_field))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert_eq!(r.body["error"]["details"][0]["field"], "file");

    let empty = images::multipart("file", "a.png", "image/png", b"");
    let r = h
        .send(upload_request("/users/me/avatar", &token, empty))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_IMAGE");

    let json = h
        .send(
            TestRequest::post()
                .uri("/users/me/avatar")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(json!({"file": "x"})),
        )
        .await;
    assert_error(&json, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    let cut = images::multipart("file", "a.png", "image/png", &images::png(8, 8));
    let r = h
        .send(upload_request(
            "/users/me/avatar",
            &token,
            cut[..cut.len() - 20].to_vec(),
        ))
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "BAD_REQUEST");

    let anonymous = h
        .send(
            TestRequest::post()
                .uri("/users/me/avatar")
                .insert_header(("Content-Type", images::multipart_content_type()))
                .set_payload(images::multipart(
                    "file",
                    "a.png",
                    "image/png",
                    &images::png(8, 8),
                )),
        )
        .await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "TOKEN_MISSING");
    let anonymous = h.send(TestRequest::delete().uri("/users/me/avatar")).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "TOKEN_MISSING");
    let put = h
        .send(
            TestRequest::put()
                .uri("/users/me/avatar")
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await;
    assert_error(&put, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED");
}

async fn the_default_size_limit_is_one_mebibyte(h: Harness) {
    let token = setup(&h).await;
    let r = upload(&h, &token, "big.png", &vec![0x89; MIB + 1]).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
}

/// A body that streams `total` bytes of multipart in 64 KiB chunks, counting what the server pulled.
fn endless_upload(total: usize, pulled: Rc<Cell<usize>>) -> Payload {
    let head = format!(
        "--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.png\"\r\n\r\n\u{89}PNG",
        images::BOUNDARY
    );
    let chunk = Bytes::from(vec![0u8; 64 * 1024]);
    let chunks = std::iter::once(Bytes::from(head))
        .chain(std::iter::repeat_n(chunk, total / (64 * 1024)))
        .map(move |c| {
            pulled.set(pulled.get() + c.len());
            Ok::<_, actix_web::error::PayloadError>(c)
        });
    Payload::Stream {
        payload: Box::pin(stream::iter(chunks)),
    }
}

async fn a_gigabyte_is_refused_while_streaming(h: Harness) {
    let token = setup(&h).await;
    let pulled = Rc::new(Cell::new(0));
    let req = TestRequest::post()
        .uri("/users/me/avatar")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", images::multipart_content_type()))
        .to_request();
    let (req, _) = req.replace_payload(endless_upload(1024 * MIB, pulled.clone()));
    let r = h.send_request(req).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    assert!(
        pulled.get() < 2 * MIB,
        "read {} bytes of a 1 GiB upload before refusing it",
        pulled.get()
    );

    // Announced up front, it is refused before the body is read at all.
    let pulled = Rc::new(Cell::new(0));
    let req = TestRequest::post()
        .uri("/users/me/avatar")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", images::multipart_content_type()))
        .insert_header(("Content-Length", (1024 * MIB).to_string()))
        .to_request();
    let (req, _) = req.replace_payload(endless_upload(1024 * MIB, pulled.clone()));
    let r = h.send_request(req).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    assert_eq!(pulled.get(), 0, "nothing of the body was read");
}

async fn uploads_cannot_leave_the_storage_root(h: Harness) {
    let token = setup(&h).await;
    let r = upload(&h, &token, "a.png", &images::png(16, 16)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(get(&h, &avatar_url(&r)).await.status, StatusCode::OK);

    // A file outside the root, and a symlink to it planted inside the root.
    let outside = tempfile::tempdir().expect("outside dir");
    std::fs::write(outside.path().join("secret.png"), b"secret").expect("secret");
    let avatars = h.uploads.path().join("avatars");
    std::os::unix::fs::symlink(outside.path().join("secret.png"), avatars.join("link.png"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), avatars.join("dir")).expect("dir symlink");
    let secret = outside.path().join("secret.png").display().to_string();

    for path in [
        "/uploads/avatars/link.png".to_owned(),
        "/uploads/avatars/dir/secret.png".to_owned(),
        "/uploads/avatars/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        "/uploads/avatars/%2E%2E%2F%2E%2E%2Fsecret.png".to_owned(),
        "/uploads/..%2f..%2fetc%2fpasswd".to_owned(),
        "/uploads/avatars/../../Cargo.toml".to_owned(),
        "/uploads/%2fetc%2fpasswd".to_owned(),
        format!("/uploads/{secret}"),
        format!("/uploads//{secret}"),
        "/uploads/avatars/a%00.png".to_owned(),
        "/uploads/".to_owned(),
    ] {
        let r = get(&h, &path).await;
        assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
        assert!(
            !images::contains(&r.raw, b"secret"),
            "{path} leaked the file"
        );
    }
}

async fn a_soft_deleted_user_keeps_its_avatar_object(h: Harness) {
    let token = setup(&h).await;
    let r = upload(&h, &token, "a.webp", &images::webp(32, 32)).await;
    let url = avatar_url(&r);
    let deleted = h
        .send(
            TestRequest::delete()
                .uri("/users/me")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(json!({"password": PW})),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let served = get(&h, &url).await;
    assert_eq!(
        (served.status, served.header("content-type")),
        (StatusCode::OK, Some("image/webp"))
    );
}

async fn racing_uploads_leave_exactly_one_object(h: Harness) {
    let token = setup(&h).await;
    let first = upload(&h, &token, "a.png", &images::png(40, 40)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let pictures: Vec<Vec<u8>> = (0..6).map(|i| images::png(50 + i, 30)).collect();
    let replies =
        futures_util::future::join_all(pictures.iter().map(|p| upload(&h, &token, "a.png", p)))
            .await;
    for r in &replies {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let me = h.get_auth("/users/me", &token).await;
    let current = me.body["data"]["avatar_url"]
        .as_str()
        .expect("an avatar")
        .to_owned();
    let user_id = me.body["data"]["id"].as_str().expect("id");
    let dir = h.uploads.path().join(format!("avatars/shop/{user_id}"));
    let files: Vec<String> = std::fs::read_dir(&dir)
        .expect("the user's avatar folder")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(files.len(), 1, "one object left, not {files:?}");
    assert!(current.ends_with(&files[0]), "{current} names {files:?}");
}

on_both!(
    racing_uploads_leave_exactly_one_object,
    upload_serve_replace_delete,
    formats_are_decided_by_content,
    exif_location_does_not_survive,
    invalid_images_are_refused,
    malformed_requests_are_refused,
    the_default_size_limit_is_one_mebibyte,
    a_gigabyte_is_refused_while_streaming,
    uploads_cannot_leave_the_storage_root,
    a_soft_deleted_user_keeps_its_avatar_object,
);

/// Settings that need their own harness: `AVATAR_MAX_BYTES`, `storage.public_base_url`, the limits.
async fn configured_limits_and_urls(backend: Backend) {
    let h = Harness::new(
        backend,
        &[
            ("AVATAR_MAX_BYTES", "20000"),
            ("USER_SERVICE__AVATAR__MAX_SIDE_PX", "300"),
            ("USER_SERVICE__AVATAR__STORE_SIDE_PX", "100"),
            ("USER_SERVICE__STORAGE__BACKEND", "memory"),
            (
                "USER_SERVICE__STORAGE__PUBLIC_BASE_URL",
                "https://cdn.example/avatars/",
            ),
        ],
    )
    .await;
    let token = setup(&h).await;
    let small = images::png(200, 50);
    assert!(small.len() < 20_000, "{} bytes", small.len());
    let r = upload(&h, &token, "a.png", &small).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = avatar_url(&r);
    assert!(
        url.starts_with("https://cdn.example/avatars/avatars/shop/"),
        "{url}"
    );
    // The object is also reachable through the service itself.
    let key = url.trim_start_matches("https://cdn.example/avatars/");
    let served = get(&h, &format!("/uploads/{key}")).await;
    assert_eq!(
        images::inspect(&served.raw),
        (image::ImageFormat::Png, 100, 25)
    );

    let r = upload(&h, &token, "a.png", &vec![0x89; 20_001]).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    let r = upload(&h, &token, "a.png", &images::png(301, 10)).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "INVALID_IMAGE");
}

/// With S3 storage (a real S3-compatible server), objects go to the bucket and `avatar_url` is built
/// from `storage.public_base_url`.
async fn s3_storage_end_to_end(backend: Backend) {
    let server = user_service_storage::testing::MotoServer::start().await;
    let s3 = server.bucket("avatars").await;
    let h = Harness::new(
        backend,
        &[
            ("USER_SERVICE__STORAGE__BACKEND", "s3"),
            ("USER_SERVICE__STORAGE__S3__BUCKET", &s3.bucket),
            ("USER_SERVICE__STORAGE__S3__ENDPOINT", &s3.endpoint),
            (
                "USER_SERVICE__STORAGE__S3__ACCESS_KEY_ID",
                &s3.access_key_id,
            ),
            (
                "USER_SERVICE__STORAGE__S3__SECRET_ACCESS_KEY",
                &s3.secret_access_key,
            ),
            ("USER_SERVICE__STORAGE__S3__ALLOW_HTTP", "true"),
            (
                "USER_SERVICE__STORAGE__PUBLIC_BASE_URL",
                &format!("{}/avatars", s3.endpoint),
            ),
        ],
    )
    .await;
    let token = setup(&h).await;
    let r = upload(&h, &token, "a.jpg", &images::jpeg(1024, 768)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = avatar_url(&r);
    assert!(
        url.starts_with(&format!("{}/avatars/avatars/shop/", s3.endpoint)),
        "{url}"
    );
    // The public URL names the object in the bucket: read it back through the S3 API.
    let key = url
        .trim_start_matches(&format!("{}/avatars/", s3.endpoint))
        .to_owned();
    let bucket = user_service_storage::ObjectAvatarStore::s3(&s3, "").expect("s3 store");
    let parsed = AvatarKey::parse(&key).expect("a valid key");
    let stored = bucket
        .get(&parsed)
        .await
        .expect("get")
        .expect("object in the bucket");
    assert_eq!(stored.content_type, "image/jpeg");
    assert_eq!(
        images::inspect(&stored.bytes),
        (image::ImageFormat::Jpeg, 512, 384)
    );

    let r = delete_avatar(&h, &token).await;
    assert_eq!(r.body["data"]["avatar_url"], Value::Null);
    assert_eq!(
        bucket.get(&parsed).await.expect("get"),
        None,
        "object deleted"
    );
    assert_error(
        &get(&h, &format!("/uploads/{key}")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
}

mod settings {
    use super::*;

    #[actix_web::test]
    async fn configured_limits_and_urls_on_sqlite() {
        configured_limits_and_urls(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn configured_limits_and_urls_on_postgres() {
        configured_limits_and_urls(Backend::Postgres).await;
    }

    #[actix_web::test]
    async fn s3_storage_on_sqlite() {
        s3_storage_end_to_end(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn s3_storage_on_postgres() {
        s3_storage_end_to_end(Backend::Postgres).await;
    }
}
