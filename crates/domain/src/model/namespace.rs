//! A namespace isolates one app's users; its slug is part of every user's identity.

use chrono::{DateTime, Utc};

use super::profile::Change;
use super::text::{TextKind, check_visible};
use super::values::Email;

/// 2–50 characters of lowercase ASCII letters, digits, `-` and `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamespaceSlug(String);

impl NamespaceSlug {
    /// A slug of 2–50 lowercase letters, digits, `-` and `_`, starting with a letter or digit.
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
    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The slug, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// Which namespace a request body means (API.md 7): the one it names, else `auth.default_namespace`.
/// A single-tenant app (seed 002) never sends a namespace; every body that may name one goes
/// through `resolve`, so register, login and a password-reset request cannot disagree about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DefaultNamespace(Option<NamespaceSlug>);

impl DefaultNamespace {
    /// `default` is used for bodies that name no namespace; `None` makes `namespace` required.
    pub fn new(default: Option<NamespaceSlug>) -> Self {
        Self(default)
    }

    /// The configured default, if any.
    pub fn get(&self) -> Option<&NamespaceSlug> {
        self.0.as_ref()
    }

    /// The namespace a body means: the one it names, as sent (a login judges a malformed slug like
    /// an unknown one, 401, so it is not parsed here), else the default. Neither is the same
    /// message a missing required field gets, for the field `namespace`.
    pub fn resolve(&self, given: Option<String>) -> Result<String, String> {
        match (given, &self.0) {
            (Some(given), _) => Ok(given),
            (None, Some(default)) => Ok(default.as_str().to_owned()),
            (None, None) => Err("is required".into()),
        }
    }

    /// `resolve`, then checked as a slug: for routes where a malformed namespace is a 400.
    pub fn slug(&self, given: Option<String>) -> Result<NamespaceSlug, String> {
        self.resolve(given).and_then(|ns| NamespaceSlug::parse(&ns))
    }
}

/// A namespace (tenant): the users of one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// Its identity, as in URLs and bodies.
    pub slug: String,
    /// A display name.
    pub name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its mail and verification settings.
    pub settings: NamespaceSettings,
}

impl Namespace {
    /// What mails call the app: its name, else its slug.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.slug)
    }
}

/// How a namespace's mails look and where their links lead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceSettings {
    /// The app's own page for a new password; the token is appended as `token=`.
    pub password_reset_url: Option<String>,
    /// The app's own page confirming an address; the token is appended as `token=`.
    pub email_verify_url: Option<String>,
    /// The sender of its mails, instead of `email.from`.
    pub mail_from: Option<String>,
    /// Refuse logins (403 `EMAIL_NOT_VERIFIED`) until the account's email is verified.
    pub require_verified_email: bool,
}

/// A validated `PATCH /userspaces/{namespace}`: `Keep` leaves a field, `Clear` empties it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceChanges {
    /// A new display name, or none.
    pub name: Change<String>,
    /// A new description, or none.
    pub description: Change<String>,
    /// The page the password-reset mail links to.
    pub password_reset_url: Change<LinkUrl>,
    /// The page the verification mail links to.
    pub email_verify_url: Change<LinkUrl>,
    /// The sender of the namespace's mails.
    pub mail_from: Change<Email>,
    /// Whether a login needs a verified email.
    pub require_verified_email: Option<bool>,
}

impl NamespaceChanges {
    /// Writes the changes into `ns`.
    pub fn apply(self, ns: &mut Namespace) {
        self.name.apply_to(&mut ns.name, |v| v);
        self.description.apply_to(&mut ns.description, |v| v);
        let s = &mut ns.settings;
        self.password_reset_url
            .apply_to(&mut s.password_reset_url, |u| u.0);
        self.email_verify_url
            .apply_to(&mut s.email_verify_url, |u| u.0);
        self.mail_from
            .apply_to(&mut s.mail_from, |e| e.as_str().to_owned());
        if let Some(required) = self.require_verified_email {
            s.require_verified_email = required;
        }
    }
}

/// The address of a page a mail links to: `https://`, or `http://` on the local machine only (a
/// token travelling in clear over the network could be read on the way), with a host, without a
/// fragment (the token is appended to the query), at most 2000 characters, nothing invisible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUrl(String);

impl LinkUrl {
    /// An `https://` URL (`http://` only on localhost) with a host and no fragment, at most 2000 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        const BAD: &str = "must be an https:// URL (http:// only on localhost), without a fragment";
        if raw.len() > 2000 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BAD.into());
        }
        check_visible(raw, TextKind::Identifier)?;
        let (secure, rest) = if let Some(rest) = raw.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = raw.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(BAD.into());
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        // Credentials in a link would be handed to every recipient.
        if authority.contains('@') || raw.contains('#') {
            return Err(BAD.into());
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        if host.is_empty() {
            return Err(BAD.into());
        }
        let local = matches!(host, "localhost" | "127.0.0.1" | "::1");
        if !secure && !local {
            return Err(BAD.into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `base` with `token=<token>` added to its query.
pub fn link_with_token(base: &str, token: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}token={token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_urls() {
        for ok in [
            "https://app.example.com/reset",
            "https://app.example.com/reset?lang=en",
            "http://localhost:3000/reset",
            "http://127.0.0.1/verify",
            "http://[::1]:8080/x",
        ] {
            assert!(LinkUrl::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://example.com/x",
            "http://example.com/reset",
            "https://",
            "https:///path",
            "https://user:pw@example.com/x",
            "https://example.com/x#frag",
            "https://exa mple.com/",
            "javascript:alert(1)",
            "https://example.com/\u{202e}x",
            &format!("https://example.com/{}", "a".repeat(2000)),
        ] {
            assert!(LinkUrl::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            link_with_token("https://a.b/r", "T"),
            "https://a.b/r?token=T"
        );
        assert_eq!(
            link_with_token("https://a.b/r?x=1", "T"),
            "https://a.b/r?x=1&token=T"
        );
    }

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

    #[test]
    fn a_body_without_namespace_means_the_default_and_a_named_one_wins() -> Result<(), String> {
        let streamly = NamespaceSlug::parse("streamly")?;
        let default = DefaultNamespace::new(Some(streamly.clone()));
        assert_eq!(default.get(), Some(&streamly));
        assert_eq!(default.resolve(None)?, "streamly");
        assert_eq!(default.resolve(Some("shop".into()))?, "shop");
        // Named but malformed: passed on as sent, for the route to judge.
        assert_eq!(default.resolve(Some("Not A Slug".into()))?, "Not A Slug");
        let none = DefaultNamespace::default();
        assert_eq!(none.get(), None);
        assert_eq!(none.resolve(None), Err("is required".to_owned()));
        assert_eq!(none.resolve(Some("shop".into()))?, "shop");
        assert_eq!(default.slug(None)?, streamly);
        assert!(default.slug(Some("Not A Slug".into())).is_err());
        assert_eq!(none.slug(None), Err("is required".to_owned()));
        Ok(())
    }
}
