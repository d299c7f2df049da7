//! The tonic adapter of the user service: seed 004's `user.UserService` (proto/user.proto) over the
//! same domain services as the HTTP adapter, plus the standard health service and server
//! reflection. It is handed its services (`GrpcState`) by the composition root, `crates/server`.

mod call;
mod convert;
pub mod error;
mod service;
mod state;

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use service::UserApi;
pub use state::GrpcState;

/// The generated messages, client and server of `proto/user.proto`.
pub mod pb {
    #![allow(clippy::all, clippy::pedantic, rust_2018_idioms)]
    tonic::include_proto!("user");

    /// The encoded descriptors of `proto/user.proto`, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/user_descriptor.bin"));
}

/// The fully qualified service name, as health checks and reflection name it.
pub const SERVICE_NAME: &str = "user.UserService";

/// How often the health service asks the database.
const HEALTH_INTERVAL: Duration = Duration::from_secs(5);

/// Serves `UserService`, health and reflection on `listener` until `shutdown` completes; calls in
/// flight are finished first.
pub async fn serve(
    state: GrpcState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Both versions of reflection: grpcurl before 1.8.8 and other older tools ask only v1alpha.
    let reflection = reflection()
        .build_v1()
        .and_then(|v1| Ok((v1, reflection().build_v1alpha()?)))
        .map_err(|e| {
            // The descriptors are compiled in; failing here is a build defect, not an input.
            tracing::error!(error = %e, "gRPC reflection could not be built");
            e
        });
    let database = state.database.clone();
    let watcher = tokio::spawn(async move {
        loop {
            let status = if database.ping().await {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            reporter.set_service_status(SERVICE_NAME, status).await;
            tokio::time::sleep(HEALTH_INTERVAL).await;
        }
    });
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut server = Server::builder()
        // A call that does not finish in time is ended (tonic answers CANCELLED) instead of holding on.
        .timeout(Duration::from_secs(30))
        .http2_keepalive_interval(Some(Duration::from_secs(60)));
    let mut router =
        server
            .add_service(health)
            .add_service(pb::user_service_server::UserServiceServer::new(
                UserApi::new(state),
            ));
    if let Ok((v1, v1alpha)) = reflection {
        router = router.add_service(v1).add_service(v1alpha);
    }
    let result = router
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    watcher.abort();
    result
}
