//! Validated value types. Parsing happens once, at the edge; inside, a `Username` is always valid.
//! Lengths are counted in Unicode characters, except the password maximum, which is bytes (bcrypt's limit).

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{DomainError, DomainResult, FieldError};
use crate::model::text::{TextKind, check_visible, name_key};

/// Collects every failed field check of one request, so a client sees all its mistakes at once.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
    password_error: Option<DomainError>,
}

impl Checks {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the error of `result` under `field`, returning the value when it was valid.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.push(FieldError::new(field, message));
                None
            }
        }
    }

    /// Like `check` for an optional input: absent stays absent.
    pub fn check_opt<T>(
        &mut self,
        field: &str,
        value: Option<&str>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        value.and_then(|v| self.check(field, parse(v)))
    }

    /// Passwords have their own error codes; they win when the password is the only problem.
    pub fn password(&mut self, field: &str, raw: &str) -> Option<Password> {
        match Password::parse(raw) {
            Ok(p) => Some(p),
            Err(e) => {
                self.errors.push(FieldError::new(field, e.to_string()));
                self.password_error = Some(e);
                None
            }
        }
    }

    /// Records a failure of `field`.
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `Ok` without failures; a password's own error when it is the only one; else `Validation` with every failure.
    pub fn finish(self) -> DomainResult<()> {
        match (self.errors.len(), self.password_error) {
            (0, _) => Ok(()),
            (1, Some(e)) => Err(e),
            _ => Err(DomainError::Validation(self.errors)),
        }
    }
}

pub(crate) fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// 1–64 characters of letters, digits and `. _ - @ +`; compared by `name_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// The longest username, in characters.
    pub const MAX_CHARS: usize = 64;

    /// A username of 1–64 characters of letters, digits and `. _ - @ +`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = char_len(raw);
        if n == 0 || n > Self::MAX_CHARS {
            return Err("must be 1-64 characters".into());
        }
        check_visible(raw, TextKind::Identifier)?;
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))
        {
            return Err("may contain only letters, digits and . _ - @ +".into());
        }
        Ok(Self(raw.to_owned()))
    }
    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The form uniqueness and lookups use.
    pub fn key(&self) -> String {
        name_key(&self.0)
    }
}

/// A syntactically valid address of at most 254 characters; compared by `name_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// A syntactically valid address of at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        const BAD: &str = "must be a valid email address";
        check_visible(raw, TextKind::Identifier)?;
        if char_len(raw) > 254 || raw.chars().any(char::is_whitespace) {
            return Err(BAD.into());
        }
        let Some((local, domain)) = raw.rsplit_once('@') else {
            return Err(BAD.into());
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .split('.')
                .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if local.is_empty() || char_len(local) > 64 || local.contains('@') || !domain_ok {
            return Err(BAD.into());
        }
        Ok(Self(raw.to_owned()))
    }
    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The form uniqueness and lookups use.
    pub fn key(&self) -> String {
        name_key(&self.0)
    }
}

/// At least 8 characters and at most 72 bytes: bcrypt ignores what lies beyond, so longer is refused,
/// never silently truncated.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// At least 8 characters and at most 72 bytes.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if char_len(raw) < 8 {
            return Err(DomainError::PasswordTooShort);
        }
        if raw.len() > 72 {
            return Err(DomainError::PasswordTooLong);
        }
        Ok(Self(raw.to_owned()))
    }
    /// The password.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A first or last name: 1–100 characters of letters (any script), spaces, `-`, `'` and `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// A name of 1–100 letters (any script), spaces, `-`, `'` and `.`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = char_len(raw);
        if n == 0 || n > 100 {
            return Err("must be 1-100 characters".into());
        }
        check_visible(raw, TextKind::Line)?;
        // Combining marks belong to letters in many scripts (Devanagari, Vietnamese in NFD).
        if !raw
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.') || is_mark(c))
        {
            return Err("may contain only letters, spaces, - ' and .".into());
        }
        Ok(Self(raw.to_owned()))
    }
    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x0DFF | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF)
}

/// A display name of 1–200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    /// A display name of 1–200 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = char_len(raw);
        if n == 0 || n > 200 {
            return Err("must be 1-200 characters".into());
        }
        check_visible(raw, TextKind::Line)?;
        Ok(Self(raw.to_owned()))
    }
    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// E.164: `+`, then 2–15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// `+` and 2–15 digits, the first not 0.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = raw.strip_prefix('+').is_some_and(|d| {
            (2..=15).contains(&d.len())
                && d.bytes().all(|b| b.is_ascii_digit())
                && !d.starts_with('0')
        });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be E.164: + then 2-15 digits, the first not 0".into())
        }
    }
    /// The text, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// The free-form profile map: string to string, at most 50 keys of 1–64 characters, values at most 1024.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extra(BTreeMap<String, String>);

impl Extra {
    /// The most keys `extra` may hold.
    pub const MAX_KEYS: usize = 50;

