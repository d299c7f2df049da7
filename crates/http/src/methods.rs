//! HEAD answers on every GET route (health checks and CDNs probe with it), and OPTIONS outside a CORS
//! preflight answers 204 with `Allow`. The routes themselves register neither: the router's own 405
//! already knows, in its `Allow` header, which methods a path has.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse};

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let method = req.method().clone();
    if method == Method::HEAD {
        // Served as the GET it asks about. actix-http remembers the request line's method and sends
        // the GET's headers (its Content-Length included) without the body.
        req.head_mut().method = Method::GET;
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(res);
    }
    let allow = allowed(res.headers().get(ALLOW));
    if method == Method::OPTIONS {
        return Ok(res.into_response(
            HttpResponse::NoContent()
                .insert_header((ALLOW, allow))
                .finish(),
        ));
    }
    res.headers_mut().insert(ALLOW, allow);
    Ok(res)
}

/// The router's `Allow`, plus HEAD wherever GET is, plus OPTIONS.
fn allowed(router: Option<&HeaderValue>) -> HeaderValue {
    let mut methods: Vec<&str> = router
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if methods.contains(&"GET") && !methods.contains(&"HEAD") {
        methods.push("HEAD");
    }
    methods.push("OPTIONS");
    HeaderValue::from_str(&methods.join(", ")).unwrap_or(HeaderValue::from_static("OPTIONS"))
}
