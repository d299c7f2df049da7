//! The HTTP/1 edge: the listener, and the error envelope for requests actix-http would refuse with
//! an empty body of its own (a malformed head, a head too large or too slow).

mod framing;
mod stream;

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

pub use framing::{Fault, MAX_HEAD_BYTES, MAX_HEADERS};
pub use stream::GuardedStream;

use crate::error;
use crate::state::AppState;

/// The time a request head may take (API.md 1.3).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a refused request is sent instead, to be answered by [`routes`]. Asking for it directly
/// is harmless: the answer is the same error.
const FAULT_PATH: &str = "/_edge/";

fn slug(fault: Fault) -> &'static str {
    match fault {
        Fault::Malformed => "malformed",
        Fault::UriTooLong => "uri-too-long",
        Fault::HeadTooLarge => "head-too-large",
        Fault::HeadTimeout => "head-timeout",
    }
}

/// Registers the answer to a refused request.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/_edge/{fault}", web::get().to(answer));
}

async fn answer(fault: web::Path<String>) -> HttpResponse {
    let status = match fault.as_str() {
        "malformed" => {
            return error::envelope(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "malformed request line or headers".to_owned(),
                None,
            );
        }
        "uri-too-long" => StatusCode::URI_TOO_LONG,
        "head-too-large" => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "head-timeout" => StatusCode::REQUEST_TIMEOUT,
        _ => StatusCode::NOT_FOUND,
    };
    error::envelope_for_status(status)
}

/// The HTTP server on `listener`: actix-http's HTTP/1 over connections read through
/// [`GuardedStream`], with the application of [`crate::build_app`].
pub fn serve(listener: TcpListener, workers: usize, state: AppState) -> io::Result<Server> {
    let local = listener.local_addr()?;
    Ok(Server::build()
        .workers(workers)
        .listen("http", listener, move || {
            let app = crate::build_app(state.clone())
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            let http = HttpService::build()
                .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
                // The guard owns the head's deadline, so that its 408 carries the envelope.
                .client_request_timeout(Duration::ZERO)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(local)
                .h1(map_config(app, |_| AppConfig::default()));
            fn_service(|io: actix_web::rt::net::TcpStream| async move {
                let peer = io.peer_addr().ok();
                // As actix-web's own server does: answers are not held back for coalescing.
                io.set_nodelay(true)?;
                Ok::<_, io::Error>((GuardedStream::new(io, HEAD_TIMEOUT), peer))
            })
            .map_err(|e| tracing::debug!(error = %e, "connection dropped before serving"))
            .and_then(http.map_err(|_| ()))
        })?
        .run())
}
