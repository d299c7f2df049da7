//! The load client of `bench/grpc.sh`: `GetUser` over gRPC, as wrk drives HTTP.
//!
//! `user-service-grpc-load ADDR USER_ID API_KEY SECONDS CONCURRENCY CONNECTIONS` keeps CONCURRENCY calls in flight,
//! spread over CONNECTIONS HTTP/2 connections, for SECONDS; then prints one line:
//! `requests N ok N errors N seconds S rps R p50_ms X p99_ms Y`.

use std::time::{Duration, Instant};

use tonic::Request;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;
use user_service_grpc::pb::GetUserRequest;
use user_service_grpc::pb::user_service_client::UserServiceClient;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, user_id, key, secs, concurrency, connections] = args.as_slice() else {
        return Err(
            "usage: user-service-grpc-load ADDR USER_ID API_KEY SECONDS CONCURRENCY CONNECTIONS"
                .into(),
        );
    };
    let key: AsciiMetadataValue = key.parse()?;
    let run = Duration::from_secs(secs.parse()?);
    let (concurrency, connections): (usize, usize) = (concurrency.parse()?, connections.parse()?);
    let mut channels = Vec::new();
    for _ in 0..connections.max(1) {
        channels.push(
            Channel::from_shared(format!("http://{addr}"))?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    let started = Instant::now();
    let until = started + run;
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            let mut client = UserServiceClient::new(channels[i % channels.len()].clone());
            let (user_id, key) = (user_id.clone(), key.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < until {
                    let mut req = Request::new(GetUserRequest {
                        user_id: user_id.clone(),
                        tenant_id: String::new(),
                    });
                    req.metadata_mut().insert("x-api-key", key.clone());
                    let t = Instant::now();
                    match client.get_user(req).await {
                        Ok(r) if r.get_ref().user.as_ref().is_some_and(|u| u.id == user_id) => {
                            latencies.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    let ok = latencies.len() as u64;
    println!(
        "requests {} ok {ok} errors {errors} seconds {elapsed:.2} rps {:.0} p50_ms {:.2} p99_ms {:.2}",
        ok + errors,
        ok as f64 / elapsed,
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}
