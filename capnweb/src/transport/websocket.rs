//! The WebSocket transport: one text frame per message, over `tokio-tungstenite`.
//!
//! Use [`connect`] for a client that only calls, [`connect_with`] for one that also serves its
//! own main object, and [`accept_stream`] to run a session on a WebSocket accepted elsewhere
//! (your own server; [`Server`](crate::Server) and [`RpcService`](crate::RpcService) accept
//! WebSockets for you).
//!
//! ```no_run
//! # async fn example() -> Result<(), capnweb::Error> {
//! use capnweb::{Stub, Value};
//!
//! let api: Stub = capnweb::websocket::connect("ws://127.0.0.1:8080/").await?;
//! let nine = api.call("square", vec![Value::from(3)]).await?;
//! # let _ = nine; Ok(()) }
//! ```
//!
//! Framing: each message is one text frame, as the protocol says. A peer may instead send
//! binary frames, each the UTF-8 text of one or more messages separated by `\n` (py-capnweb's
//! client does; empty lines and `\r\n` endings are tolerated). Once it has, it is answered in
//! kind: the messages of each flush (everything the session had queued at that moment) leave
//! as one binary frame, joined by `\n`. A peer that sends text frames gets one text frame per
//! message. A binary frame is held to the same size limits as a text one.
//!
//! Closing: a clean end closes with code 1000; a session that failed closes with 3000 and the
//! error's message (cut to fit a close frame); a frame the WebSocket protocol forbids closes
//! with 1002 (1007 for a frame whose text is not UTF-8, 1009 for a message over the limits)
//! and says what was wrong; a server shutting down closes with 1001.
//!
//! Only `ws://` (and `http://`, read as `ws://`) URLs are supported: this build of
//! `tokio-tungstenite` has no TLS. Put a TLS-terminating proxy in front for `wss://`.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::lines::{join_lines, Lines};
use super::{CloseReason, Transport};
use crate::error::Error;
use crate::session::{Session, SessionOptions};
use crate::stub::{FromStub, Stub};

/// The close code for a session that ended with an error (the reference's choice).
const ERROR_CLOSE_CODE: u16 = 3000;

/// A close frame's reason may hold 125 payload bytes less the 2-byte code (RFC 6455, 5.5).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// The read buffer of each connection. Small, because every idle session holds one (at 2 KiB
/// an idle session costs the server about 7 KiB in all, measured by bench/idle-sessions.sh);
/// a burst of small messages costs a few more reads, not more work per message.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// What is written per system call at most before the session's flush.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Connects to the Cap'n Web server at `url` and returns its main object as `T` (a [`Stub`] or
/// a typed stub). The session runs until nothing from it is held any more (which closes the
/// socket) or the connection ends.
///
/// Errors are [`Error::Transport`], naming the URL and what failed (no server listening, a
/// refused upgrade, an invalid URL).
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// let api: capnweb::Stub = capnweb::websocket::connect("ws://127.0.0.1:8080/").await?;
/// let sum = api.call("add", vec![2.into(), 3.into()]).await?;
/// # let _ = sum; Ok(()) }
/// ```
pub async fn connect<T: FromStub>(url: &str) -> Result<T, Error> {
    Ok(connect_with(url, None, SessionOptions::default())
        .await?
        .main_as())
}

