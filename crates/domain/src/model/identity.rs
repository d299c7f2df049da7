//! Identities of trusted external issuers (API.md 7, seed 003): which issuer serves which
//! namespace, what of its tokens' claims a user is made of, and the link from `(issuer, sub)` to
//! the user.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::values::{Email, Username, char_len};
use crate::DomainError;

/// An external issuer's subject (`sub`) linked to one of our users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    /// The issuer, exactly as its tokens carry it in `iss`.
    pub issuer: String,
    /// The issuer's id of the person (`sub`).
    pub subject: String,
    /// Our user.
    pub user_id: Uuid,
    /// The user's namespace (the issuer's, when the link was made at first sight).
    pub namespace: String,
    /// When the link was made.
    pub created_at: DateTime<Utc>,
}

/// A trusted identity provider, as configured (`auth.external_issuers`). Where its keys are is the
/// adapter's business; the rules need only what is here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIssuer {
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// The `aud` its tokens must name, when set.
    pub audience: Option<String>,
    /// The namespace its users belong to.
    pub namespace: String,
    /// The claim a new user's username is taken from; the `sub` when unset or absent.
    pub username_claim: Option<String>,
    /// The claim a new user's email is taken from (`email` when unset), used only when the token
    /// says `email_verified`.
    pub email_claim: Option<String>,
}

/// The configured issuers, found by their `iss`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalIssuers(Vec<ExternalIssuer>);

impl ExternalIssuers {
    /// The issuers, in configuration order; `Err` when one `iss` is listed twice.
    pub fn new(issuers: Vec<ExternalIssuer>) -> Result<Self, String> {
        for (i, a) in issuers.iter().enumerate() {
            if issuers[..i]
                .iter()
                .any(|b| same_issuer(&a.issuer, &b.issuer))
            {
                return Err(format!("the issuer '{}' is listed twice", a.issuer));
            }
        }
        Ok(Self(issuers))
    }

    /// Whether none is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every issuer, in configuration order.
    pub fn all(&self) -> &[ExternalIssuer] {
        &self.0
    }

    /// The issuer whose tokens carry `iss`.
    pub fn find(&self, iss: &str) -> Option<&ExternalIssuer> {
        self.0.iter().find(|i| same_issuer(&i.issuer, iss))
    }

    /// The issuers of `namespace`, in configuration order.
    pub fn of_namespace<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a ExternalIssuer> + 'a {
        self.0.iter().filter(move |i| i.namespace == namespace)
    }
}

/// Compared exactly, as OpenID Connect does and as the verifier checks `iss`: Auth0's issuer ends
/// in `/`, and the configuration must say so too.
fn same_issuer(a: &str, b: &str) -> bool {
    a == b
}

/// The `iss` of a JWT, read without checking anything: only to choose which issuer's keys check it.
pub fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    serde_json::from_slice::<Iss>(&bytes).ok()?.iss
}

/// An external subject as a path or a token names it: 1–255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSubject(String);

impl ExternalSubject {
    /// At most this many characters: identity providers' ids are far shorter (Auth0
    /// `auth0|` + 24 hex, Google 21 digits, Entra ID 43 characters).
    pub const MAX_CHARS: usize = 255;

    /// The subject `raw`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = char_len(raw);
        if n == 0 || n > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(format!(
                "must be a user id or an external subject of 1-{} visible characters",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The subject.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a verified token of an external issuer says about the person, read by the issuer's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// `sub`.
    pub subject: ExternalSubject,
    /// The username a new user would get (before any collision).
    pub username: Username,
    /// A verified email, when the token gives one.
    pub email: Option<Email>,
}

impl ExternalIdentity {
    /// Reads `claims` (already verified) by `issuer`'s mapping. A missing or malformed `sub` is an
    /// invalid token. A username claim that is not a valid username is made one (`username_from`);
    /// an email is taken only when `email_verified` is true and it is a valid address.
    pub fn from_claims(
        issuer: &ExternalIssuer,
        claims: &Map<String, Value>,
    ) -> Result<Self, DomainError> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .and_then(|s| ExternalSubject::parse(s).ok())
            .ok_or(DomainError::TokenInvalid)?;
        let named = issuer
            .username_claim
            .as_deref()
            .and_then(|c| claims.get(c))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(subject.as_str());
        let verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            // Some providers (AWS Cognito) send it as a string.
            Some(Value::String(s)) => s == "true",
            _ => false,
        };
        let email = verified
            .then(|| claims.get(issuer.email_claim.as_deref().unwrap_or("email")))
            .flatten()
            .and_then(Value::as_str)
            .and_then(|s| Email::parse(s).ok());
        Ok(Self {
            username: username_from(named),
            subject,
            email,
        })
    }

