//! Who is calling: the request's credentials, parsed in one place and checked by the domain at most
//! once per request. `middleware` parses them for every request (refusing duplicated credential
//! headers) and leaves them in the request's extensions; the first reader of the principal — the
//! idempotency middleware or a handler's extractor — authenticates and leaves the answer there too.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, web};
use user_service_domain::DomainError;
use user_service_domain::model::principal::CREDENTIAL_FIELDS;
use user_service_domain::model::{Credentials, Principal, User};
use user_service_domain::services::VerifiedBearer;

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated principal, or `None` when the request carried no credentials.
pub struct Caller(pub Option<Principal>);

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        self.0.as_ref()
    }

    /// The principal of `req`, authenticated on first use and remembered for the rest of the request.
    pub async fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        authenticate(req).await.map(Caller)
    }
}

/// A user authenticated by its access token; anything else is refused with 401.
pub struct CurrentUser(pub User);

/// The credential fields as header names, made once: a lookup by `&str` parses the name again (and
/// allocates it, for a non-standard one) on each of the parser's eight lookups of every request.
static FIELDS: LazyLock<[(&str, HeaderName); 4]> =
    LazyLock::new(|| CREDENTIAL_FIELDS.map(|f| (f, HeaderName::from_static(f))));

/// The request's credentials, by the parser every protocol shares.
pub fn credentials(headers: &HeaderMap) -> Result<Credentials, DomainError> {
    Credentials::parse(|name| {
        let values = match FIELDS.iter().find(|(field, _)| *field == name) {
            Some((_, header)) => headers.get_all(header),
            None => headers.get_all(name),
        };
        values.map(|v| v.to_str().ok()).collect()
    })
}

#[derive(Clone)]
struct Parsed(Credentials);

/// The request's parsed credentials (parsed again only where `middleware` did not run).
pub fn request_credentials(req: &HttpRequest) -> Result<Credentials, DomainError> {
    if let Some(Parsed(c)) = req.extensions().get::<Parsed>() {
        return Ok(c.clone());
    }
    credentials(req.headers())
}

/// Parses every request's credentials once, before the rate limiter and the routes read them.
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    match credentials(req.headers()) {
        Ok(c) => {
            req.extensions_mut().insert(Parsed(c));
            Ok(next.call(req).await?.map_into_boxed_body())
        }
        Err(e) => Ok(req.error_response(ApiError(e))),
    }
}

/// What authentication answered, kept for the rest of the request.
#[derive(Clone)]
struct Authenticated(Result<Option<Principal>, Refusal>);

/// The refusals worth remembering; anything else (a database failure) is tried again by the next
/// reader rather than copied.
#[derive(Clone)]
enum Refusal {
    BadRequest(String),
    TokenInvalid,
    TokenExpired,
    TokenStale,
    ApiKeyInvalid,
    Forbidden(String),
}

impl Refusal {
    fn of(e: &DomainError) -> Option<Self> {
        Some(match e {
            DomainError::BadRequest(m) => Self::BadRequest(m.clone()),
            DomainError::TokenInvalid => Self::TokenInvalid,
            DomainError::TokenExpired => Self::TokenExpired,
            DomainError::TokenStale => Self::TokenStale,
            DomainError::ApiKeyInvalid => Self::ApiKeyInvalid,
            DomainError::Forbidden(m) => Self::Forbidden(m.clone()),
            _ => return None,
        })
    }

    fn error(self) -> DomainError {
        match self {
            Self::BadRequest(m) => DomainError::BadRequest(m),
            Self::TokenInvalid => DomainError::TokenInvalid,
            Self::TokenExpired => DomainError::TokenExpired,
            Self::TokenStale => DomainError::TokenStale,
            Self::ApiKeyInvalid => DomainError::ApiKeyInvalid,
            Self::Forbidden(m) => DomainError::Forbidden(m),
        }
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Option<Principal>, ApiError> {
    if let Some(Authenticated(known)) = req.extensions().get::<Authenticated>().cloned() {
        return known.map_err(|r| ApiError(r.error()));
    }
    let result = check(req).await;
    let remembered = match &result {
        Ok(p) => Some(Ok(p.clone())),
        Err(e) => Refusal::of(e).map(Err),
    };
    if let Some(r) = remembered {
        req.extensions_mut().insert(Authenticated(r));
    }
    result.map_err(ApiError)
}

async fn check(req: &HttpRequest) -> Result<Option<Principal>, DomainError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| DomainError::unexpected("application state missing"))?;
    let creds = request_credentials(req)?;
    let verified = req.extensions().get::<VerifiedBearer>().cloned();
    state
        .auth
        .authenticate_verified(&creds, verified.as_ref())
        .await
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Caller::of(&req).await })
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match authenticate(&req).await? {
                Some(Principal::User(u)) => Ok(CurrentUser(u)),
                _ => Err(ApiError(DomainError::TokenMissing)),
            }
        })
    }
}
