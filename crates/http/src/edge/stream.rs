//! A client connection as actix-http reads it: bytes pass through [`Framer`], and a request it
//! refuses — or a head that does not arrive in time — is replaced by a request for the envelope
//! that answers it (`/_edge/{fault}`, with `Connection: close`). That request queues behind the
//! ones before it, so their answers go out first and in order, and the connection then closes.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Sleep, sleep};

use super::FAULT_PATH;
use super::framing::{Fault, Framer};

/// One connection, read through the framing check.
pub struct GuardedStream<T> {
    inner: T,
    framer: Framer,
    /// Checked bytes not yet taken by actix-http.
    ready: Vec<u8>,
    taken: usize,
    /// A head's deadline: from the connection's start for the first request, from its first byte
    /// for later ones (between requests, actix-http's keep-alive timer bounds the idle time).
    deadline: Option<Pin<Box<Sleep>>>,
    head_timeout: Duration,
    /// Set once a fault has been turned into a request: the client is not read any further.
    closed: bool,
}

impl<T> GuardedStream<T> {
    /// Wraps a freshly accepted connection; its first head must complete within `head_timeout`.
    pub fn new(inner: T, head_timeout: Duration) -> Self {
        Self {
            inner,
            framer: Framer::default(),
            ready: Vec::new(),
            taken: 0,
            deadline: Some(Box::pin(sleep(head_timeout))),
            head_timeout,
            closed: false,
        }
    }

    fn answer_with(&mut self, fault: Fault) {
        let slug = super::slug(fault);
        self.ready.extend_from_slice(
            format!("GET {FAULT_PATH}{slug} HTTP/1.1\r\nHost: edge\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        self.deadline = None;
        self.closed = true;
    }

    fn track_deadline(&mut self) {
        if !self.framer.head_started() {
            self.deadline = None;
        } else if self.deadline.is_none() {
            self.deadline = Some(Box::pin(sleep(self.head_timeout)));
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.taken < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.taken);
                buf.put_slice(&this.ready[this.taken..this.taken + n]);
                this.taken += n;
                if this.taken == this.ready.len() {
                    this.ready.clear();
                    this.taken = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.closed {
                // Never woken again: the answer to the fault closes the connection.
                return Poll::Pending;
            }
            if let Some(deadline) = this.deadline.as_mut()
                && deadline.as_mut().poll(cx).is_ready()
            {
                this.answer_with(Fault::HeadTimeout);
                continue;
            }
            // Left uninitialised: zeroing 8 KiB on every poll (most of which find nothing to read)
            // was 8 % of a request's instructions (callgrind, docs/BENCHMARKS.md).
            let mut scratch = [MaybeUninit::<u8>::uninit(); 8 * 1024];
            let mut read = ReadBuf::uninit(&mut scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The client's end: actix-http sees it as any end of stream.
                return Poll::Ready(Ok(()));
            }
            if let Err(fault) = this.framer.feed(read.filled(), &mut this.ready) {
                this.answer_with(fault);
            } else {
                this.track_deadline();
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
