//! The money and count readers, on any text: never a panic, never work beyond the text's length,
//! and what is accepted prints as a number that reads back as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use user_service_domain::model::{Count, Credits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Credits::parse_decimal(text) {
        assert_eq!(Credits::parse_decimal(&c.to_string()), Ok(c), "{text:?}");
    }
    if let Ok(c) = Credits::parse_amount(text) {
        assert!(c > Credits::ZERO && c <= Credits::MAX_AMOUNT);
    }
    if let Ok(n) = Count::parse(text) {
        assert!((0..=Count::MAX).contains(&n.get()));
        assert_eq!(Count::parse(&n.to_string()), Ok(n));
    }
    // The way bodies read money: serde_json hands over the number's text as sent.
    if let Ok(c) = serde_json::from_slice::<Credits>(data) {
        let printed = serde_json::to_string(&c).expect("money prints");
        assert_eq!(serde_json::from_str::<Credits>(&printed).ok(), Some(c));
    }
});
