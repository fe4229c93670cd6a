//! [`WebTransportTransport`]: a session's messages as lines on one bidirectional stream of a
//! WebTransport session.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;
use web_transport_quinn::{RecvStream, SendStream, SessionError, WebTransportError};

use crate::error::{Error, TransportError};
use crate::session::{CloseReason, Transport};

/// The session close code for a clean end.
pub(crate) const NORMAL_CLOSE: u32 = 0;
/// The session close code for a session that ended with an error (as over WebSocket).
pub(crate) const ERROR_CLOSE: u32 = 3000;
/// The session close code for a server shutting down (as WebSocket's 1001).
pub(crate) const GOING_AWAY_CLOSE: u32 = 1001;

/// A `CLOSE_WEBTRANSPORT_SESSION` reason holds at most 1024 bytes.
const MAX_CLOSE_REASON_BYTES: usize = 1024;

/// What the transport reads from the stream at a time.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// Bytes handed to us and not yet taken by the QUIC stream, past which
/// [`poll_ready`](Transport::poll_ready) waits (backpressure; the session's own queue bound
/// comes on top).
const SEND_HIGH_WATER_BYTES: usize = 64 * 1024;

/// How long closing waits for what was sent to be acknowledged before the session is closed.
const CLOSE_LINGER: Duration = Duration::from_secs(3);

static NEWLINE: &[u8] = b"\n";

/// A session's transport over a WebTransport session: each message is one line (its JSON
/// text, then `\n`) on one bidirectional stream, which the client opened.
///
/// Reading holds at most one line in memory, bounded by the session's message size limit
/// (three bytes per character); a longer line ends the session with
/// [`Error::LimitExceeded`]. Writing takes messages until 64 KiB wait for the QUIC stream,
/// then stops taking more (backpressure); QUIC's flow control bounds what the stream holds.
///
/// Closing sends what is queued, ends the stream, waits (a few seconds at most) until the peer
/// acknowledged it, then closes the WebTransport session: code 0 for a clean end, 3000 and
/// the error's message for a failure, 1001 for a server shutting down.
pub struct WebTransportTransport {
    session: web_transport_quinn::Session,
    send: Option<SendStream>,
    recv: RecvStream,
    /// Bytes read and not yet handed out; `scanned` of them hold no `\n`.
    read: BytesMut,
    scanned: usize,
    /// The longest line accepted, in bytes (without its `\n`).
    max_line: usize,
    /// The peer ended its stream.
    recv_done: bool,
    /// Messages and their newlines, not yet taken by the stream.
    queue: VecDeque<Bytes>,
    queued: usize,
    closing: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// After the peer ended its stream: waiting (briefly) for its session close, which says
    /// why it ended.
    ending: Option<Pin<Box<dyn Future<Output = Option<SessionError>> + Send>>>,
    /// The session close this transport called for (an over-long line, say).
    failure: Option<(u32, String)>,
}

impl fmt::Debug for WebTransportTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebTransportTransport")
            .field("max_line", &self.max_line)
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

impl WebTransportTransport {
    /// Wraps the bidirectional stream (`send`, `recv`) of `session`, reading lines of at most
    /// `max_message_size` characters (the session's limit; see [`Limits`](crate::Limits)).
    pub fn new(
        session: web_transport_quinn::Session,
        send: SendStream,
        recv: RecvStream,
        max_message_size: usize,
    ) -> WebTransportTransport {
        WebTransportTransport {
            session,
            send: Some(send),
            recv,
            read: BytesMut::new(),
            scanned: 0,
            max_line: max_message_size.saturating_mul(3),
            recv_done: false,
            queue: VecDeque::new(),
            queued: 0,
            closing: None,
            ending: None,
            failure: None,
        }
    }

    /// The next complete, non-empty line in `read`, without its `\n` (and a `\r` before it).
    fn next_line(&mut self) -> Option<Bytes> {
        loop {
            let at = memchr::memchr(b'\n', &self.read[self.scanned..])?;
            let mut line = self.read.split_to(self.scanned + at + 1);
            self.scanned = 0;
            line.truncate(line.len() - 1);
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            if !line.is_empty() {
                return Some(line.freeze());
            }
        }
    }

