//! Prometheus metrics: requests by route and status, latency, logins, database pool use.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, web};
use prometheus::{
    Counter, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use user_service_db::Database;
use user_service_domain::model::Credits;

use crate::rate_limit::FallbackSignals;
use crate::state::AppState;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    logins: IntCounterVec,
    credits_consumed: Counter,
    pool: IntGaugeVec,
    rate_limit_fallback: FallbackSignals,
    db: Database,
}

impl Metrics {
    pub fn new(db: Database) -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )
        .expect("static metric definition is valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .expect("static metric definition is valid");
        let logins = IntCounterVec::new(
            Opts::new("logins_total", "Login attempts by result"),
            &["result"],
        )
        .expect("static metric definition is valid");
        let credits_consumed = Counter::new(
            "credits_consumed_total",
            "Credits taken from balances by successful consumes",
        )
        .expect("static metric definition is valid");
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "Database pool connections by state"),
            &["state"],
        )
        .expect("static metric definition is valid");
        let rate_limit_fallback = FallbackSignals {
            calls: IntCounter::new(
                "rate_limit_store_fallback_total",
                "Rate-limit counter operations done in process because Redis could not be reached",
            )
            .expect("static metric definition is valid"),
            active: IntGauge::new(
                "rate_limit_store_in_process",
                "1 while a configured Redis cannot be reached and limits are counted in process",
            )
            .expect("static metric definition is valid"),
        };
        for c in [
            Box::new(rate_limit_fallback.calls.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(rate_limit_fallback.active.clone()),
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(logins.clone()),
            Box::new(credits_consumed.clone()),
            Box::new(pool.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            logins,
            credits_consumed,
            pool,
            rate_limit_fallback,
            db,
        }
    }

    /// What the rate-limit store reports while it counts in process.
    pub fn rate_limit_fallback(&self) -> FallbackSignals {
        self.rate_limit_fallback.clone()
    }

    pub fn login(&self, success: bool) {
        self.logins
            .with_label_values(&[if success { "success" } else { "failure" }])
            .inc();
    }

    /// A successful consume. Prometheus counters are floats; millionths keep their value exactly up
    /// to 2^53 of them, far beyond what one process counts between scrapes.
    pub fn credits_consumed(&self, amount: Credits) {
        self.credits_consumed
            .inc_by(amount.millionths() as f64 / Credits::SCALE as f64);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let pool = self.db.pool_status();
        self.pool
            .with_label_values(&["idle"])
            .set(i64::from(pool.idle_connections));
        self.pool.with_label_values(&["in_use"]).set(i64::from(
            pool.connections.saturating_sub(pool.idle_connections),
        ));
        self.pool
            .with_label_values(&["max"])
            .set(i64::from(pool.max_size));
        let mut buf = Vec::new();
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .is_err()
        {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

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
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let method = method_label(req.method());
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        // The route pattern, not the path, so ids do not explode the label space.
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| OTHER.into());
        let status = res.status();
        m.requests
            .with_label_values(&[method, &route, status.as_str()])
            .inc();
        m.latency
            .with_label_values(&[method, &route])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(res)
}
