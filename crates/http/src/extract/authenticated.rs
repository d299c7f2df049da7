//! A caller that must be authenticated: no credentials at all is 401 `TOKEN_MISSING`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use user_service_domain::DomainError;
use user_service_domain::model::Principal;

use super::Caller;
use crate::error::ApiError;

pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match Caller::extract(&req).await?.0 {
                Some(p) => Ok(Authenticated(p)),
                None => Err(ApiError(DomainError::TokenMissing)),
            }
        })
    }
}
