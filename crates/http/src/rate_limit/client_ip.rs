//! The calling client's address by the domain's `TrustedProxies` rule, read from an actix request.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
pub use user_service_domain::model::TrustedProxies;

use crate::error::ApiError;
use crate::state::AppState;

/// The client of `req`: its peer, or what trusted proxies say in `X-Forwarded-For`.
pub fn client_of(proxies: &TrustedProxies, req: &HttpRequest) -> String {
    let xff = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let xff = Some(xff.as_str()).filter(|s| !s.is_empty());
    proxies.client(req.peer_addr().map(|a| a.ip()), xff)
}

/// The calling client's address, as the rate limits and the login throttle see it.
pub struct ClientIp(pub String);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = match req.app_data::<web::Data<AppState>>() {
            Some(state) => client_of(&state.trusted_proxies, req),
            None => client_of(&TrustedProxies::default(), req),
        };
        ready(Ok(Self(ip)))
    }
}
