use async_trait::async_trait;

use crate::model::Credits;
use crate::ports::ExternalTokenRefusal;

/// What became of a bearer token of an external issuer (API.md 7), as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalTokenOutcome {
    /// Verified, and its linked user found.
    Accepted,
    /// Verified, and its user created at first sight.
    Provisioned,
    /// Its `iss` is neither ours nor a configured issuer's.
    UnknownIssuer,
    /// Refused by the verifier.
    Refused(ExternalTokenRefusal),
}

impl ExternalTokenOutcome {
    /// Every outcome, so a registry can show each at zero before it first happens.
    pub const ALL: [Self; 7] = [
        Self::Accepted,
        Self::Provisioned,
        Self::UnknownIssuer,
        Self::Refused(ExternalTokenRefusal::Expired),
        Self::Refused(ExternalTokenRefusal::UnknownKey),
        Self::Refused(ExternalTokenRefusal::Invalid),
        Self::Refused(ExternalTokenRefusal::Unavailable),
    ];

    /// The metric label: one of a fixed handful of values.
    pub fn label(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Provisioned => "provisioned",
            Self::UnknownIssuer => "unknown_issuer",
            Self::Refused(ExternalTokenRefusal::Expired) => "expired",
            Self::Refused(ExternalTokenRefusal::UnknownKey) => "unknown_key",
            Self::Refused(ExternalTokenRefusal::Invalid) => "invalid",
            Self::Refused(ExternalTokenRefusal::Unavailable) => "issuer_unavailable",
        }
    }
}

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
    /// Counts a verification of an external issuer's token.
    fn external_token(&self, outcome: ExternalTokenOutcome);
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
