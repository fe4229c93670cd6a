//! [`StreamSink`]: any [`Stream`] of text messages that is also a [`Sink`] of them, as a
//! [`Transport`]. See [`from_stream_sink`].

use std::any::Any;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Sink, Stream};

use crate::error::{Error, TransportError};
use crate::transport::{Capabilities, CloseReason, Transport};

/// Makes a [`Transport`] of `stream_sink`: a [`Stream`] of `Result<String, E>`, one whole
/// message per item, that is also a [`Sink<String>`](Sink) — a `tokio_util::codec::Framed`
/// with a `LinesCodec` (newline-delimited JSON over any socket or pipe), a channel pair
/// joined, a WebSocket library's message stream mapped to text.
///
/// The session on it lasts as long as the stream (callbacks and streams work both ways): give
/// other [`Capabilities`] with [`StreamSink::with_capabilities`].
///
/// - **Receiving**: each `Ok(text)` is one message; the stream's end is the peer closing. An
///   `Err(e)` ends the session, its calls rejecting with an error whose text says what failed
///   (`receiving from the peer failed: {e}`): [`Error::Disconnected`] if an
///   [`io::Error`](std::io::Error) in `e`'s chain says the connection broke (reset, aborted,
///   broken pipe, unexpected end), else [`Error::Transport`] with `e` as its source. A
///   [`capnweb::Error`](Error) passes through as it is: map your stream's errors into one to
///   choose the kind, e.g. a line over your codec's length limit into
///   [`Error::LimitExceeded`], which is also told to the peer.
/// - **Sending**: the sink's backpressure is the session's: while `poll_ready` is pending the
///   session queues, and past [`max_queued_bytes`](crate::SessionOptions::max_queued_bytes)
///   stops reading from the peer. Send errors map as receive errors do.
/// - **Closing**: [`Sink::poll_close`]; the [`CloseReason`] is not sent (a plain stream of
///   messages has no place for it: the peer sees the stream end).
///
/// Size limits are the stream's: bound what it buffers for one message (e.g.
/// `LinesCodec::new_with_max_length`), or a peer can make it buffer without end.
///
/// Newline-delimited JSON over an in-memory pipe, with `tokio_util`'s `Framed` and
/// `LinesCodec` (feature `codec`); a `TcpStream`, `UnixStream` or a child's stdio goes the
/// same way:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use capnweb::{transport, Session, SessionOptions, Stub, Value};
/// use tokio_util::codec::{Framed, LinesCodec};
///
/// let (a, b) = tokio::io::duplex(64 * 1024);
/// // Bound a line's length: without it, a peer that never sends a newline is buffered
/// // without end.
/// let lines = |io| Framed::new(io, LinesCodec::new_with_max_length(1 << 20));
///
/// let hello = Stub::from_fn(|args: Vec<Value>| async move {
///     Ok(Value::from(format!("hello, {}", args[0].as_str().unwrap_or("you"))))
/// });
/// let _server = Session::new(
///     transport::from_stream_sink(lines(a)),
///     Some(hello),
///     SessionOptions::default(),
/// );
/// let client = Session::new(transport::from_stream_sink(lines(b)), None, SessionOptions::default());
/// // A typed API's stub: `client.main_as::<MyApiStub>()`.
/// let answer = client.main().call_self(vec![Value::from("Ada")]).await?;
/// assert_eq!(answer.as_str(), Some("hello, Ada"));
/// # Ok(()) }
/// ```
///
/// A complete example, newline-delimited JSON over a Unix socket with `tokio_util`'s
/// `Framed` and `LinesCodec`, is `examples/custom-transport.rs`.
pub fn from_stream_sink<S, E>(stream_sink: S) -> StreamSink<S>
where
    S: Stream<Item = Result<String, E>> + Sink<String> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
    <S as Sink<String>>::Error: std::error::Error + Send + Sync + 'static,
{
    StreamSink {
        inner: stream_sink,
        capabilities: Capabilities::lasting(),
    }
}

/// A [`Stream`] + [`Sink`] of text messages as a [`Transport`]: made by
/// [`from_stream_sink`], which says how it behaves.
#[derive(Debug)]
pub struct StreamSink<S> {
    inner: S,
    capabilities: Capabilities,
}

impl<S> StreamSink<S> {
    /// The same transport, telling the session it can carry `capabilities` (by default a
    /// lasting, unbatched session: [`Capabilities::lasting`]).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// The stream and sink inside.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream and sink inside, back.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// `e` as the session's error: a [`capnweb::Error`](Error) as it is, a broken connection as
/// [`Error::Disconnected`], anything else as [`Error::Transport`]; `doing` says what failed.
fn to_error<E>(doing: &str, e: E) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    if let Some(own) = (&e as &dyn Any).downcast_ref::<Error>() {
        return own.clone();
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{
                BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof,
            };
            if matches!(
                io.kind(),
                BrokenPipe | ConnectionAborted | ConnectionReset | UnexpectedEof
            ) {
                return Error::disconnected(format!("{doing} failed, the connection broke: {e}"));
            }
        }
        cause = error.source();
    }
    Error::Transport(TransportError::with_source(
        format!("{doing} failed: {e}"),
        e,
    ))
}

impl<S, E> Transport for StreamSink<S>
where
    S: Stream<Item = Result<String, E>> + Sink<String> + Send + Unpin + 'static,
    E: std::error::Error + Send + Sync + 'static,
    <S as Sink<String>>::Error: std::error::Error + Send + Sync + 'static,
{
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        Pin::new(&mut self.inner).poll_next(cx).map(|item| {
            item.map(|message| match message {
                Ok(text) => Ok(Bytes::from(text)),
                Err(e) => Err(to_error("receiving from the peer", e)),
            })
        })
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.inner)
            .poll_ready(cx)
            .map_err(|e| to_error("sending to the peer", e))
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        // The session's messages are UTF-8 text; the check is the price of a `String` sink.
        let text = match std::str::from_utf8(&message) {
            Ok(text) => text.to_owned(),
            Err(e) => {
                return Err(Error::Transport(TransportError::with_source(
                    "the session handed the transport a message that is not UTF-8 text (a bug \
                     in capnweb: please report it)",
                    e,
                )))
            }
        };
        Pin::new(&mut self.inner)
            .start_send(text)
            .map_err(|e| to_error("sending to the peer", e))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.inner)
            .poll_flush(cx)
            .map_err(|e| to_error("sending to the peer", e))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, _reason: &CloseReason) -> Poll<()> {
        Pin::new(&mut self.inner).poll_close(cx).map(|closed| {
            if let Err(e) = closed {
                tracing::debug!(error = %e, "closing the stream-and-sink transport failed");
            }
        })
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }
}
