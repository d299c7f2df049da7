//! How text is compared and what text is refused.
//!
//! Names (usernames, emails) are compared by a key: RFC 8265's UsernameCaseMapped idea (width
//! mapping by NFKC, case mapping, normalization) with Unicode's full case folding in place of
//! `toLowerCase`, so that `Straße`/`STRASSE` and `ΣΟΦΟΣ`/`σοφος` are one name, as Unicode's
//! compatibility caseless match (D146) defines; dotted and dotless `i` are one letter in every
//! locale. docs/DECISIONS.md says why.
//!
//! Characters that draw nothing or reorder what a reader sees (zero-width, BOM, bidirectional
//! controls, soft hyphen, tag characters) and control characters are refused in every text field:
//! they make two different values look the same, or one value look like another (Trojan Source).

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// The form two names are compared in: equal keys, one name.
pub fn name_key(raw: &str) -> String {
    // Unicode D146 (compatibility caseless match): NFKD(fold(NFKD(fold(NFD(X))))).
    let nfd: String = raw.nfd().collect();
    let once: String = caseless::default_case_fold_str(&nfd).nfkd().collect();
    let twice: String = caseless::default_case_fold_str(&once).nfkd().collect();
    // Full folding keeps Turkish dotless `ı` apart from `i`, and folds `İ` to `i` + combining dot
    // above: three spellings of one look-alike letter. Both become `i`.
    let mut merged = String::with_capacity(twice.len());
    let mut after_i = false;
    for c in twice.chars() {
        if after_i && c == '\u{307}' {
            continue;
        }
        let c = if c == 'ı' { 'i' } else { c };
        after_i = c == 'i';
        merged.push(c);
    }
    merged.nfkc().collect()
}

/// What a text field may hold besides printable characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Usernames and emails: no format character at all.
    Identifier,
    /// Names, labels, titles: zero-width joiner and non-joiner stay, since Persian, the Indic
    /// scripts and emoji sequences need them.
    Line,
    /// Message content: a `Line` that may also hold newlines, carriage returns and tabs.
    Multiline,
}

/// The message for a text with invisible or control characters.
pub const INVISIBLE_MESSAGE: &str =
    "must not contain control, invisible or bidirectional formatting characters";

/// Refuses the characters `kind` does not allow.
pub fn check_visible(raw: &str, kind: TextKind) -> Result<(), String> {
    if raw.chars().any(|c| refused(c, kind)) {
        Err(INVISIBLE_MESSAGE.into())
    } else {
        Ok(())
    }
}

/// A one-line text of at most `max` characters.
pub fn line(max: usize) -> impl Fn(&str) -> Result<String, String> {
    move |s: &str| {
        if s.chars().count() > max {
            return Err(format!("must be at most {max} characters"));
        }
        check_visible(s, TextKind::Line)?;
        Ok(s.to_owned())
    }
}

