//! The value types a request builds (username, email, password, names, phone, namespace slug, role,
//! `extra`, metadata): any text is a value or a message, and a value reads back as itself.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use user_service_domain::model::{
    Email, Extra, FullName, JsonObject, NamespaceSlug, Password, PersonName, Phone, Role, Username,
};

/// `parse(print(parse(x))) == parse(x)` for a type printed by `$print`.
macro_rules! round_trip {
    ($text:expr, $ty:ty, $print:expr) => {
        if let Ok(v) = <$ty>::parse($text) {
            let printed: String = $print(v.clone());
            assert_eq!(<$ty>::parse(&printed).ok(), Some(v), "{}", stringify!($ty));
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    round_trip!(text, Username, |v: Username| v.as_str().to_owned());
    round_trip!(text, Email, |v: Email| v.as_str().to_owned());
    round_trip!(text, PersonName, |v: PersonName| v.into_inner());
    round_trip!(text, FullName, |v: FullName| v.into_inner());
    round_trip!(text, Phone, |v: Phone| v.into_inner());
    round_trip!(text, NamespaceSlug, |v: NamespaceSlug| v.into_inner());
    round_trip!(text, Role, |v: Role| v.into_inner());
    if let Ok(p) = Password::parse(text) {
        assert_eq!(p.as_str(), text);
    }
    // `extra` and metadata arrive as JSON.
    if let Ok(map) = serde_json::from_slice::<BTreeMap<String, String>>(data) {
        if let Ok(extra) = Extra::parse(map.clone()) {
            assert_eq!(extra.into_inner(), map);
        }
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = JsonObject::parse(value);
    }
});
