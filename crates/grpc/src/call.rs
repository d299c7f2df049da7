//! What every RPC goes through, once: the request id, the rate limits, authentication by the
//! credentials parser and `AuthService` the HTTP adapter uses, the one error mapping, and the
//! metrics. An RPC body only turns its message into one service call and the result into a reply.

use std::time::Instant;

use tonic::metadata::{AsciiMetadataValue, MetadataMap, MetadataValue};
use tonic::{Code, Request, Response, Status};
use user_service_domain::DomainError;
use user_service_domain::error::DomainResult;
use user_service_domain::model::request_id::request_id;
use user_service_domain::model::{Credentials, Principal};
use user_service_domain::ports::{Protocol, RequestOutcome};
use user_service_domain::services::{Decision, VerifiedBearer};

use crate::error::status;
use crate::state::GrpcState;

/// The caller's credentials from metadata, by the same parser as HTTP headers.
fn credentials(metadata: &MetadataMap) -> Result<Credentials, DomainError> {
    Credentials::parse(|name| {
        metadata
            .get_all(name)
            .iter()
            .map(|v| v.to_str().ok())
            .collect()
    })
}

/// Metric label of a status code, as gRPC's own libraries spell them (`OK`, `NotFound`, ...).
fn code_label(code: Code) -> String {
    match code {
        Code::Ok => "OK".into(),
        other => format!("{other:?}"),
    }
}

fn set_limit_metadata(metadata: &mut MetadataMap, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-limit", d.limit),
        ("x-ratelimit-remaining", d.remaining),
        ("x-ratelimit-reset", d.reset_at),
    ] {
        metadata.insert(name, MetadataValue::from(value));
    }
}

impl GrpcState {
    /// Counts the call against its client's address and, for a validly signed token, its user:
    /// the same limiter and keys as HTTP requests, so both protocols share one budget.
    /// With it, the bearer token's verification, handed on to authentication.
    async fn limit<T>(
        &self,
        req: &Request<T>,
        creds: Option<&Credentials>,
    ) -> (Option<Decision>, Option<VerifiedBearer>) {
        let Some(limiter) = self.rate_limiter.as_ref() else {
            return (None, None);
        };
        let forwarded: Vec<&str> = req
            .metadata()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let forwarded = forwarded.join(",");
        let ip = self.trusted_proxies.client(
            req.remote_addr().map(|a| a.ip()),
            Some(forwarded.as_str()).filter(|s| !s.is_empty()),
        );
        let verified = creds
            .and_then(|c| c.bearer.as_deref())
            .and_then(|t| self.auth.verify_bearer(t));
        let user = verified.as_ref().map(VerifiedBearer::subject);
        let now = self.clock.now().timestamp().max(0) as u64;
        (
            Some(limiter.check(&ip, user.as_deref(), now).await),
            verified,
        )
    }

    /// Runs one RPC named `rpc` (`/user.UserService/GetUser`) for an authenticated caller.
    pub(crate) async fn call<T, R>(
        &self,
        rpc: &'static str,
        req: Request<T>,
        body: impl AsyncFnOnce(Principal, T) -> DomainResult<R>,
    ) -> Result<Response<R>, Status> {
        let started = Instant::now();
        let request_id = req
            .metadata()
            .get("x-request-id")
            .and_then(|v| request_id(v.as_bytes()))
            .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
        let creds = credentials(req.metadata());
        let (decision, verified) = self.limit(&req, creds.as_ref().ok()).await;
        let result = match (decision.and_then(|d| d.retry_after), creds) {
            (Some(retry_after_secs), _) => Err(DomainError::RateLimited { retry_after_secs }),
            (None, Err(e)) => Err(e),
            (None, Ok(creds)) => match self
                .auth
                .authenticate_verified(&creds, verified.as_ref())
                .await
            {
                Ok(Some(caller)) => body(caller, req.into_inner()).await,
                Ok(None) => Err(DomainError::TokenMissing),
                Err(e) => Err(e),
            },
        };
        let mut reply = result
            .map(Response::new)
            .map_err(|e| status(e, &request_id));
        let metadata = match &mut reply {
            Ok(r) => r.metadata_mut(),
            Err(s) => s.metadata_mut(),
        };
        if let Ok(id) = AsciiMetadataValue::try_from(request_id.as_str()) {
            metadata.insert("x-request-id", id);
        }
        if let Some(d) = &decision {
            set_limit_metadata(metadata, d);
        }
        let code = reply.as_ref().map_or_else(Status::code, |_| Code::Ok);
        self.telemetry.request(RequestOutcome {
            protocol: Protocol::Grpc,
            method: "unary",
            route: rpc,
            status: &code_label(code),
            seconds: started.elapsed().as_secs_f64(),
        });
        reply
    }
}