/// Connects to `url` and returns the session: both sides can call each other, since the client
/// may serve `local_main` (its own main object) to the server.
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use capnweb::{SessionOptions, Stub, Value};
///
/// let hello = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello from the client")) });
/// let session = capnweb::websocket::connect_with("ws://127.0.0.1:8080/", Some(hello), SessionOptions::default()).await?;
/// let server = session.main();
/// # let _ = server; Ok(()) }
/// ```
pub async fn connect_with(
    url: &str,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> Result<Session, Error> {
    let target = websocket_url(url);
    let (ws, _response) =
        tokio_tungstenite::connect_async_with_config(target, Some(config(&options)), true)
            .await
            .map_err(|e| connect_error(url, e))?;
    Ok(accept_stream(ws, local_main, options))
}

/// Runs a session on a WebSocket that is already open (accepted by your own server, or
/// connected some other way), serving `local_main` to the peer.
///
/// The stream keeps the `tungstenite` configuration it was opened with; its message and frame
/// size limits apply before the session's own [`Limits`](crate::Limits).
///
/// ```no_run
/// # async fn example(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// use capnweb::{SessionOptions, Stub, Value};
///
/// let ws = tokio_tungstenite::accept_async(tcp).await?;
/// let echo = Stub::from_fn(|args: Vec<Value>| async move { Ok(args.into_iter().next().unwrap_or_default()) });
/// let session = capnweb::websocket::accept_stream(ws, Some(echo), SessionOptions::default());
/// let why = session.closed().await;
/// # let _ = why; Ok(()) }
/// ```
pub fn accept_stream<S>(
    ws: WebSocketStream<S>,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> Session
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Session::new(WebSocketTransport::new(ws), local_main, options)
}

/// The `tungstenite` settings for a session: small buffers, and messages and frames up to
/// the UTF-8 size of the largest message the session's limits allow (each UTF-16 unit is at
/// most 3 bytes), so the session, not the socket, decides what is too large.
pub(crate) fn config(options: &SessionOptions) -> WebSocketConfig {
    let max = options.limits.max_message_size.saturating_mul(3);
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Browsers accept `http(s)://` for WebSockets; `tungstenite` wants `ws(s)://`.
fn websocket_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_owned()
    }
}

fn connect_error(url: &str, error: WsError) -> Error {
    let what = match error {
        WsError::Http(response) => format!(
            "the server answered {} instead of accepting the WebSocket upgrade",
            response.status()
        ),
        WsError::Url(e) => format!("the URL is not usable: {e}"),
        other => other.to_string(),
    };
    Error::Transport(format!("could not open a WebSocket to {url}: {what}"))
}

/// A session's transport over one WebSocket: each message is one text frame (or, to a peer
/// that sends binary frames of `\n`-separated messages, each flush is one such frame; see the
/// [module docs](self)).
///
/// Sending writes every message the session queued at once and then flushes once, so calls
/// made together leave in one write. With [`keepalive`](WebSocketTransport::keepalive), an
/// idle connection is pinged, and one that stays silent is given up.
///
/// ```no_run
/// # async fn example(ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
/// use std::time::Duration;
/// use capnweb::{websocket::WebSocketTransport, Session, SessionOptions};
///
/// let transport = WebSocketTransport::new(ws).keepalive(Duration::from_secs(30), Duration::from_secs(10));
/// let session = Session::new(transport, None, SessionOptions::default());
/// # let _ = session; }
/// ```
pub struct WebSocketTransport<S> {
    ws: WebSocketStream<S>,
    /// The close frame a WebSocket protocol violation by the peer calls for.
    failure: Option<CloseFrame>,
    /// Our close frame was queued.
    close_sent: bool,
    keepalive: Option<Keepalive>,
    /// The messages of the peer's last binary frame not yet handed to the session.
    received_lines: Option<Lines>,
    /// The peer sends binary frames of `\n`-separated messages: answer the same way.
    answer_in_lines: bool,
    /// Then, the messages handed to us since the last flush (slices of the session's buffer).
    unsent_lines: Vec<Bytes>,
}

/// Pings an idle peer, and gives up on one that stays silent.
///
/// Hearing from the peer only notes the time; the timer is moved when it fires (to the
/// silence's real end), not on every frame.
struct Keepalive {
    interval: Duration,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
    /// When the peer was last heard from.
    heard: Instant,
    /// When the ping went out, if one is unanswered.
    pinged: Option<Instant>,
}

impl<S> std::fmt::Debug for WebSocketTransport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport")
            .field("keepalive", &self.keepalive.as_ref().map(|k| k.interval))
            .finish_non_exhaustive()
    }
}

