//! The one rate-limit middleware: every route but `/health`, `/ready` and `/metrics`.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use user_service_domain::DomainError;

use crate::error::ApiError;
use crate::extract::request_credentials;
use crate::state::AppState;
use user_service_domain::services::{Decision, VerifiedBearer};

const UNLIMITED: &[&str] = &["/health", "/ready", "/metrics"];

fn set_headers(headers: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-limit", d.limit),
        ("x-ratelimit-remaining", d.remaining),
        ("x-ratelimit-reset", d.reset_at),
    ] {
        headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(limiter) = state.rate_limiter.as_ref() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if UNLIMITED.contains(&req.path()) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let ip = super::client_ip::client_of(&state.trusted_proxies, req.request());
    // The subject of a validly signed token, without a database read; a forged or expired token
    // counts against its IP only (and is refused by the route anyway).
    let bearer = request_credentials(req.request())
        .ok()
        .and_then(|c| c.bearer);
    let verified = bearer.and_then(|t| state.auth.verify_bearer(&t));
    let user = verified.as_ref().map(VerifiedBearer::subject);
    let now = state.clock.now().timestamp().max(0) as u64;
    let decision = limiter.check(&ip, user.as_deref(), now).await;
    // Authentication takes it from here instead of checking the signature a second time.
    if let Some(verified) = verified {
        req.extensions_mut().insert(verified);
    }
    if let Some(retry_after_secs) = decision.retry_after {
        let mut res = ApiError(DomainError::RateLimited { retry_after_secs }).error_response();
        set_headers(res.headers_mut(), &decision);
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    set_headers(res.headers_mut(), &decision);
    Ok(res)
}
