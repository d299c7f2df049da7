//! The whole request body within `server.body_timeout_secs` of the headers, else 408 and the
//! connection closed. actix-http bounds the headers (its client request timeout) but waits for a body
//! without limit, so a client that announces a large body and trickles it would hold a connection, and
//! a worker's buffers, forever.

use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{InternalError, PayloadError};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, web};
use futures_util::Stream;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::error::envelope_for_status;
use crate::state::AppState;

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|s| Duration::from_secs(s.settings.body_timeout_secs.max(1)));
    let Some(limit) = limit else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let expired = Rc::new(Cell::new(false));
    let inner = req.take_payload();
    req.set_payload(Payload::Stream {
        payload: Box::pin(Deadline {
            inner,
            sleep: Box::pin(sleep_until(Instant::now() + limit)),
            expired: expired.clone(),
        }),
    });
    let res = next.call(req).await;
    if !expired.get() {
        return res.map(ServiceResponse::map_into_boxed_body);
    }
    // Whatever the reader made of the cut-off body, the answer is 408, and the connection goes.
    let mut timeout = envelope_for_status(StatusCode::REQUEST_TIMEOUT);
    timeout
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    match res {
        Ok(res) => Ok(res.into_response(timeout)),
        Err(e) => Err(InternalError::from_response(e.to_string(), timeout).into()),
    }
}

/// The request's body stream, failing once the deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired.get() {
            return Poll::Ready(Some(Err(timed_out())));
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.set(true);
            return Poll::Ready(Some(Err(timed_out())));
        }
        Poll::Pending
    }
}

fn timed_out() -> PayloadError {
    PayloadError::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "request body not received in time",
    ))
}
