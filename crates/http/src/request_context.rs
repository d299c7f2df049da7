//! Every response carries `X-Request-ID` (echoed when the client sent a sane one), and every error
//! response, whoever produced it, carries the one error envelope with that id.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::error::envelope_for_status;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    // The header value itself: the response carries it, and only an error envelope needs it as text.
    static CURRENT: HeaderValue;
}

/// The id of the request being served on this task.
pub fn current_request_id() -> String {
    CURRENT
        .try_with(|v| v.to_str().map(str::to_owned).unwrap_or_default())
        .unwrap_or_default()
}

/// The client's id, echoed as sent: the same bytes, so the same header value.
fn accepted(v: &HeaderValue) -> Option<HeaderValue> {
    crate::header_rules::request_id(v.as_bytes()).map(|_| v.clone())
}

/// A fresh time-ordered id, formatted on the stack and copied once, into the header value.
fn generated() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buf);
    // A hyphenated UUID is visible ASCII.
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static(""))
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(accepted)
        .unwrap_or_else(generated);
    CURRENT
        .scope(id.clone(), async move {
            let res = match next.call(req).await {
                Ok(res) => res.map_into_boxed_body(),
                // A middleware refused the request (CORS, say): answer in the envelope all the same.
                Err(e) => {
                    let mut res = envelope_for_status(e.as_response_error().status_code());
                    res.headers_mut().insert(REQUEST_ID, id);
                    return Err(InternalError::from_response(e.to_string(), res).into());
                }
            };
            // A JSON body is one the service wrote on purpose (the envelope, or /health's own 503),
            // and so is an HTML page (the email pages' own error pages, for a person to read); any
            // other failure is the framework's, and gets the envelope.
            let on_purpose = res
                .headers()
                .get(actix_web::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
            let mut res = if res.status().as_u16() >= 400 && !on_purpose {
                let status = res.status();
                let headers: Vec<_> = res
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut res = res.into_response(envelope_for_status(status));
                for (k, v) in headers {
                    if k != actix_web::http::header::CONTENT_TYPE
                        && k != actix_web::http::header::CONTENT_LENGTH
                    {
                        res.headers_mut().insert(k, v);
                    }
                }
                res
            } else {
                res
            };
            res.headers_mut().insert(REQUEST_ID, id);
            Ok(res)
        })
        .await
}
