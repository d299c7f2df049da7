//! Who is calling: the request's credentials, checked by the domain.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderMap};
use actix_web::{FromRequest, HttpRequest, web};
use user_service_domain::DomainError;
use user_service_domain::model::{Credentials, Principal, User};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated principal, or `None` when the request carried no credentials.
pub struct Caller(pub Option<Principal>);

impl Caller {
    pub fn principal(&self) -> Option<&Principal> {
        self.0.as_ref()
    }
}

/// A user authenticated by its access token; anything else is refused with 401.
pub struct CurrentUser(pub User);

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn credentials(req: &HttpRequest) -> Credentials {
    let h = req.headers();
    let bearer = header(h, AUTHORIZATION.as_str()).map(|v| match v.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim().to_owned(),
        // A malformed Authorization header is an invalid token, not a missing one.
        _ => String::new(),
    });
    Credentials {
        bearer,
        api_key: header(h, "x-api-key"),
        operator_key: header(h, "x-admin-key"),
        tenant: header(h, "x-tenant-id"),
    }
}

async fn authenticate(req: HttpRequest) -> Result<Option<Principal>, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError(DomainError::unexpected("application state missing")))?;
    let creds = credentials(&req);
    if creds.bearer.as_deref() == Some("") {
        return Err(ApiError(DomainError::TokenInvalid));
    }
    Ok(state.auth.authenticate(&creds).await?)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(req).await.map(Caller) })
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match authenticate(req).await? {
                Some(Principal::User(u)) => Ok(CurrentUser(u)),
                _ => Err(ApiError(DomainError::TokenMissing)),
            }
        })
    }
}
