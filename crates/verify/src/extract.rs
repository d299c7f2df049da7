//! `Claims` as a request extractor: actix-web (feature `actix-web`) and axum (feature `axum`). A
//! request without a valid token is answered 401 in the user service's error shape.

use crate::{Claims, Error, Verifier};

/// The answer to a request whose token was not accepted: 401 with `WWW-Authenticate: Bearer` (503
/// when the issuer's keys cannot be fetched), and a body in the user service's error shape.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Rejection(pub Error);

impl Rejection {
    /// The HTTP status: 401, or 503 when the issuer cannot be reached.
    pub fn status(&self) -> u16 {
        if self.0.is_unauthorized() { 401 } else { 503 }
    }

    /// The contract's error code.
    pub fn code(&self) -> &'static str {
        match &self.0 {
            Error::Missing => "TOKEN_MISSING",
            Error::Expired => "TOKEN_EXPIRED",
            Error::Unavailable(_) | Error::Discovery(_) => "SERVICE_UNAVAILABLE",
            _ => "TOKEN_INVALID",
        }
    }

    /// `{"error": {"code", "message", "status_code"}}`. The message never carries the token.
    pub fn body(&self) -> serde_json::Value {
        let message = match &self.0 {
            Error::Unavailable(_) | Error::Discovery(_) => "the token issuer cannot be reached",
            Error::Missing => "authentication required",
            Error::Expired => "token has expired",
            _ => "token is invalid",
        };
        serde_json::json!({"error": {"code": self.code(), "message": message, "status_code": self.status()}})
    }

    /// The `WWW-Authenticate` value of a 401 (RFC 6750).
    pub fn www_authenticate(&self) -> &'static str {
        match &self.0 {
            Error::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header value (the scheme case-insensitively).
#[cfg_attr(not(any(feature = "actix-web", feature = "axum")), allow(dead_code))]
pub(crate) fn bearer(value: Option<&[u8]>) -> Result<&str, Error> {
    let value = std::str::from_utf8(value.ok_or(Error::Missing)?).map_err(|_| Error::Malformed)?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(Error::Missing),
    }
}

#[cfg_attr(not(any(feature = "actix-web", feature = "axum")), allow(dead_code))]
async fn claims_of(verifier: Option<Verifier>, header: Option<&[u8]>) -> Result<Claims, Rejection> {
    let token = bearer(header).map_err(Rejection)?;
    let verifier = verifier.ok_or_else(|| {
        Rejection(Error::Unavailable(
            "no Verifier is configured for this app".into(),
        ))
    })?;
    verifier.verify(token).await.map_err(Rejection)
}

#[cfg(feature = "actix-web")]
mod actix {
    use std::future::Future;
    use std::pin::Pin;

    use actix_web::http::{StatusCode, header};
    use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, web};

    use super::{Rejection, claims_of};
    use crate::{Claims, Verifier};

    impl ResponseError for Rejection {
        fn status_code(&self) -> StatusCode {
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED)
        }

        fn error_response(&self) -> HttpResponse {
            let mut res = HttpResponse::build(self.status_code());
            if self.status() == 401 {
                res.insert_header((header::WWW_AUTHENTICATE, self.www_authenticate()));
            }
            res.json(self.body())
        }
    }

    /// Reads the `Verifier` from app data (`App::app_data(verifier)` or `web::Data<Verifier>`).
    impl FromRequest for Claims {
        type Error = Rejection;
        type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

        fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
            let verifier = req.app_data::<Verifier>().cloned().or_else(|| {
                req.app_data::<web::Data<Verifier>>()
                    .map(|d| d.get_ref().clone())
            });
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes().to_vec());
            Box::pin(async move { claims_of(verifier, header.as_deref()).await })
        }
    }
}

#[cfg(feature = "axum")]
mod axum_extract {
    use axum::extract::{FromRef, FromRequestParts};
    use axum::http::{StatusCode, header, request::Parts};
    use axum::response::{IntoResponse, Response};

    use super::{Rejection, claims_of};
    use crate::{Claims, Verifier};

    impl IntoResponse for Rejection {
        fn into_response(self) -> Response {
            let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            let mut res = (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                self.body().to_string(),
            )
                .into_response();
            if self.status() == 401 {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(self.www_authenticate()),
                );
            }
            res
        }
    }

    /// Reads the `Verifier` from the router state (`Verifier: FromRef<S>`).
    impl<S: Send + Sync> FromRequestParts<S> for Claims
    where
        Verifier: FromRef<S>,
    {
        type Rejection = Rejection;

        async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
            let header = parts
                .headers
                .get(header::AUTHORIZATION)
                .map(|v| v.as_bytes());
            claims_of(Some(Verifier::from_ref(state)), header).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer(Some(b"Bearer abc")).ok(), Some("abc"));
        assert_eq!(bearer(Some(b"bearer  abc ")).ok(), Some("abc"));
        assert!(matches!(bearer(None), Err(Error::Missing)));
        assert!(matches!(bearer(Some(b"Basic abc")), Err(Error::Missing)));
        assert!(matches!(bearer(Some(b"Bearer ")), Err(Error::Missing)));
        assert!(matches!(
            bearer(Some(b"Bearer \xff")),
            Err(Error::Malformed)
        ));
    }
}