impl<S> WebSocketTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WebSocketTransport {
            ws,
            failure: None,
            close_sent: false,
            keepalive: None,
            received_lines: None,
            answer_in_lines: false,
            unsent_lines: Vec::new(),
        }
    }

    /// Pings the peer after `interval` without a frame from it, and ends the session if
    /// nothing arrives within `timeout` of the ping (the peer or the network is gone).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keepalive = Some(Keepalive {
            interval,
            timeout,
            timer: Box::pin(tokio::time::sleep(interval)),
            heard: Instant::now(),
            pinged: None,
        });
        self
    }

    /// Something arrived from the peer: it is alive.
    fn heard(&mut self) {
        if let Some(keepalive) = &mut self.keepalive {
            keepalive.heard = Instant::now();
            keepalive.pinged = None;
        }
    }

    /// Runs the keepalive timer: sends a ping when due; an error once the peer is given up.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        let Some(keepalive) = &mut self.keepalive else {
            return Ok(());
        };
        while keepalive.timer.as_mut().poll(cx).is_ready() {
            let quiet_until = keepalive.heard + keepalive.interval;
            if keepalive.pinged.is_none() && quiet_until > Instant::now() {
                // Heard from since the timer was set: wait for the rest of the interval.
                keepalive.timer.as_mut().reset(quiet_until);
                continue;
            }
            if let Some(pinged) = keepalive.pinged {
                return Err(Error::disconnected(format!(
                    "the peer did not answer a ping within {:?} (it sent nothing for {:?})",
                    keepalive.timeout,
                    pinged.elapsed() + keepalive.interval
                )));
            }
            // A ping only goes out when the socket can take it; a peer that does not read is
            // the send timeout's business.
            if let Poll::Ready(Ok(())) = Pin::new(&mut self.ws).poll_ready(cx) {
                let ping = Message::Ping(Bytes::new());
                let sent = Pin::new(&mut self.ws).start_send(ping).and_then(|()| {
                    match Pin::new(&mut self.ws).poll_flush(cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending => Ok(()),
                    }
                });
                if let Err(e) = sent {
                    return Err(Error::disconnected(format!("sending a ping failed: {e}")));
                }
            }
            let now = Instant::now();
            keepalive.pinged = Some(now);
            keepalive.timer.as_mut().reset(now + keepalive.timeout);
        }
        Ok(())
    }

    /// The session's error for a read that failed, remembering the close frame it calls for.
    fn read_error(&mut self, error: WsError) -> Option<Error> {
        let (code, problem, error) = match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => return None,
            WsError::Capacity(e) => (
                CloseCode::Size,
                format!("message too large: {e}"),
                Error::LimitExceeded(format!(
                    "a WebSocket message is larger than the session's limits allow: {e}"
                )),
            ),
            WsError::Utf8(e) => (
                CloseCode::Invalid,
                "a text frame is not valid UTF-8".to_owned(),
                Error::Protocol(format!("the peer sent a text frame that is not UTF-8: {e}")),
            ),
            WsError::Protocol(e) => (
                CloseCode::Protocol,
                format!("WebSocket protocol error: {e}"),
                Error::Protocol(format!("the peer broke the WebSocket protocol: {e}")),
            ),
            other => {
                return Some(Error::disconnected(format!(
                    "the WebSocket connection failed: {other}"
                )))
            }
        };
        self.failure = Some(CloseFrame {
            code,
            reason: close_reason(&problem).to_owned().into(),
        });
        Some(error)
    }

    /// The next message of the last binary frame, skipping empty lines (a trailing `\n`)
    /// and dropping a `\r` before each `\n`.
    fn next_line(&mut self) -> Option<Bytes> {
        let lines = self.received_lines.as_mut()?;
        let line = lines.find_map(|mut line| {
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            (!line.is_empty()).then_some(line)
        });
        if line.is_none() {
            self.received_lines = None;
        }
        line
    }

    /// Hands a binary frame's messages to [`next_line`](Self::next_line); an error if it is
    /// not UTF-8 text.
    fn receive_lines(&mut self, frame: Bytes) -> Result<(), Error> {
        if let Err(e) = std::str::from_utf8(&frame) {
            self.failure = Some(CloseFrame {
                code: CloseCode::Invalid,
                reason: "a binary frame is not valid UTF-8".into(),
            });
            return Err(Error::Protocol(format!(
                "the peer sent a binary frame that is not UTF-8 text: {e}"
            )));
        }
        self.answer_in_lines = true;
        self.received_lines = Some(Lines::new(frame));
        Ok(())
    }
}

fn send_error(error: WsError) -> Error {
    match error {
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            Error::disconnected("the WebSocket is closed")
        }
        other => Error::Transport(format!("writing to the WebSocket failed: {other}")),
    }
}

