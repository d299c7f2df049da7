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

/// The envelope of an HTTP-layer refusal: its status, code and a request id, and the connection
/// closed after it (`exchange` reads to the end).
fn assert_refused(reply: &str, status: u16, code: &str) {
    let shown = &reply[..reply.len().min(300)];
    assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{shown}");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a blank line");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("connection: close"), "{shown}");
    assert!(head.contains("x-request-id: "), "{shown}");
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(body["error"]["code"], code, "{shown}");
    assert_eq!(body["error"]["status_code"], status, "{shown}");
    let id = head
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("x-request-id");
    assert_eq!(
        body["error"]["request_id"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some(id)
    );
}

/// What actix-http would refuse with an empty body of its own is answered in the envelope (API.md
/// 1.4), and the process serves on.
#[tokio::test]
async fn requests_the_http_layer_refuses_get_the_envelope_and_the_server_serves_on() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store.start(&[]).await;
    let long = format!(
        "GET /{} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        "a".repeat(70_000)
    );
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let many = format!("GET /health HTTP/1.1\r\nHost: t\r\n{many}\r\n");
    // A head that reaches 128 KiB unfinished; exactly that much, so the server has read all of it
    // when it answers (unread bytes would turn its close into a reset).
    let mut huge = "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ".to_owned();
    huge.push_str(&"b".repeat(128 * 1024 - huge.len()));
    let cases: [(&str, u16, &str); 7] = [
        (&long, 414, "URI_TOO_LONG"),
        (
            "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{}",
            400,
            "BAD_REQUEST",
        ),
        (
            "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
            400,
            "BAD_REQUEST",
        ),
        (
            "GET /health HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
            400,
            "BAD_REQUEST",
        ),
        (
            "G\u{1}T /health HTTP/1.1\r\nHost: t\r\n\r\n",
            400,
            "BAD_REQUEST",
        ),
        (&many, 431, "HEADERS_TOO_LARGE"),
        (&huge, 431, "HEADERS_TOO_LARGE"),
    ];
    for (request, status, code) in cases {
        let (reply, _) = exchange(&server, request, false).await;
        assert_refused(&reply, status, code);
    }
    let (reply, _) = exchange(
        &server,
        "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        false,
    )
    .await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

/// A refused request on a kept-alive connection: the requests before it are answered first, in
/// order, then its envelope, then the connection closes.
#[tokio::test]
async fn a_refused_request_is_answered_after_the_ones_before_it() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store.start(&[]).await;
    let pipelined = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n\
                     POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                     Content-Length: 2\r\n\r\n{}\
                     GET /health HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n\
                     GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
    let (reply, _) = exchange(&server, pipelined, false).await;
    let statuses: Vec<&str> = reply
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &reply[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "400", "400"], "{reply}");
    let last = &reply[reply.rfind("HTTP/1.1 ").expect("a last answer")..];
    assert_refused(last, 400, "BAD_REQUEST");
}

/// A head that does not arrive within 5 s is 408 in the envelope, whether nothing or part of it
/// was sent.
#[tokio::test]
async fn a_head_not_received_in_time_is_408_in_the_envelope() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store.start(&[]).await;
    for partial in ["", "GET /health HTTP/1.1\r\nHost: t\r\n"] {
        let (reply, took) = exchange(&server, partial, false).await;
        assert_refused(&reply, 408, "REQUEST_TIMEOUT");
        assert!(
            took >= Duration::from_millis(4_500) && took < Duration::from_secs(8),
            "{took:?}"
        );
    }
}

/// A chunked body is passed on whole, and the request after it is served.
#[tokio::test]
async fn chunked_bodies_and_the_requests_after_them_are_served() {
    let store = Store::new(Backend::Sqlite).await;
    let server = store.start(&[]).await;
    let request = "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
                   Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n1;ext=1\r\n}\r\n0\r\n\r\n\
                   GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (reply, _) = exchange(&server, request, false).await;
    let statuses: Vec<&str> = reply
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &reply[i + 9..i + 12])
        .collect();
    // The login body `{}` names no namespace: the application's own validation answered it.
    assert_eq!(statuses, ["400", "200"], "{reply}");
    assert!(reply.contains(r#""code":"VALIDATION_ERROR""#), "{reply}");
}
