//! The HTTP edge through the real binary and raw sockets (issue 15): a body that does not arrive in
//! time is 408 and the connection closed; HEAD sends headers only; what actix-http answers itself.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use user_service_e2e::{Backend, Server, Store};

/// Sends `head` (and nothing more unless `trickle`), then reads until the server closes.
async fn exchange(server: &Server, head: &str, trickle: bool) -> (String, Duration) {
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("send head");
    let started = Instant::now();
    let mut out = Vec::new();
    let read = async {
        if trickle {
            // A byte every half second: never finishing, never idle.
            let mut buf = [0u8; 4096];
            loop {
                tokio::select! {
                    n = stream.read(&mut buf) => match n {
                        Ok(0) | Err(_) => break,
                        Ok(n) => out.extend_from_slice(&buf[..n]),
                    },
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {
                        if stream.write_all(b" ").await.is_err() { break; }
                    }
                }
            }
        } else {
            let _ = stream.read_to_end(&mut out).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .expect("the server closed the connection within 15 s");
    (
        String::from_utf8_lossy(&out).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_body_not_received_in_time_is_408_and_the_connection_closed() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store
        .start(&[("USER_SERVICE__SERVER__BODY_TIMEOUT_SECS", "2")])
        .await;
    let head = "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                Content-Length: 2000000\r\n\r\n{";
    for trickle in [false, true] {
        let (reply, took) = exchange(&server, head, trickle).await;
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
        assert!(reply.contains(r#""code":"REQUEST_TIMEOUT""#), "{reply}");
        assert!(reply.contains(r#""status_code":408"#), "{reply}");
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_secs(8),
            "{took:?}"
        );
    }
    // A body that arrives in time is served as usual.
    let (reply, _) = exchange(
        &server,
        "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{}",
        false,
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
}

#[tokio::test]
async fn head_sends_the_headers_of_get_without_a_body() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store.start(&[]).await;
    let (reply, _) = exchange(
        &server,
        "HEAD /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a blank line");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(body, "");
}

/// actix-http refuses these before the application sees them, with its own empty-bodied answer
/// (docs/DECISIONS.md): the contract is the status, and that the process serves on.
#[tokio::test]
async fn requests_the_http_layer_refuses_get_their_status_and_the_server_serves_on() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store.start(&[]).await;
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "a".repeat(70_000)
    );
    let duplicate = "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                     Content-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}";
    for (request, status) in [(long.as_str(), "400"), (duplicate, "400")] {
        let (reply, _) = exchange(&server, request, false).await;
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}")),
            "{}",
            &reply[..reply.len().min(200)]
        );
    }
    let (reply, _) = exchange(
        &server,
        "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}