    /// The username to try when `username` is taken in the namespace: the same with a suffix
    /// derived from `(issuer, sub)`. Deterministic, so two first sights of one identity racing each
    /// other try the same names, and the loser finds the winner's link instead of a second account.
    pub fn fallback_username(&self, issuer: &str) -> Username {
        let digest = Sha256::digest(format!("{issuer}\n{}", self.subject.as_str()));
        let suffix = format!("-{}", &hex::encode(digest)[..8]);
        let base: String = self
            .username
            .as_str()
            .chars()
            .take(Username::MAX_CHARS - suffix.len())
            .collect();
        username_from(&format!("{base}{suffix}"))
    }
}

/// A valid username made of `raw`: itself when it is one, else with every character a username may
/// not hold replaced by `_` and cut to the maximum length (`auth0|123456` becomes `auth0_123456`).
pub fn username_from(raw: &str) -> Username {
    if let Ok(u) = Username::parse(raw) {
        return u;
    }
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+') {
                c
            } else {
                '_'
            }
        })
        .take(Username::MAX_CHARS)
        .collect();
    Username::parse(&cleaned)
        .or_else(|_| Username::parse("user"))
        .unwrap_or_else(|_| unreachable!("'user' is a valid username"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issuer() -> ExternalIssuer {
        ExternalIssuer {
            issuer: "https://idp.example.com/".into(),
            audience: None,
            namespace: "shop".into(),
            username_claim: None,
            email_claim: None,
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_sub_becomes_a_valid_username() -> Result<(), DomainError> {
        let id = ExternalIdentity::from_claims(&issuer(), &claims(json!({"sub": "auth0|123456"})))?;
        assert_eq!(id.subject.as_str(), "auth0|123456");
        assert_eq!(id.username.as_str(), "auth0_123456");
        assert_eq!(id.email, None);
        let fallback = id.fallback_username("https://idp.example.com/");
        assert!(fallback.as_str().starts_with("auth0_123456-"));
        assert_eq!(fallback.as_str().len(), "auth0_123456-".len() + 8);
        assert_eq!(fallback, id.fallback_username("https://idp.example.com/"));
        assert_ne!(fallback, id.fallback_username("https://other.example.com/"));
        Ok(())
    }

    #[test]
    fn the_username_claim_and_a_verified_email_are_used() -> Result<(), DomainError> {
        let mut iss = issuer();
        iss.username_claim = Some("nickname".into());
        iss.email_claim = Some("mail".into());
        let c = claims(
            json!({"sub": "s1", "nickname": "Zoë", "mail": "zoe@example.com", "email_verified": true}),
        );
        let id = ExternalIdentity::from_claims(&iss, &c)?;
        assert_eq!(
            (id.username.as_str(), id.email.as_ref().map(Email::as_str)),
            ("Zoë", Some("zoe@example.com"))
        );
        let unverified =
            claims(json!({"sub": "s1", "mail": "zoe@example.com", "email_verified": false}));
        let id = ExternalIdentity::from_claims(&iss, &unverified)?;
        assert_eq!((id.username.as_str(), id.email), ("s1", None));
        Ok(())
    }

    #[test]
    fn a_missing_or_bad_sub_is_an_invalid_token() {
        for c in [
            json!({}),
            json!({"sub": ""}),
            json!({"sub": 42}),
            json!({"sub": "a\u{7}b"}),
        ] {
            assert!(matches!(
                ExternalIdentity::from_claims(&issuer(), &claims(c)),
                Err(DomainError::TokenInvalid)
            ));
        }
    }

    #[test]
    fn usernames_from_anything() {
        assert_eq!(username_from("alice").as_str(), "alice");
        assert_eq!(username_from("a b/c").as_str(), "a_b_c");
        assert_eq!(username_from("\u{200b}").as_str(), "_");
        assert_eq!(username_from("\u{7}").as_str(), "user");
        assert_eq!(
            username_from(&"x|".repeat(100)).as_str().chars().count(),
            64
        );
    }

    #[test]
    fn issuers_are_found_by_their_exact_iss() {
        let all = ExternalIssuers::new(vec![issuer()]).unwrap_or_default();
        assert!(all.find("https://idp.example.com/").is_some());
        assert!(all.find("https://idp.example.com").is_none());
        assert!(all.find("https://idp.example.org/").is_none());
        assert!(ExternalIssuers::new(vec![issuer(), issuer()]).is_err());
        assert_eq!(all.of_namespace("shop").count(), 1);
    }

    #[test]
    fn the_issuer_is_read_from_the_payload() {
        use base64::Engine;
        let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let t = format!(
            "{}.{}.sig",
            enc(json!({"alg": "RS256"})),
            enc(json!({"iss": "https://a"}))
        );
        assert_eq!(unverified_issuer(&t).as_deref(), Some("https://a"));
        assert_eq!(unverified_issuer("garbage"), None);
    }
}
