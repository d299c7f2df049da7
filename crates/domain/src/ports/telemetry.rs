use async_trait::async_trait;

use crate::model::Credits;

/// Which driving adapter a request came through, so one set of metrics covers both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP.
    Http,
    /// gRPC.
    Grpc,
}

/// One finished request as the metrics see it. Every label is from a bounded set (a route pattern
/// or an RPC name, never a raw path), so no client can grow the metrics.
#[derive(Debug, Clone, Copy)]
pub struct RequestOutcome<'a> {
    /// Which adapter served it.
    pub protocol: Protocol,
    /// HTTP method, or `unary` for a gRPC call.
    pub method: &'a str,
    /// Route pattern (`/api/v1/users/{id}`) or full RPC name (`/user.UserService/GetUser`).
    pub route: &'a str,
    /// HTTP status (`404`) or gRPC code name (`NOT_FOUND`).
    pub status: &'a str,
    /// How long it took.
    pub seconds: f64,
}

/// What the service counts, whichever adapter serves the request. A port so that the driving
/// adapters share one registry without knowing which metrics system backs it.
pub trait Telemetry: Send + Sync {
    /// Counts a finished request and its latency.
    fn request(&self, outcome: RequestOutcome<'_>);
    /// Counts a login, successful or not.
    fn login(&self, success: bool);
    /// Adds consumed credits.
    fn credits_consumed(&self, amount: Credits);
    /// The text exposition served at `/metrics`.
    fn render(&self) -> String;
}

/// Whether the database answers: `/health`, `/ready` and the gRPC health service ask it.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait DatabaseHealth: Send + Sync {
    /// Whether the database answers.
    async fn ping(&self) -> bool;
}
