//! Rate limits and the health service over gRPC: the HTTP mechanisms, not copies of them.

mod common;

use common::{Backend, Harness, assert_status};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use user_service_grpc::pb::GetUserRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_limit_refuses_with_resource_exhausted_and_says_when_to_retry() {
    let mut h = Harness::new(
        Backend::Sqlite,
        &[
            ("USER_SERVICE__RATE_LIMIT__ENABLED", "true"),
            ("USER_SERVICE__RATE_LIMIT__PER_IP_PER_MINUTE", "3"),
        ],
    )
    .await;
    let req = || GetUserRequest {
        user_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        tenant_id: String::new(),
    };
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let s = h.client.get_user(req()).await.expect_err("no credentials");
        assert_status(&s, Code::Unauthenticated, "TOKEN_MISSING");
        remaining.push(
            s.metadata()
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
    }
    assert_eq!(
        remaining,
        [Some("2".into()), Some("1".into()), Some("0".into())]
    );
    let s = h.client.get_user(req()).await.expect_err("limited");
    assert_status(&s, Code::ResourceExhausted, "RATE_LIMIT_EXCEEDED");
    let retry: u64 = s
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!((1..=60).contains(&retry), "{retry}");
    // The HTTP adapter counts in the same window: it is one limiter.
    let decision = h
        .wiring
        .http
        .rate_limiter
        .as_ref()
        .expect("limits on")
        .check("127.0.0.1", None, 0)
        .await;
    assert!(decision.retry_after.is_some(), "{decision:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_service_reports_the_database() {
    let h = Harness::new(Backend::Sqlite, &[]).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", h.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut health = HealthClient::new(channel);
    for service in ["", user_service_grpc::SERVICE_NAME] {
        let mut status = 0;
        for _ in 0..50 {
            status = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .map(|r| r.into_inner().status)
                .unwrap_or_default();
            if status == 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // 1 is SERVING.
        assert_eq!(status, 1, "{service:?}");
    }
}
