//! Counts every request by method, route pattern and status in the service's one `Telemetry`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use user_service_domain::ports::{Protocol, RequestOutcome};

use crate::state::AppState;

/// The label of whatever the client sent that the service does not know: an unknown method or path.
/// Label values come from a fixed set, so no request can grow the metrics.
const OTHER: &str = "other";

fn method_label(method: &Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|m| *m == method.as_str())
        .unwrap_or(OTHER)
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let telemetry = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.telemetry.clone());
    let method = method_label(req.method());
    let res = next.call(req).await?;
    if let Some(t) = telemetry {
        // The route pattern, not the path, so ids do not explode the label space.
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| OTHER.into());
        t.request(RequestOutcome {
            protocol: Protocol::Http,
            method,
            route: &route,
            status: res.status().as_str(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(res)
}
