//! `GET /users/search?q=`: any text is a query or a validation error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use user_service_domain::model::SearchQuery;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(q) = SearchQuery::parse(&text) {
        assert!(!q.terms().is_empty());
    }
});
