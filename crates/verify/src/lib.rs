//! Verifies the access tokens of the user service (`user-service`) in a downstream Rust service, without calling the
//! service per request.
//!
//! Given the issuer URL (the service's `auth.issuer`), a [`Verifier`] reads the discovery document
//! (`/.well-known/openid-configuration`) and the key set it names (`/.well-known/jwks.json`), keeps
//! the keys for their `Cache-Control` lifetime, and fetches them again when a token names a key id it
//! does not hold (after a rotation), at most once every few seconds. A token is accepted when it is
//! signed by a key of the set with that key's algorithm (never `none`, never HMAC), names the issuer
//! in `iss`, has not expired and is past its `nbf`, with 5 seconds of leeway. It yields [`Claims`].
//!
//! The service must sign with `auth.signing = "eddsa"` or `"rs256"` (docs/TOKENS.md): HS256 tokens
//! can only be checked with the shared secret, which this crate never holds.
//!
//! A downstream actix-web service (feature `actix-web`; feature `axum` gives the same extractor for axum):
//!
//! ```no_run
//! # #[cfg(feature = "actix-web")]
//! # mod downstream {
//! use actix_web::{App, HttpServer, Responder, get};
//! use user_service_verify::{Claims, Verifier};
//!
//! #[get("/hello")]
//! async fn hello(claims: Claims) -> impl Responder {
//!     // Only a request with a valid access token gets here; anything else is 401.
//!     let role = if claims.has_role("admin") { "an admin" } else { "a user" };
//!     format!("hello {}, {role} of {}", claims.username, claims.namespace)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let verifier = Verifier::discover("https://id.example.com")
//!         .await
//!         .expect("the issuer answers its discovery document");
//!     HttpServer::new(move || App::new().app_data(verifier.clone()).service(hello))
//!         .bind(("127.0.0.1", 8081))?
//!         .run()
//!         .await
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! Outside a web framework, call [`Verifier::verify`] with the bearer token. To verify tokens of
//! another issuer (an identity provider), build the verifier with [`Verifier::builder`] (audience,
//! key set URI) and read its claims with [`Verifier::verify_as`]; [`JwksCache`] alone is the key
//! set cache, for code that needs only that.
//!
//! A downstream service cannot see that a token went stale (a logout-all or password change at the
//! service): it stays valid here until it expires, at most `auth.access_ttl_secs` later.

#![warn(missing_docs)]

mod extract;
pub mod jwks;
mod verifier;

use serde::Deserialize;
use uuid::Uuid;

pub use extract::Rejection;
pub use jwks::{JwksCache, VerificationKey};
pub use verifier::{DEFAULT_LEEWAY_SECS, Discovery, Verifier, VerifierBuilder, discover};

/// What a verified user-service access token says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    /// The user's id (`sub`).
    #[serde(rename = "sub")]
    pub user_id: Uuid,
    /// The namespace (tenant) the user belongs to.
    pub namespace: String,
    /// The namespace again, under the name seed 004's services read (`tenant_id`). `None` only in
    /// tokens of a service older than the claim.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The username, unique in its namespace.
    pub username: String,
    /// The user's email, when the account has one.
    #[serde(default)]
    pub email: Option<String>,
    /// The user's roles (`user`, `admin`, ...).
    #[serde(default)]
    pub roles: Vec<String>,
    /// The token's own id (`jti`).
    #[serde(rename = "jti", default)]
    pub token_id: Option<Uuid>,
    /// When it was issued (`iat`, Unix seconds).
    #[serde(rename = "iat", default)]
    pub issued_at: i64,
    /// When it expires (`exp`, Unix seconds).
    #[serde(rename = "exp")]
    pub expires_at: i64,
    /// Who issued it (`iss`).
    #[serde(rename = "iss")]
    pub issuer: String,
}

impl Claims {
    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Why a token was not accepted, or could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No bearer token in the request.
    #[error("no bearer token")]
    Missing,
    /// Not a JWT, or a header that does not parse (`alg: none` included).
    #[error("the token is malformed")]
    Malformed,
    /// No key of the issuer's set has the token's `kid` and algorithm, even after a refetch.
    #[error("the token's key is not one of the issuer's")]
    UnknownKey,
    /// Past `exp` (and the leeway).
    #[error("the token has expired")]
    Expired,
    /// Bad signature, wrong issuer or audience, before `nbf`, or claims of the wrong shape.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// The discovery document names another issuer, or is not one.
    #[error("discovery: {0}")]
    Discovery(String),
    /// The issuer's discovery document or key set cannot be fetched and no keys are held.
    #[error("the issuer cannot be reached: {0}")]
    Unavailable(String),
}

impl Error {
    fn from_jwt(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => Self::Malformed,
            _ => Self::Invalid(e.to_string()),
        }
    }

    /// Whether the request, not the issuer, is at fault (a 401 rather than a 503).
    pub fn is_unauthorized(&self) -> bool {
        !matches!(self, Self::Unavailable(_) | Self::Discovery(_))
    }
}