    /// Checks the pairs; see `check`.
    pub fn parse(map: BTreeMap<String, String>) -> Result<Self, String> {
        Self::check(&map)?;
        Ok(Self(map))
    }

    /// At most `MAX_KEYS` keys; keys and values within their lengths, nothing invisible.
    pub fn check(map: &BTreeMap<String, String>) -> Result<(), String> {
        if map.len() > Self::MAX_KEYS {
            return Err(format!("at most {} keys", Self::MAX_KEYS));
        }
        for (k, v) in map {
            if k.is_empty() || char_len(k) > 64 {
                return Err("keys must be 1-64 characters".into());
            }
            if char_len(v) > 1024 {
                return Err(format!("value of '{k}' is longer than 1024 characters"));
            }
            check_visible(k, TextKind::Line).map_err(|m| format!("keys {m}"))?;
            check_visible(v, TextKind::Line).map_err(|m| format!("values {m}"))?;
        }
        Ok(())
    }

    /// The pairs, owned.
    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in [
            "a",
            "alice",
            "Alice.B_c-d@e+f",
            "ñandú",
            "用户",
            &"x".repeat(64),
        ] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a!b", &"x".repeat(65)] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Username::parse("AlIcE").map(|u| u.key()),
            Ok("alice".to_string())
        );
        assert_eq!(
            Username::parse("Straße").map(|u| u.key()),
            Ok("strasse".to_string())
        );
        assert!(Username::parse("bo\u{200B}b").is_err());
    }

    #[test]
    fn emails() {
        for ok in ["a@b.co", "First.Last+tag@sub.example.org", "ü@bücher.de"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@.co",
            "a@b.co.",
            "a b@c.de",
            "a@b..co",
            "a@-b.co",
            "c\u{200B}@ex.com",
            "c@ex\u{202E}.com",
            "\u{FEFF}c@ex.com",
            "c\0@ex.com",
            "c\u{1B}@ex.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Email::parse("A@B.Co").map(|e| e.key()),
            Ok("a@b.co".to_string())
        );
    }

    #[test]
    fn passwords_count_characters_for_the_minimum_and_bytes_for_the_maximum() {
        assert!(matches!(
            Password::parse("1234567"),
            Err(DomainError::PasswordTooShort)
        ));
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"a".repeat(72)).is_ok());
        assert!(matches!(
            Password::parse(&"a".repeat(73)),
            Err(DomainError::PasswordTooLong)
        ));
        // 8 characters, 24 bytes: long enough; 25 three-byte characters are 75 bytes: too long.
        assert!(Password::parse(&"€".repeat(8)).is_ok());
        assert!(matches!(
            Password::parse(&"€".repeat(25)),
            Err(DomainError::PasswordTooLong)
        ));
        assert_eq!(
            format!("{:?}", Password::parse("secret-password").ok()),
            "Some(Password(***))"
        );
    }

    #[test]
    fn person_names() {
        for ok in [
            "Anne-Marie",
            "O'Brien",
            "J.",
            "José María",
            "Zoë",
            "Đặng",
            "Иван",
            "李",
        ] {
            assert!(PersonName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "R2D2", "a_b", "x@y", &"a".repeat(101)] {
            assert!(PersonName::parse(bad).is_err(), "{bad}");
        }
        assert!(FullName::parse(&"a".repeat(200)).is_ok());
        assert!(FullName::parse(&"a".repeat(201)).is_err());
    }

    #[test]
    fn phones() {
        for ok in ["+12", "+14155550123", "+123456789012345"] {
            assert!(Phone::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "+1",
            "14155550123",
            "+0123",
            "+1234567890123456",
            "+1 415",
            "+1a",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn extra_limits() {
        let many: BTreeMap<_, _> = (0..51)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(Extra::parse(many).is_err());
        let fifty: BTreeMap<_, _> = (0..50)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(Extra::parse(fifty).is_ok());
        assert!(Extra::parse(BTreeMap::from([(String::new(), "v".into())])).is_err());
        assert!(Extra::parse(BTreeMap::from([("k".repeat(65), "v".into())])).is_err());
        assert!(Extra::parse(BTreeMap::from([("k".into(), "v".repeat(1025))])).is_err());
        assert!(Extra::parse(BTreeMap::from([("k".into(), "v".repeat(1024))])).is_ok());
    }

    #[test]
    fn checks_report_every_field_and_let_a_lone_password_error_keep_its_code() {
        let mut c = Checks::new();
        c.password("password", "short");
        assert!(matches!(c.finish(), Err(DomainError::PasswordTooShort)));

        let mut c = Checks::new();
        c.password("password", "short");
        c.check("username", Username::parse(""));
        match c.finish() {
            Err(DomainError::Validation(details)) => {
                let fields: Vec<_> = details.iter().map(|d| d.field.as_str()).collect();
                assert_eq!(fields, ["password", "username"]);
            }
            other => panic!("expected validation error, got {other:?}"),
        }
    }
}
