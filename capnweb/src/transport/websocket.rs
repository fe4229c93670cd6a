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
//! Only `ws://` (and `http://`, read as `ws://`) URLs are supported: this build of
//! `tokio-tungstenite` has no TLS. Put a TLS-terminating proxy in front for `wss://`.

use std::sync::Arc;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::{MessageReceiver, MessageSender, Transport};
use crate::error::{Error, RpcError};
use crate::session::{Session, SessionOptions};
use crate::stub::{FromStub, Stub};

/// The close code for a session that ended with an error (the reference's choice).
const ERROR_CLOSE_CODE: u16 = 3000;

/// A close frame's reason may hold 125 payload bytes less the 2-byte code (RFC 6455, 5.5).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Connects to the Cap'n Web server at `url` and returns its main object as `T` (a [`Stub`] or
/// a typed stub). The session runs until every handle to the main object is dropped (which
/// closes the socket) or the connection ends.
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

/// Like [`accept_stream`], also returning a handle that can close the socket with a chosen
/// code (the server's "going away" on shutdown).
pub(crate) fn serve_stream<S>(
    ws: WebSocketStream<S>,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> (Session, WebSocketCloser<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let transport = WebSocketTransport::new(ws);
    let closer = WebSocketCloser {
        sink: Arc::clone(&transport.sender.sink),
    };
    (Session::new(transport, local_main, options), closer)
}

/// The `tungstenite` settings for a session: messages and frames up to the UTF-8 size of the
/// largest message the session's limits allow (each UTF-16 unit is at most 3 bytes), so the
/// session, not the socket, decides what is too large.
pub(crate) fn config(options: &SessionOptions) -> WebSocketConfig {
    let max = options.limits.max_message_size.saturating_mul(3);
    WebSocketConfig::default()
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

type Sink<S> = SplitSink<WebSocketStream<S>, Message>;

/// A session's transport over one WebSocket: each message is one text frame.
///
/// Sending writes every message the session queued at once and then flushes once, so calls
/// made together leave in one write. Closing sends a close frame: code 1000 for a clean end,
/// 3000 with the error's message (truncated to fit a close frame) for a failure.
///
/// ```no_run
/// # async fn example(ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
/// use capnweb::{websocket::WebSocketTransport, Session, SessionOptions};
///
/// let session = Session::new(WebSocketTransport::new(ws), None, SessionOptions::default());
/// # let _ = session; }
/// ```
pub struct WebSocketTransport<S> {
    sender: WebSocketSender<S>,
    receiver: WebSocketReceiver<S>,
}

impl<S> std::fmt::Debug for WebSocketTransport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebSocketTransport")
    }
}

impl<S> WebSocketTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        let (sink, stream) = ws.split();
        WebSocketTransport {
            sender: WebSocketSender {
                sink: Arc::new(Mutex::new(sink)),
            },
            receiver: WebSocketReceiver { stream },
        }
    }
}

impl<S> Transport for WebSocketTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Sender = WebSocketSender<S>;
    type Receiver = WebSocketReceiver<S>;

    fn split(self) -> (Self::Sender, Self::Receiver) {
        (self.sender, self.receiver)
    }
}

/// The sending half of a [`WebSocketTransport`].
pub struct WebSocketSender<S> {
    /// Shared with a [`WebSocketCloser`], which may close the socket from outside the session.
    sink: Arc<Mutex<Sink<S>>>,
}

impl<S> std::fmt::Debug for WebSocketSender<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebSocketSender")
    }
}

impl<S> MessageSender for WebSocketSender<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn send(&mut self, messages: Vec<String>) -> Result<(), Error> {
        let mut sink = self.sink.lock().await;
        for message in messages {
            sink.feed(Message::text(message))
                .await
                .map_err(send_error)?;
        }
        sink.flush().await.map_err(send_error)
    }

    async fn close(&mut self, reason: Option<RpcError>) {
        let frame = match reason {
            None => CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            },
            Some(error) => CloseFrame {
                code: CloseCode::from(ERROR_CLOSE_CODE),
                reason: close_reason(&error.message).into(),
            },
        };
        close_sink(&self.sink, frame).await;
    }
}

fn send_error(error: WsError) -> Error {
    Error::Transport(format!("writing to the WebSocket failed: {error}"))
}

/// Sends `frame` (unless a close frame was sent or received already) and closes the sink.
/// Failures are only logged: the connection is over either way.
async fn close_sink<S>(sink: &Mutex<Sink<S>>, frame: CloseFrame)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut sink = sink.lock().await;
    // After a close frame went either way, tungstenite refuses another; closing the sink still
    // flushes its automatic reply to the peer's close.
    let _ = sink.send(Message::Close(Some(frame))).await;
    if let Err(e) = sink.close().await {
        tracing::debug!(error = %e, "closing the WebSocket failed");
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

/// The receiving half of a [`WebSocketTransport`].
pub struct WebSocketReceiver<S> {
    stream: SplitStream<WebSocketStream<S>>,
}

impl<S> std::fmt::Debug for WebSocketReceiver<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebSocketReceiver")
    }
}

impl<S> MessageReceiver for WebSocketReceiver<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    async fn recv(&mut self) -> Option<Result<String, Error>> {
        loop {
            let frame = match self.stream.next().await? {
                Ok(frame) => frame,
                Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return None,
                Err(WsError::Capacity(e)) => {
                    return Some(Err(Error::LimitExceeded(format!(
                        "a WebSocket message is larger than the session's limits allow: {e}"
                    ))))
                }
                Err(e) => {
                    return Some(Err(Error::disconnected(format!(
                        "the WebSocket connection failed: {e}"
                    ))))
                }
            };
            match frame {
                Message::Text(text) => return Some(Ok(text.as_str().to_owned())),
                Message::Binary(_) => {
                    return Some(Err(Error::Protocol(
                        "received a binary WebSocket frame; Cap'n Web messages are text frames"
                            .into(),
                    )))
                }
                Message::Close(frame) => {
                    if let Some(frame) = frame {
                        tracing::debug!(code = %frame.code, reason = %frame.reason, "the peer closed the WebSocket");
                    }
                    return None;
                }
                // tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        }
    }
}

/// Closes a session's WebSocket from outside the session (the server going away).
pub(crate) struct WebSocketCloser<S> {
    sink: Arc<Mutex<Sink<S>>>,
}

impl<S> WebSocketCloser<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Sends a close frame with `code` and `reason`; the peer's answering close then ends the
    /// session.
    pub(crate) async fn close(&self, code: CloseCode, reason: &str) {
        let frame = CloseFrame {
            code,
            reason: close_reason(reason).into(),
        };
        close_sink(&self.sink, frame).await;
    }
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
}