fn refused(c: char, kind: TextKind) -> bool {
    match c.general_category() {
        GeneralCategory::Control => {
            !(kind == TextKind::Multiline && matches!(c, '\n' | '\r' | '\t'))
        }
        GeneralCategory::Format => {
            kind == TextKind::Identifier || !matches!(c, '\u{200C}' | '\u{200D}')
        }
        // Line and paragraph separators break lines invisibly where no line break is expected.
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn look_alikes_share_one_key() {
        for group in [
            &["ΣΟΦΟΣ", "σοφοσ", "σοφος"][..],
            &["Straße", "STRASSE", "strasse"],
            &["ſam", "SAM", "sam"],
            &["ﬀoo", "ffoo", "FFOO"],
            &["ıstanbul2", "istanbul2", "İSTANBUL2", "ISTANBUL2"],
            &["ｂｏｂ", "bob", "ＢＯＢ"],
            &["straße@ex.com", "STRASSE@ex.com"],
            &["Å", "Å", "å"],
            &["K", "k"],
        ] {
            let key = name_key(group[0]);
            for other in group {
                assert_eq!(name_key(other), key, "{other} vs {}", group[0]);
            }
        }
        assert_ne!(name_key("alice"), name_key("alicia"));
        assert_ne!(name_key("bob"), name_key("böb"));
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for c in [
            '\u{200B}',
            '\u{FEFF}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{200E}',
            '\u{00AD}',
            '\u{E0041}',
            '\0',
            '\u{1B}',
            '\u{7F}',
            '\u{85}',
            '\u{2028}',
        ] {
            for kind in [TextKind::Identifier, TextKind::Line, TextKind::Multiline] {
                assert!(
                    check_visible(&format!("a{c}b"), kind).is_err(),
                    "{:04X} {kind:?}",
                    c as u32
                );
            }
        }
        for kind in [TextKind::Identifier, TextKind::Line] {
            assert!(check_visible("a\nb", kind).is_err());
            assert!(check_visible("a\tb", kind).is_err());
        }
        assert!(check_visible("line one\r\n\tline two", TextKind::Multiline).is_ok());
        // ZWJ in an emoji sequence, ZWNJ in Persian: fine in text, not in identifiers.
        assert!(check_visible("👩\u{200D}💻 می\u{200C}خواهم", TextKind::Line).is_ok());
        assert!(check_visible("a\u{200D}b", TextKind::Identifier).is_err());
        assert!(check_visible("Zoë Đặng 李 ✓", TextKind::Identifier).is_ok());
    }

    /// One character and the ways of writing it that Unicode counts as the same name.
    fn spellings(c: char) -> Vec<String> {
        let mut out = vec![
            c.to_string(),
            c.to_uppercase().collect(),
            c.to_lowercase().collect(),
            caseless::default_case_fold_str(&c.to_string()),
            c.to_string().nfd().collect(),
            c.to_string().nfkd().collect(),
        ];
        if c.is_ascii_graphic() && c != ' ' {
            // The fullwidth form of ASCII.
            out.extend(char::from_u32(c as u32 + 0xFEE0).map(String::from));
        }
        out
    }

    fn alphabet() -> impl Strategy<Value = char> {
        prop_oneof![
            proptest::char::range('a', 'z'),
            proptest::char::range('A', 'Z'),
            proptest::char::range('0', '9'),
            proptest::char::range('\u{C0}', '\u{24F}'),
            proptest::char::range('\u{370}', '\u{3FF}'),
            proptest::char::range('\u{400}', '\u{4FF}'),
            proptest::sample::select(vec![
                'ß', 'ẞ', 'ſ', 'ς', 'ı', 'İ', 'ﬀ', 'ﬁ', 'ﬃ', 'K', 'Å', 'µ', 'ǅ', 'ŉ', 'ΐ', '.',
                '_', '-', '@', '+', '²', 'ª',
            ]),
        ]
    }

    proptest! {
        /// Any two spellings that Unicode's compatibility caseless match calls equal get one key.
        #[test]
        fn strings_equal_under_nfkc_and_case_folding_share_one_key(
            chars in proptest::collection::vec((alphabet(), 0usize..8), 1..12),
        ) {
            let a: String = chars.iter().map(|(c, _)| *c).collect();
            let b: String = chars
                .iter()
                .map(|(c, pick)| {
                    let s = spellings(*c);
                    s[pick % s.len()].clone()
                })
                .collect();
            // Upper-casing dotless `ı` gives `I`, which Unicode does not call equal (the key does).
            prop_assume!(caseless::compatibility_caseless_match_str(&a, &b));
            prop_assert_eq!(name_key(&a), name_key(&b), "{} / {}", a, b);
        }

        /// A stored key is stable: keying it again changes nothing.
        #[test]
        fn keys_are_fixed_points(s in "\\PC{0,16}") {
            let key = name_key(&s);
            prop_assert_eq!(name_key(&key), key.clone());
        }
    }
}
