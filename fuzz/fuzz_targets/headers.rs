//! `X-Request-ID` and `Idempotency-Key` as the HTTP layer reads them, from the header's raw bytes.
#![no_main]

#[path = "../../crates/http/src/header_rules.rs"]
mod header_rules;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(id) = header_rules::request_id(data) {
        assert!(!id.is_empty() && id.len() <= header_rules::REQUEST_ID_MAX);
        assert!(id.bytes().all(|b| b.is_ascii_graphic()));
    }
    if let Ok(key) = header_rules::idempotency_key(data) {
        assert!(!key.as_str().is_empty() && key.as_str().len() <= 255);
        assert_eq!(key.as_str().as_bytes(), data);
    }
});