impl<S> Transport for WebSocketTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            if let Some(message) = self.next_line() {
                return Poll::Ready(Some(Ok(message)));
            }
            let frame = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(self.read_error(e).map(Err)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    if let Err(e) = self.poll_keepalive(cx) {
                        return Poll::Ready(Some(Err(e)));
                    }
                    return Poll::Pending;
                }
            };
            self.heard();
            match frame {
                Message::Text(text) => return Poll::Ready(Some(Ok(Bytes::from(text)))),
                Message::Binary(frame) => {
                    if let Err(e) = self.receive_lines(frame) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Message::Close(frame) => {
                    return Poll::Ready(match frame {
                        Some(frame) if frame.code != CloseCode::Normal => {
                            Some(Err(Error::disconnected(format!(
                                "the peer closed the connection ({}: {})",
                                u16::from(frame.code),
                                frame.reason
                            ))))
                        }
                        _ => None,
                    });
                }
                // tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws).poll_ready(cx).map_err(send_error)
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        if self.answer_in_lines {
            self.unsent_lines.push(message);
            return Ok(());
        }
        // A raw frame: the session's text is UTF-8 already, so no second check is needed.
        let frame = Frame::message(message, OpCode::Data(Data::Text), true);
        Pin::new(&mut self.ws)
            .start_send(Message::Frame(frame))
            .map_err(send_error)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.unsent_lines.is_empty() {
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(send_error)?;
            let frame = match self.unsent_lines.as_slice() {
                [one] => one.clone(),
                many => join_lines(many),
            };
            self.unsent_lines.clear();
            Pin::new(&mut self.ws)
                .start_send(Message::Binary(frame))
                .map_err(send_error)?;
        }
        Pin::new(&mut self.ws).poll_flush(cx).map_err(send_error)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()> {
        if !self.close_sent {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
            }
            let frame = self.failure.take().unwrap_or_else(|| close_frame(reason));
            self.close_sent = true;
            if let Err(e) = Pin::new(&mut self.ws).start_send(Message::Close(Some(frame))) {
                tracing::debug!(error = %e, "sending the WebSocket close frame failed");
                return Poll::Ready(());
            }
        }
        match Pin::new(&mut self.ws).poll_close(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "closing the WebSocket failed");
                }
                Poll::Ready(())
            }
        }
    }
}

/// The close frame for how the session ended.
fn close_frame(reason: &CloseReason) -> CloseFrame {
    match reason {
        CloseReason::Normal => CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        },
        CloseReason::Error(error) => CloseFrame {
            code: CloseCode::from(ERROR_CLOSE_CODE),
            reason: close_reason(&error.message).to_owned().into(),
        },
        CloseReason::GoingAway(why) => CloseFrame {
            code: CloseCode::Away,
            reason: close_reason(why).to_owned().into(),
        },
    }
}

/// `message` cut to fit a close frame, on a character boundary.
fn close_reason(message: &str) -> &str {
    if message.len() <= MAX_CLOSE_REASON_BYTES {
        return message;
    }
    let mut end = MAX_CLOSE_REASON_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reasons_are_kept() {
        assert_eq!(close_reason("bad input"), "bad input");
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let ascii = "x".repeat(200);
        assert_eq!(close_reason(&ascii).len(), MAX_CLOSE_REASON_BYTES);
        // 'é' is two bytes: 61 of them fill 122 bytes, and the 62nd would end at byte 124.
        let accented = "é".repeat(100);
        let cut = close_reason(&accented);
        assert_eq!(cut.len(), 122);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(websocket_url("http://h:1/x"), "ws://h:1/x");
        assert_eq!(websocket_url("https://h/"), "wss://h/");
        assert_eq!(websocket_url("ws://h/"), "ws://h/");
    }

    #[test]
    fn each_ending_has_its_close_code() {
        assert_eq!(close_frame(&CloseReason::Normal).code, CloseCode::Normal);
        let failed = close_frame(&CloseReason::Error(crate::RpcError::error("boom")));
        assert_eq!(
            (u16::from(failed.code), failed.reason.as_str()),
            (3000, "boom")
        );
        let away = close_frame(&CloseReason::GoingAway("bye".into()));
        assert_eq!((away.code, away.reason.as_str()), (CloseCode::Away, "bye"));
    }
}
