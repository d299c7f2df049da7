//! The Prometheus registry behind the `Telemetry` port: requests by protocol, route and status,
//! latency, logins, credits consumed, database pool use, rate-limit fallback.

use prometheus::{
    Counter, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use user_service_db::Database;
use user_service_domain::model::Credits;
use user_service_domain::ports::{ExternalTokenOutcome, Protocol, RequestOutcome, Telemetry};

use super::FallbackSignals;

pub struct PrometheusTelemetry {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    logins: IntCounterVec,
    credits_consumed: Counter,
    pool: IntGaugeVec,
    grpc_requests: IntCounterVec,
    grpc_latency: HistogramVec,
    rate_limit_fallback: FallbackSignals,
    outbox: IntGaugeVec,
    external_tokens: IntCounterVec,
    db: Database,
}

const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

impl PrometheusTelemetry {
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
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("static metric definition is valid");
        // The names and labels of the usual gRPC server metrics, so existing dashboards read them.
        let grpc_requests = IntCounterVec::new(
            Opts::new(
                "grpc_server_handled_total",
                "gRPC calls by method and status code",
            ),
            &["grpc_type", "grpc_method", "grpc_code"],
        )
        .expect("static metric definition is valid");
        let grpc_latency = HistogramVec::new(
            HistogramOpts::new(
                "grpc_server_handling_seconds",
                "gRPC call latency by method",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["grpc_type", "grpc_method"],
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
        let outbox = IntGaugeVec::new(
            Opts::new(
                "outbox_mails",
                "Mails in the outbox by status (queued, sent, failed), as the database counts them",
            ),
            &["status"],
        )
        .expect("static metric definition is valid");
        let external_tokens = IntCounterVec::new(
            Opts::new(
                "external_token_verifications_total",
                "Bearer tokens of external issuers checked, by outcome (accepted, provisioned, \
                 unknown_issuer, expired, unknown_key, invalid, issuer_unavailable)",
            ),
            &["outcome"],
        )
        .expect("static metric definition is valid");
        // Shown at zero from the start, so a dashboard's rate of refusals is defined before the first.
        for outcome in ExternalTokenOutcome::ALL {
            external_tokens.with_label_values(&[outcome.label()]);
        }
        for c in [
            Box::new(outbox.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(external_tokens.clone()),
            Box::new(rate_limit_fallback.calls.clone()),
            Box::new(rate_limit_fallback.active.clone()),
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(logins.clone()),
            Box::new(credits_consumed.clone()),
            Box::new(pool.clone()),
            Box::new(grpc_requests.clone()),
            Box::new(grpc_latency.clone()),
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
            grpc_requests,
            grpc_latency,
            rate_limit_fallback,
            outbox,
            external_tokens,
            db,
        }
    }

    /// The gauge the outbox sender keeps up to date.
    pub fn outbox_gauge(&self) -> IntGaugeVec {
        self.outbox.clone()
    }

    /// What the rate-limit store reports while it counts in process.
    pub fn rate_limit_fallback(&self) -> FallbackSignals {
        self.rate_limit_fallback.clone()
    }
}

impl Telemetry for PrometheusTelemetry {
    fn request(&self, o: RequestOutcome<'_>) {
        let (counter, histogram) = match o.protocol {
            Protocol::Http => (&self.requests, &self.latency),
            Protocol::Grpc => (&self.grpc_requests, &self.grpc_latency),
        };
        counter
            .with_label_values(&[o.method, o.route, o.status])
            .inc();
        histogram
            .with_label_values(&[o.method, o.route])
            .observe(o.seconds);
    }

    fn login(&self, success: bool) {
        self.logins
            .with_label_values(&[if success { "success" } else { "failure" }])
            .inc();
    }

    /// A successful consume. Prometheus counters are floats; millionths keep their value exactly up
    /// to 2^53 of them, far beyond what one process counts between scrapes.
    fn credits_consumed(&self, amount: Credits) {
        self.credits_consumed
            .inc_by(amount.millionths() as f64 / Credits::SCALE as f64);
    }

    fn external_token(&self, outcome: ExternalTokenOutcome) {
        self.external_tokens
            .with_label_values(&[outcome.label()])
            .inc();
    }

    /// The Prometheus text exposition of every metric.
    fn render(&self) -> String {
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
