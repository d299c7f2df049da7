//! Avatars through the real binary: an upload served back, and a 1 GiB streamed upload refused without
//! being buffered (the server's peak memory stays small).

use std::io::Cursor;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use user_service_e2e::{Backend, StatusCode, Store, on_both, text};

const PW: &str = "supersecret123";
const BOUNDARY: &str = "e2e-avatar-boundary";
const MIB: usize = 1024 * 1024;

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

fn multipart(bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Peak resident memory of a process, in bytes (`VmHWM` of `/proc/PID/status`).
fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line");
    kib * 1024
}

async fn register(s: &user_service_e2e::Server) -> String {
    s.post("/userspaces", &json!({"namespace": "shop"})).await;
    let (st, reg) = s
        .post(
            "/auth/register",
            &json!({"namespace": "shop", "username": "alice", "password": PW}),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{reg}");
    text(&reg["access_token"])
}

async fn an_upload_is_served_back(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let token = register(&s).await;
    let res = s
        .client
        .post(s.url("/users/me/avatar"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(multipart(&png(1000, 250)))
        .send()
        .await
        .expect("upload sent");
    let (st, body) = user_service_e2e::read(res).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let url = text(&body["data"]["avatar_url"]);
    assert!(url.starts_with("/uploads/avatars/shop/"), "{url}");
    let res = s.client.get(s.url(&url)).send().await.expect("get avatar");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/png")
    );
    let bytes = res.bytes().await.expect("avatar bytes");
    let img = image::load_from_memory(&bytes).expect("a decodable png");
    assert_eq!((img.width(), img.height()), (512, 128));
    s.stop().await;
}

/// Streams up to 1 GiB of chunked multipart (at most about 100 MiB/s, so that draining it all would
/// take ten seconds) while reading the answer. Returns the status line, the bytes written when the
/// answer came, and the bytes written before the server closed the connection.
async fn stream_a_gigabyte(base: &str, token: &str) -> (String, usize, usize) {
    let authority = base.trim_start_matches("http://").to_owned();
    let stream = TcpStream::connect(&authority).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST /users/me/avatar HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let written = progress.clone();
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        if wr.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        let part = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.png\"\r\n\r\n"
        );
        let mut chunks = vec![part.into_bytes()];
        chunks.extend(std::iter::repeat_n(
            vec![0u8; 64 * 1024],
            1024 * MIB / (64 * 1024),
        ));
        for chunk in chunks {
            let framed = [
                format!("{:x}\r\n", chunk.len()).into_bytes(),
                chunk,
                b"\r\n".to_vec(),
            ]
            .concat();
            if wr.write_all(&framed).await.is_err() {
                break;
            }
            sent += framed.len();
            written.store(sent, std::sync::atomic::Ordering::SeqCst);
            if sent % MIB < 64 * 1024 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        sent
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(60), rd.read(&mut answer))
        .await
        .expect("the server answered within 60 s")
        .expect("read answer");
    let when_answered = progress.load(std::sync::atomic::Ordering::SeqCst);
    let status_line = String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    drop(rd);
    let sent = tokio::time::timeout(Duration::from_secs(60), writer)
        .await
        .expect("the writer stopped once the server closed")
        .expect("writer task");
    (status_line, when_answered, sent)
}

async fn a_streamed_gigabyte_is_refused_without_buffering(backend: Backend) {
    let store = Store::new(backend).await;
    let s = store.start(&[]).await;
    let token = register(&s).await;
    let (status_line, when_answered, sent) = stream_a_gigabyte(&s.base, &token).await;
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    assert!(
        when_answered < 64 * MIB,
        "the server answered only after {when_answered} bytes"
    );
    assert!(
        sent < 512 * MIB,
        "the server kept reading: {sent} bytes went in before it closed the connection"
    );
    let pid = s.pid();
    let peak = peak_rss(pid);
    assert!(peak < 200 * MIB, "peak memory {peak} bytes");
    // The server is still fine afterwards.
    let (st, _) = s.get_auth("/users/me", &token).await;
    assert_eq!(st, StatusCode::OK);
    s.stop().await;
}

on_both!(
    an_upload_is_served_back,
    a_streamed_gigabyte_is_refused_without_buffering
);