    /// Why reading failed, as the session's error; `None` for a clean end.
    fn read_error(&self, error: std::io::Error) -> Option<Error> {
        use web_transport_quinn::quinn::{ConnectionError, ReadError};
        // Then the connection's own failure (a timeout, say), which says more than a local
        // close made because of it.
        let reason = self.session.close_reason();
        // The peer's session close (its code and reason) comes first.
        if let Some(reason @ SessionError::WebTransportError(_)) = &reason {
            return ended(reason);
        }
        let lost = error.get_ref().and_then(|e| e.downcast_ref::<ReadError>());
        if let Some(ReadError::ConnectionLost(lost)) = lost {
            match lost {
                ConnectionError::ApplicationClosed(_) => {}
                // Closed here, but not by this transport: web-transport-quinn closes the
                // connection itself once the session's CONNECT stream fails, which a lost
                // connection (an idle timeout) can make it do before the loss is reported.
                ConnectionError::LocallyClosed if self.closing.is_none() => {
                    return Some(Error::disconnected(
                        "the WebTransport connection was lost: the peer stopped answering (the \
                         idle timeout), or its session ended without a close",
                    ));
                }
                ConnectionError::LocallyClosed => {}
                other => return ended(&SessionError::ConnectionError(other.clone())),
            }
        }
        match reason {
            Some(reason) => ended(&reason),
            None => Some(Error::disconnected(format!(
                "reading the WebTransport stream failed: {error}"
            ))),
        }
    }

    fn send_error(&self, error: std::io::Error) -> Error {
        match self.session.close_reason().map(|reason| ended(&reason)) {
            Some(Some(error)) => error,
            Some(None) => Error::disconnected("the WebTransport session is closed"),
            None => {
                let what = format!("writing to the WebTransport stream failed: {error}");
                Error::Transport(TransportError::with_source(what, error))
            }
        }
    }

