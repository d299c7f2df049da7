//! The paging query of every list: `page&page_size&limit&offset` as text, `_` for an absent one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use user_service_domain::model::PageRequest;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '&').map(|p| (p != "_").then_some(p));
    let mut next = || parts.next().flatten();
    let (page, page_size, limit, offset) = (next(), next(), next(), next());
    if let Ok(p) = PageRequest::from_query(page, page_size, limit, offset) {
        assert!((1..=PageRequest::MAX_SIZE).contains(&p.limit));
        assert!(p.offset <= PageRequest::MAX_OFFSET);
        assert!(p.page() >= 1);
    }
});
