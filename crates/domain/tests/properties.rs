//! Property tests of the parsers a request reaches: on any input they answer (a value or a message,
//! never a panic), and a parsed value prints as text that parses back to the same value.

use proptest::prelude::*;
use user_service_domain::model::{
    Count, Credits, Email, FullName, NamespaceSlug, PageRequest, PersonName, Phone, Role,
    SearchQuery, Username,
};

/// What a JSON number can look like, with exponents up to the i64 limits and beyond.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,30}(\\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?",
        "-?[0-9]{1,5}(\\.[0-9]{0,5})?[eE][+-]?[0-9]{15,25}",
        Just("1e-9223372036854775808".to_owned()),
        Just("1e9223372036854775807".to_owned()),
        Just("-0".to_owned()),
        Just("-0.0e-0".to_owned()),
    ]
}

proptest! {
    #[test]
    fn money_never_panics_on_any_text(text in any::<String>()) {
        let _ = Credits::parse_decimal(&text);
        let _ = Credits::parse_amount(&text);
        let _ = Count::parse(&text);
    }

    #[test]
    fn money_prints_what_reads_back(text in number_text()) {
        if let Ok(c) = Credits::parse_decimal(&text) {
            prop_assert_eq!(Credits::parse_decimal(&c.to_string()), Ok(c));
            let json = serde_json::to_string(&c).expect("prints");
            prop_assert_eq!(serde_json::from_str::<Credits>(&json).ok(), Some(c));
        }
        if let Ok(n) = Count::parse(&text) {
            prop_assert_eq!(Count::parse(&n.to_string()), Ok(n));
        }
    }

    #[test]
    fn every_amount_prints_exactly(m in any::<i64>()) {
        let c = Credits::from_millionths(m);
        prop_assert_eq!(Credits::parse_decimal(&c.to_string()), Ok(c));
    }

    /// Digits past the sixth decimal place round half to even, and an exponent only moves the point.
    #[test]
    fn extra_digits_round_half_to_even(m in 0i64..1_000_000_000_000_000, tail in "[0-9]{1,40}", zeros in 0usize..30) {
        let text = format!("{}.{:06}{}", m / 1_000_000, m % 1_000_000, tail);
        let first = tail.as_bytes()[0];
        let rest_nonzero = tail.bytes().skip(1).any(|b| b != b'0');
        let up = first > b'5' || (first == b'5' && (rest_nonzero || m % 2 == 1));
        let expected = Credits::from_millionths(m + i64::from(up));
        prop_assert_eq!(Credits::parse_decimal(&text), Ok(expected));
        // The same value written with its point moved and an exponent to move it back.
        let digits = format!("{}{:06}{}", m / 1_000_000, m % 1_000_000, tail);
        let moved = format!("0.{digits}e{}", digits.len() - tail.len() - 6);
        prop_assert_eq!(Credits::parse_decimal(&moved), Ok(expected));
        let padded = format!("{text}{}e0", "0".repeat(zeros));
        prop_assert_eq!(Credits::parse_decimal(&padded), Ok(expected));
    }

    #[test]
    fn counts_are_the_integers_up_to_2_pow_53(n in any::<i64>()) {
        let parsed = Count::parse(&n.to_string());
        prop_assert_eq!(parsed.is_ok(), (0..=Count::MAX).contains(&n));
        if let Ok(c) = parsed {
            prop_assert_eq!(c.get(), n);
        }
    }

    #[test]
    fn value_types_never_panic_and_read_back(text in any::<String>()) {
        if let Ok(v) = Username::parse(&text) {
            prop_assert_eq!(Username::parse(v.as_str()).ok(), Some(v));
        }
        if let Ok(v) = Email::parse(&text) {
            prop_assert_eq!(Email::parse(v.as_str()).ok(), Some(v));
        }
        if let Ok(v) = PersonName::parse(&text) {
            prop_assert_eq!(PersonName::parse(&v.clone().into_inner()).ok(), Some(v));
        }
        if let Ok(v) = FullName::parse(&text) {
            prop_assert_eq!(FullName::parse(&v.clone().into_inner()).ok(), Some(v));
        }
        if let Ok(v) = Phone::parse(&text) {
            prop_assert_eq!(Phone::parse(&v.clone().into_inner()).ok(), Some(v));
        }
        if let Ok(v) = NamespaceSlug::parse(&text) {
            prop_assert_eq!(NamespaceSlug::parse(&v.clone().into_inner()).ok(), Some(v));
        }
        if let Ok(v) = Role::parse(&text) {
            prop_assert_eq!(Role::parse(&v.clone().into_inner()).ok(), Some(v));
        }
        let _ = SearchQuery::parse(&text);
    }

    /// Shaped like the values, so the accepting paths are reached often.
    #[test]
    fn value_shaped_text_reads_back(text in "[a-zA-Z0-9._+@ -]{0,70}", domain in "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,3}") {
        let email = format!("{text}@{domain}");
        if let Ok(v) = Email::parse(&email) {
            prop_assert_eq!(Email::parse(v.as_str()).ok(), Some(v));
        }
        if let Ok(v) = Username::parse(&text) {
            prop_assert_eq!(Username::parse(v.as_str()).ok(), Some(v));
        }
        if let Ok(v) = NamespaceSlug::parse(&domain) {
            prop_assert_eq!(NamespaceSlug::parse(&v.clone().into_inner()).ok(), Some(v));
        }
    }

    #[test]
    fn paging_never_panics(
        page in proptest::option::of(any::<String>()),
        size in proptest::option::of("[0-9]{0,25}"),
        limit in proptest::option::of("-?[0-9]{0,25}"),
        offset in proptest::option::of("[0-9]{0,25}"),
    ) {
        if let Ok(p) = PageRequest::from_query(page.as_deref(), size.as_deref(), limit.as_deref(), offset.as_deref()) {
            prop_assert!((1..=PageRequest::MAX_SIZE).contains(&p.limit));
            prop_assert!(p.offset <= PageRequest::MAX_OFFSET);
        }
    }
}
