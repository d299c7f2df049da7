//! `Idempotency-Key` as one middleware, applied per resource by route configuration:
//!
//! ```text
//! web::resource("/users").wrap(from_fn(idempotency::middleware)).route(web::post().to(create))
//! ```
//!
//! Without the header a request passes straight through. With it, the caller is authenticated (keys
//! are scoped to its namespace), the body is read, and the domain's `IdempotencyService` decides: run
//! the handler and keep its response, replay a kept response byte for byte, or refuse with 409. The
//! rules live in the domain; this file only moves bytes between HTTP and it.

use actix_web::body::{BoxBody, MessageBody, to_bytes};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use futures_util::StreamExt;
use user_service_domain::DomainError;
use user_service_domain::model::{Principal, StoredResponse};
use user_service_domain::services::{Begin, fingerprint};

use crate::error::ApiError;
use crate::extract::{Caller, JSON_LIMIT_BYTES};
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a replayed response, so a client (and a test) can tell it was not applied again.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

fn refuse(req: ServiceRequest, e: DomainError) -> ServiceResponse<BoxBody> {
    req.error_response(ApiError(e))
}

/// Who sent the request, as part of its fingerprint: another principal of the namespace reusing a
/// key is a different request and is refused, never shown the first caller's response.
fn identity(p: &Principal) -> String {
    match p {
        Principal::User(u) => format!("user:{}", u.id),
        Principal::Service { namespace } => format!("service:{namespace}"),
        Principal::Operator => "operator".to_owned(),
    }
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    // Only the POSTs this wraps are claimed: a GET beside them is idempotent by nature, and any
    // other method is the router's to refuse with 405, whatever headers it carries.
    let claimed = req.method() == Method::POST;
    let Some(raw) = req
        .headers()
        .get(&IDEMPOTENCY_KEY)
        .cloned()
        .filter(|_| claimed)
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match crate::header_rules::idempotency_key(raw.as_bytes()) {
        Ok(key) => key,
        Err(m) => return Ok(refuse(req, DomainError::field("Idempotency-Key", m))),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(refuse(
            req,
            DomainError::unexpected("application state missing"),
        ));
    };
    // Unauthenticated (or refused) requests are the handler's to answer; nothing to claim for them.
    let principal = match Caller::of(req.request()).await {
        Ok(Caller(Some(p))) => p,
        _ => return Ok(next.call(req).await?.map_into_boxed_body()),
    };
    let Some(namespace) = principal.namespace().map(str::to_owned) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };

    let mut body = web::BytesMut::new();
    let mut payload = req.take_payload();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > JSON_LIMIT_BYTES {
            return Ok(refuse(req, DomainError::PayloadTooLarge));
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
    let request_hash = fingerprint(&[
        identity(&principal).as_bytes(),
        req.method().as_str().as_bytes(),
        target.as_bytes(),
        &body,
    ]);

    match state
        .idempotency
        .begin(&namespace, &key, &request_hash)
        .await
    {
        Err(e) => return Ok(refuse(req, e)),
        Ok(Begin::Replay(stored)) => {
            let res = replay(&stored);
            return Ok(req.into_response(res));
        }
        Ok(Begin::Proceed) => {}
    }

    req.set_payload(Payload::from(body));
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            // No response to keep: free the key so that a retry can run.
            let _ = state.idempotency.abandon(&namespace, &key).await;
            return Err(e);
        }
    };
    let (req, res) = res.into_parts();
    let (head, res_body) = res.into_parts();
    let bytes = match to_bytes(res_body).await {
        Ok(b) => b,
        Err(_) => {
            let _ = state.idempotency.abandon(&namespace, &key).await;
            return Ok(ServiceResponse::new(
                req,
                ApiError(DomainError::unexpected("response body could not be read"))
                    .error_response(),
            ));
        }
    };
    let stored = StoredResponse {
        status: head.status().as_u16(),
        content_type: head
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: bytes.to_vec(),
    };
    if let Err(e) = state.idempotency.finish(&namespace, &key, &stored).await {
        // The operation did happen and its response is on its way; only its replay is lost. The key
        // stays claimed, so a retry is refused rather than applied twice.
        tracing::error!(error = %e, "could not keep the response of an idempotent request");
    }
    Ok(ServiceResponse::new(
        req,
        head.set_body(BoxBody::new(bytes)),
    ))
}

/// The kept response, as it was first sent.
fn replay(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    if let Some(ct) = &stored.content_type {
        res.insert_header((CONTENT_TYPE, ct.as_str()));
    }
    res.insert_header((REPLAYED, HeaderValue::from_static("true")));
    // A kept error body is already the envelope, and JSON, so it passes through unchanged.
    res.body(stored.body.clone())
}
