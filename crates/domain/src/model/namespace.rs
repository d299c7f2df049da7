//! A namespace isolates one app's users; its slug is part of every user's identity.

use chrono::{DateTime, Utc};

/// 2–50 characters of lowercase ASCII letters, digits, `-` and `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceSlug(String);

impl NamespaceSlug {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (2..=50).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            && raw
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(
                "must be 2-50 characters of a-z, 0-9, - and _, starting with a letter or digit"
                    .into(),
            )
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub slug: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["ab", "my-new-site", "app_1", "9lives", &"a".repeat(50)] {
            assert!(NamespaceSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "-ab",
            "_ab",
            "Ab",
            "a b",
            "ä-b",
            "a.b",
            &"a".repeat(51),
        ] {
            assert!(NamespaceSlug::parse(bad).is_err(), "{bad}");
        }
    }
}