    /// Writes what is queued until the stream takes no more.
    fn poll_write_queue(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let Some(send) = self.send.as_mut() else {
            return Poll::Ready(Err(Error::disconnected(
                "the WebTransport stream is closed",
            )));
        };
        while let Some(front) = self.queue.front_mut() {
            match Pin::new(&mut *send).poll_write(cx, front) {
                Poll::Ready(Ok(n)) => {
                    self.queued -= n;
                    front.advance(n);
                    if front.is_empty() {
                        self.queue.pop_front();
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.send_error(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// The session's error for a WebTransport session that ended; `None` for a clean end.
fn ended(reason: &SessionError) -> Option<Error> {
    match reason {
        SessionError::WebTransportError(WebTransportError::Closed(NORMAL_CLOSE, _)) => None,
        SessionError::WebTransportError(WebTransportError::Closed(code, why)) => {
            Some(Error::disconnected(format!(
                "the peer closed the WebTransport session ({code}: {why})"
            )))
        }
        SessionError::ConnectionError(
            web_transport_quinn::quinn::ConnectionError::LocallyClosed,
        ) => None,
        SessionError::ConnectionError(web_transport_quinn::quinn::ConnectionError::TimedOut) => {
            Some(Error::disconnected(
                "the WebTransport connection timed out: nothing was heard from the peer within \
                 the idle timeout",
            ))
        }
        other => Some(Error::disconnected(format!(
            "the WebTransport connection failed: {other}"
        ))),
    }
}

/// The session close code and reason for how a session ended.
pub(crate) fn close_code(reason: &CloseReason) -> (u32, String) {
    let (code, why) = match reason {
        CloseReason::Normal => (NORMAL_CLOSE, ""),
        CloseReason::Error(error) => (ERROR_CLOSE, error.message.as_str()),
        CloseReason::GoingAway(why) => (GOING_AWAY_CLOSE, why.as_str()),
        #[allow(unreachable_patterns)]
        _ => (ERROR_CLOSE, "the session ended"),
    };
    (code, cut(why, MAX_CLOSE_REASON_BYTES).to_owned())
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Transport for WebTransportTransport {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            if let Some(line) = self.next_line() {
                return Poll::Ready(Some(Ok(line)));
            }
            self.scanned = self.read.len();
            if self.scanned > self.max_line {
                let why = format!(
                    "a message on the WebTransport stream is longer than the session's limits \
                     allow ({} bytes without a newline; the limit is {} bytes)",
                    self.scanned, self.max_line
                );
                self.read = BytesMut::new();
                self.scanned = 0;
                self.failure = Some((ERROR_CLOSE, "message too large".to_owned()));
                self.recv_done = true;
                return Poll::Ready(Some(Err(Error::limit(
                    crate::wire::Limit::MessageSize,
                    self.max_line / 3,
                    why,
                ))));
            }
            if self.recv_done {
                if !self.read.is_empty() {
                    self.read = BytesMut::new();
                    self.scanned = 0;
                    return Poll::Ready(Some(Err(Error::protocol(
                        "the peer ended the WebTransport stream in the middle of a message (a \
                         message ends with a newline)",
                    ))));
                }
                // The peer closes the session right after its end of the stream arrived: its
                // close code says whether the session failed or the server is going away.
                let session = self.session.clone();
                let ending = self.ending.get_or_insert_with(|| {
                    Box::pin(async move {
                        tokio::time::timeout(CLOSE_LINGER, session.closed())
                            .await
                            .ok()
                    })
                });
                let reason = ready!(ending.as_mut().poll(cx));
                self.ending = None;
                return Poll::Ready(reason.as_ref().and_then(ended).map(Err));
            }
            self.read.reserve(READ_CHUNK_BYTES);
            match ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut self.recv),
                cx,
                &mut self.read
            )) {
                Ok(0) => self.recv_done = true,
                Ok(_) => {}
                Err(e) => {
                    self.recv_done = true;
                    self.read = BytesMut::new();
                    self.scanned = 0;
                    return Poll::Ready(self.read_error(e).map(Err));
                }
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.queued >= SEND_HIGH_WATER_BYTES {
            ready!(self.poll_write_queue(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        self.queued += message.len() + 1;
        self.queue.push_back(message);
        self.queue.push_back(Bytes::from_static(NEWLINE));
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_write_queue(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()> {
        if self.closing.is_none() {
            let (code, why) = self.failure.take().unwrap_or_else(|| close_code(reason));
            let session = self.session.clone();
            let send = self.send.take();
            let queue = std::mem::take(&mut self.queue);
            self.queued = 0;
            self.closing = Some(Box::pin(close(session, send, queue, code, why)));
        }
        match self.closing.as_mut() {
            Some(closing) => closing.as_mut().poll(cx),
            None => Poll::Ready(()),
        }
    }
}

/// Sends what is left, ends the stream, waits (bounded) until the peer has it, then closes
/// the session with `code` and `why`.
async fn close(
    session: web_transport_quinn::Session,
    send: Option<SendStream>,
    queue: VecDeque<Bytes>,
    code: u32,
    why: String,
) {
    if let Some(mut send) = send {
        let delivered = tokio::time::timeout(CLOSE_LINGER, async {
            for chunk in queue {
                send.write_all(&chunk).await?;
            }
            send.finish()
                .map_err(|_| web_transport_quinn::WriteError::ClosedStream)?;
            // Acknowledged (or stopped by the peer): what we sent is not lost to the close.
            let _ = send.stopped().await;
            Ok::<(), web_transport_quinn::WriteError>(())
        })
        .await;
        match delivered {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "ending the WebTransport stream failed"),
            Err(_) => tracing::debug!(
                "the peer did not acknowledge the end of the WebTransport stream in time"
            ),
        }
    }
    session.close(code, why.as_bytes());
}

impl Drop for WebTransportTransport {
    fn drop(&mut self) {
        // Without effect if the session is closed already (the first close wins).
        self.session.close(NORMAL_CLOSE, b"");
    }
}
