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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::routes::Endpoint;
use super::shutdown_requested;

/// The time limits of a connection (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionTimeouts {
    pub(crate) header_read: Duration,
    pub(crate) keep_alive: Duration,
}

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

/// What a connection is doing, as its IO (bytes arriving) and its service (requests starting
/// and ending) report it.
pub(crate) struct Activity {
    phase: Mutex<Phase>,
    /// Whether bytes that start a new request would change the phase (a fast check per read).
    waiting_for_request: AtomicBool,
    changed: Notify,
}

struct Phase {
    requests: usize,
    /// Bytes of a request arrived while none was in flight.
    receiving: bool,
    /// When the current phase began.
    since: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase {
                requests: 0,
                receiving: false,
                since: Instant::now(),
            }),
            waiting_for_request: AtomicBool::new(true),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        // Every update is a few assignments, so a poisoned lock is consistent.
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bytes_arrived(&self) {
        if !self.waiting_for_request.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut phase = self.lock();
        if phase.requests == 0 && !phase.receiving {
            phase.receiving = true;
            phase.since = Instant::now();
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request's headers were read; it is in flight until the returned guard drops.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut phase = self.lock();
        phase.requests += 1;
        phase.receiving = false;
        drop(phase);
        self.changed.notify_one();
        RequestGuard {
            activity: Arc::clone(self),
        }
    }

    /// Completes with the name of the phase that ran out.
    async fn expired(&self, timeouts: ConnectionTimeouts) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let deadline = {
                let phase = self.lock();
                match (phase.requests, phase.receiving) {
                    (0, false) => Some((
                        phase.since + timeouts.keep_alive,
                        "idle for longer than its keep-alive timeout",
                    )),
                    (0, true) => Some((
                        phase.since + timeouts.header_read,
                        "a request did not arrive whole within the header read timeout",
                    )),
                    _ => None,
                }
            };
            match deadline {
                None => changed.await,
                Some((deadline, what)) => tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {
                        if self.lock().requests == 0 {
                            return what;
                        }
                    }
                    () = changed => {}
                },
            }
        }
    }
}

/// Marks a request as in flight while it lives.
pub(crate) struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut phase = self.activity.lock();
        phase.requests -= 1;
        if phase.requests == 0 {
            phase.since = Instant::now();
            self.activity
                .waiting_for_request
                .store(true, Ordering::Release);
        }
        drop(phase);
        self.activity.changed.notify_one();
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
