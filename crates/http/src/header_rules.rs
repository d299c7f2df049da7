//! What the service accepts in the request headers it reads as text, as pure functions of the
//! header's bytes: free of the web framework, so the fuzzer (`fuzz/`) compiles this file as it is.

use user_service_domain::model::IdempotencyKey;

pub use user_service_domain::model::request_id::{REQUEST_ID_MAX, request_id};

/// The `Idempotency-Key` header: visible ASCII (HTTP also lets spaces and tabs through), then the
/// domain's 1-255 characters.
pub fn idempotency_key(raw: &[u8]) -> Result<IdempotencyKey, String> {
    let visible = raw
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
    match std::str::from_utf8(raw) {
        Ok(text) if visible => IdempotencyKey::parse(text),
        _ => Err("must be visible ASCII characters".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_visible_ascii() {
        assert_eq!(request_id(b"abc-123"), Some("abc-123"));
        assert_eq!(request_id(&[b'a'; 128]).map(str::len), Some(128));
        for bad in [
            &b""[..],
            &[b'a'; 129],
            b"a b",
            b"a\r\nb",
            "é".as_bytes(),
            b"\x7f",
        ] {
            assert_eq!(request_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_of_bounded_length() {
        assert_eq!(
            idempotency_key(b"order 42").map(|k| k.as_str().to_owned()),
            Ok("order 42".to_owned())
        );
        assert!(idempotency_key(&[b'k'; 255]).is_ok());
        assert!(idempotency_key(&[b'k'; 256]).is_err());
        assert!(idempotency_key(b"").is_err());
        assert_eq!(
            idempotency_key("ключ".as_bytes()).map(|_| ()),
            Err("must be visible ASCII characters".into())
        );
    }
}
