//! The request id a client may choose (`X-Request-ID` header or gRPC metadata).

/// The longest request id echoed back.
pub const REQUEST_ID_MAX: usize = 128;

/// A client's request id, echoed only when it is 1-128 visible ASCII characters (anything else
/// could forge log lines or response headers); else the service makes its own.
pub fn request_id(raw: &[u8]) -> Option<&str> {
    let ok = !raw.is_empty() && raw.len() <= REQUEST_ID_MAX && raw.iter().all(u8::is_ascii_graphic);
    // Visible ASCII is UTF-8.
    ok.then(|| std::str::from_utf8(raw).ok()).flatten()
}
