//! What a user search means, independent of the database that runs it.
//!
//! Both adapters index the same normalised text ([`document`]) and receive the same parsed query
//! ([`SearchQuery`]), so case folding, accent folding and word splitting behave identically on
//! PostgreSQL and SQLite; only stemming and ranking are left to each engine.

use crate::error::DomainError;
use crate::model::User;

/// One term of a query: a word matched by prefix (and by stem), or a quoted phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// A word, matched by prefix (and by stem).
    Word(String),
    /// A quoted phrase: its words in that order.
    Phrase(Vec<String>),
}

/// A parsed `q`: every term must match (AND). Words contain only letters and digits, so an adapter
/// can put them into its engine's query syntax without escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<SearchTerm>,
}

impl SearchQuery {
    /// The shortest query, in characters.
    pub const MIN_CHARS: usize = 2;
    /// The longest query, in characters.
    pub const MAX_CHARS: usize = 100;
    /// A search considers at most this many matching users: `total` is exact up to it, and ranking
    /// happens among them. Counting and ranking every match of a two-letter prefix over a million
    /// users costs seconds on either engine, and no one pages through a thousand search results;
    /// past this the client should refine the query.
    pub const MAX_MATCHES: u64 = 1_000;

    /// Parses `q`: `VALIDATION_ERROR` when it is too short, too long or has no term.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&len) {
            return Err(DomainError::field("q", "must be 2-100 characters"));
        }
        let mut terms = Vec::new();
        // Odd-indexed pieces between double quotes are phrases; an unclosed quote runs to the end.
        for (i, piece) in trimmed.split('"').enumerate() {
            let words = words(piece);
            if i % 2 == 1 && words.len() > 1 {
                terms.push(SearchTerm::Phrase(words));
            } else {
                terms.extend(words.into_iter().map(SearchTerm::Word));
            }
        }
        if terms.is_empty() {
            return Err(DomainError::field("q", "must contain a letter or digit"));
        }
        Ok(Self { terms })
    }

    /// The terms, every one of which must match.
    pub fn terms(&self) -> &[SearchTerm] {
        &self.terms
    }
}

/// The searchable text of a user: username, email, full, first and last name, normalised.
pub fn document(user: &User) -> String {
    let parts = [
        Some(user.username.as_str()),
        user.email.as_deref(),
        user.full_name.as_deref(),
        user.first_name.as_deref(),
        user.last_name.as_deref(),
    ];
    let mut out = String::new();
    for p in parts.into_iter().flatten() {
        for w in words(p) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&w);
        }
    }
    out
}

/// Lowercased, accent-folded runs of letters and digits. Punctuation (`.`, `@`, `-`, `'`) separates
/// words, so `john.doe@example.com` is found by `doe` and `O'Brien` by `brien`.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            for l in c.to_lowercase() {
                cur.push(fold(l));
            }
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Strips the accent of the Latin letters people's names use most; other scripts are left alone.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ạ' | 'ả' | 'ấ' | 'ầ' | 'ắ' | 'ặ' => {
            'a'
        }
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => 'c',
        'ď' | 'đ' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'ẹ' | 'ẻ' | 'ẽ' | 'ế' | 'ề' | 'ể' | 'ệ' => {
            'e'
        }
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'ị' | 'ỉ' => 'i',
        'ł' | 'ľ' | 'ĺ' | 'ļ' => 'l',
        'ñ' | 'ń' | 'ň' | 'ņ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'ơ' | 'ọ' | 'ỏ' | 'ố' | 'ồ' | 'ổ' | 'ộ'
        | 'ớ' | 'ờ' | 'ở' | 'ợ' => 'o',
        'ŕ' | 'ř' => 'r',
        'ś' | 'š' | 'ş' | 'ș' => 's',
        'ť' | 'ţ' | 'ț' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'ư' | 'ụ' | 'ủ' | 'ứ' | 'ừ' | 'ử' | 'ự' => {
            'u'
        }
        'ý' | 'ÿ' | 'ỳ' | 'ỹ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> SearchTerm {
        SearchTerm::Word(s.into())
    }

    #[test]
    fn words_phrases_and_folding() {
        let q = SearchQuery::parse(r#"  Joh "John  Doe" Müller "#).expect("valid");
        assert_eq!(
            q.terms(),
            &[
                w("joh"),
                SearchTerm::Phrase(vec!["john".into(), "doe".into()]),
                w("muller")
            ]
        );
        assert_eq!(words("O'Brien-Đặng"), ["o", "brien", "dang"]);
        assert_eq!(words("Иван ΕΛΈΝΗ 李小龙"), ["иван", "ελένη", "李小龙"]);
        assert_eq!(
            SearchQuery::parse("\"alice\"").expect("valid").terms(),
            &[w("alice")]
        );
    }

    #[test]
    fn length_and_content_are_checked() {
        for bad in ["", "a", " a ", "--", &"x".repeat(101)] {
            assert!(
                matches!(SearchQuery::parse(bad), Err(DomainError::Validation(_))),
                "{bad:?}"
            );
        }
        assert!(SearchQuery::parse(&"x".repeat(100)).is_ok());
        assert!(SearchQuery::parse("李小").is_ok());
    }
}
