//! One HTTP connection: served by hyper (HTTP/1 with upgrades, or HTTP/2), watched so that a
//! client that never finishes a request, or sits idle, cannot hold it open.
//!
//! The watchdog knows two phases. While no request is in flight, the connection is either
//! idle (nothing has arrived since the last request ended: `keep_alive_timeout`) or receiving
//! a request whose headers are not complete yet (bytes arrived: `header_read_timeout`, which
//! also bounds an HTTP/2 preface or a WebSocket upgrade that never completes). While a request
//! is in flight, the request's own timeouts apply (body, batch). When a phase runs out, the
//! connection is dropped.

use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::activity::{Activity, ConnectionTimeouts};
use super::routes::Endpoint;
use super::shutdown_requested;

/// Serves HTTP on one connection until it closes, runs out of time, or the server shuts down.
pub(super) async fn serve<IO>(
    io: IO,
    peer: SocketAddr,
    service: Endpoint,
    timeouts: ConnectionTimeouts,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: io,
        activity: Arc::clone(&activity),
    });
    let service = service.watched_by(Arc::clone(&activity));
    let mut lifecycle = service.lifecycle().cloned();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client may close its side once the request is sent; it still gets the answer.
    builder.http1().half_close(true);
    let mut connection = pin!(builder.serve_connection_with_upgrades(io, service));
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        () = shutdown_requested(lifecycle.as_mut()) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        phase = activity.expired(timeouts) => {
            tracing::debug!(%peer, "closing an HTTP connection: {phase}");
            return;
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(%peer, error = %e, "an HTTP connection ended with an error");
    }
}

/// The connection's IO, telling [`Activity`] when bytes arrive.
struct Watched<IO> {
    inner: IO,
    activity: Arc<Activity>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_arrived();
        }
        read
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
