//! The [`Transport`] trait: what a session needs from whatever carries its messages, and
//! [`Capabilities`], what a transport can carry. They live with the session (which drives the
//! transport); the transports themselves, in `crate::transport`, implement the trait.

use std::task::{Context, Poll};

use bytes::Bytes;

use crate::error::{Error, RpcError};

/// Why a session ended, as its transport tells the peer when it closes (a WebSocket close
/// frame's code and reason, say).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The session ended cleanly (nothing from it was held any more, or the peer closed).
    Normal,
    /// The session failed with this error.
    Error(RpcError),
    /// The server is shutting down; the text says so to the peer.
    GoingAway(String),
}

/// What a transport can carry, as its [`Transport::capabilities`] says once, when the session
/// starts. The session reads nothing else to decide whether callbacks and streams can work
/// over it, or when to send.
///
/// Two questions:
///
/// * **Does the session last beyond one exchange?** Over a WebSocket, a memory pair or any
///   connection both sides keep open, it does ([`Capabilities::lasting`], the default): the
///   peer can call back into objects we pass it (callbacks), and streams can flow both ways.
///   An HTTP batch is one exchange ([`Capabilities::one_exchange`]): one request, one answer.
///   Streams cannot be carried (passing or calling one fails with an error saying so), and the
///   side that answers the exchange (the server) cannot call the other back: its calls into
///   the client's objects fail at once instead of holding the exchange.
/// * **Are messages sent batched?** A batching transport (the HTTP batch client,
///   [`with_batching`](Capabilities::with_batching)) is handed messages as they are made but
///   asked to flush only once the application awaits a result and has yielded once, so every
///   call made in the same tick travels in one batch. Other transports are flushed as soon as
///   the session has handed them everything queued.
///
/// ```
/// use capnweb::transport::Capabilities;
///
/// // A WebSocket, a pipe, a Unix socket: the default.
/// let lasting = Capabilities::default();
/// assert!(lasting.is_lasting() && !lasting.is_batched());
/// assert!(lasting.carries_streams() && lasting.peer_answers());
///
/// // An HTTP batch's client: one exchange, sent in one batch, whose reply answers its calls.
/// let client = Capabilities::one_exchange().with_batching(true);
/// assert!(!client.carries_streams() && client.peer_answers());
///
/// // An HTTP batch's server: one exchange; it cannot call the client back.
/// let server = Capabilities::one_exchange();
/// assert!(!server.carries_streams() && !server.peer_answers());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    lasting: bool,
    batched: bool,
}

impl Default for Capabilities {
    /// [`Capabilities::lasting`]: a lasting, unbatched session that carries streams and
    /// callbacks.
    fn default() -> Self {
        Capabilities::lasting()
    }
}

impl Capabilities {
    /// A session that lasts as long as the connection, unbatched: calls both ways, callbacks
    /// and streams all work. What most transports are (WebSocket, memory, any byte stream).
    pub const fn lasting() -> Capabilities {
        Capabilities {
            lasting: true,
            batched: false,
        }
    }

    /// A session of one exchange (HTTP batch): no streams, and the answering side cannot call
    /// the other back. Add [`with_batching`](Capabilities::with_batching) for the side that
    /// sends the exchange.
    pub const fn one_exchange() -> Capabilities {
        Capabilities {
            lasting: false,
            batched: false,
        }
    }

    /// The same, with messages sent batched (`true`) or flushed as soon as they are handed
    /// over (`false`, the default).
    pub const fn with_batching(self, batched: bool) -> Capabilities {
        Capabilities { batched, ..self }
    }

    /// Whether the session lasts beyond one exchange.
    pub const fn is_lasting(&self) -> bool {
        self.lasting
    }

    /// Whether messages are sent batched, flushed only when a result is awaited.
    pub const fn is_batched(&self) -> bool {
        self.batched
    }

    /// Whether streams ([`ReadableStream`](crate::ReadableStream),
    /// [`WritableStream`](crate::WritableStream), [`Blob`](crate::Blob)) can be passed and
    /// written: only in a lasting session that is not batched.
    pub const fn carries_streams(&self) -> bool {
        self.lasting && !self.batched
    }

    /// Whether the peer can answer our calls while the session runs: in a lasting session,
    /// always; in one exchange, only for the side that sends it batched (the reply carries
    /// the answers), not for the side that answers it (the sender reads nothing before the
    /// reply, so a call into one of its objects could never be answered).
    pub const fn peer_answers(&self) -> bool {
        self.lasting || self.batched
    }
}

/// A bidirectional message transport, driven by one session: implement it to run sessions
/// over anything that carries whole text messages.
///
/// For a [`Stream`](futures::Stream) of `String`s that is also a [`Sink`](futures::Sink) of
/// them (a `tokio_util::codec::Framed`, a channel pair), you need not implement it:
/// [`from_stream_sink`](crate::transport::from_stream_sink) does. Start a session on a
/// transport with [`Session::new`](crate::Session::new).
///
/// # The contract
///
/// **Framing.** Every item is one whole protocol message: UTF-8 JSON text, never a fragment
/// and never two. Outgoing messages are valid UTF-8 (often slices of one buffer, so they can
/// be written without copying); an incoming one that is not is the session's to reject.
/// Delimiting messages on a byte stream (newlines, length prefixes, frames) is the transport's
/// job, and so is bounding their size: a message over the peer's
/// [`Limits::max_message_size`](crate::Limits::max_message_size) should fail
/// [`poll_recv`](Transport::poll_recv) before it is all buffered.
///
/// **Driving.** One task polls the transport; nothing is called concurrently. The session
/// polls [`poll_recv`](Transport::poll_recv) for incoming messages, and sends each outgoing one
/// with [`poll_ready`](Transport::poll_ready) then [`start_send`](Transport::start_send), then
/// [`poll_flush`](Transport::poll_flush) once for all it had (a batching transport: once a
/// result is awaited, see [`Capabilities`]). Every `Pending` must arrange a wake-up of the
/// context's waker, as for any future.
///
/// **Backpressure.** A transport that cannot take more yet returns `Pending` from `poll_ready`
/// (or `poll_flush`). Messages then wait in the session, and once more than
/// [`SessionOptions::max_queued_bytes`](crate::SessionOptions::max_queued_bytes) wait, the
/// session stops reading from the peer until they drain, so a peer that does not read cannot
/// make it buffer without bound. `poll_ready` should therefore not accept messages without
/// bound either: keep at most a buffer's worth unflushed, and flush when it is full.
///
/// **Errors.** An error from any method ends the session, and every pending call rejects with
/// it; choose its kind so callers can tell what happened: [`Error::Disconnected`] (with
/// [`Error::disconnected`]) for a connection that broke or was reset, [`Error::Transport`]
/// for a failure of the transport itself (a failed request, an I/O error, a frame it cannot
/// decode), [`Error::Protocol`] for input the protocol forbids, [`Error::LimitExceeded`] for
/// input over a limit. The last two are also told to the peer in an `abort` message. Say in
/// the text what failed, e.g. `"reading from the socket failed: connection reset"`.
///
/// **End and close.** `poll_recv` returns `Ready(None)` once the peer closed cleanly; the
/// session then ends with [`Error::Disconnected`]. When the session ends, for any reason, it
/// sends what it still has, then calls [`poll_close`](Transport::poll_close) until it is
/// ready, then keeps reading (and discarding) until `poll_recv` ends, for a short while, so
/// what it sent last is not lost to a connection reset. `poll_close` flushes what is
/// unflushed if it can, tells the peer the [`CloseReason`] if the transport has a way to, and
/// releases the connection; it cannot fail (the connection is over either way: log what
/// went wrong). After it, the transport is dropped.
///
/// # Example
///
/// A transport over a pair of Tokio channels, and two sessions on it:
///
/// ```
/// use std::task::{Context, Poll};
///
/// use capnweb::transport::{CloseReason, Transport};
/// use capnweb::{Error, Session, SessionOptions, Stub, Value};
/// use bytes::Bytes;
/// use tokio::sync::mpsc;
///
/// struct Channels {
///     incoming: mpsc::Receiver<Bytes>,
///     outgoing: mpsc::Sender<Bytes>,
///     /// A permit to send, reserved by `poll_ready` (bounded channel: backpressure).
///     permit: Option<mpsc::OwnedPermit<Bytes>>,
///     reserving: Option<futures::future::BoxFuture<'static, Result<mpsc::OwnedPermit<Bytes>, mpsc::error::SendError<()>>>>,
/// }
///
/// fn gone() -> Error {
///     Error::disconnected("the other end of the channel was dropped")
/// }
///
/// impl Transport for Channels {
///     fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
///         // `None` once the other end is gone: a clean close.
///         self.incoming.poll_recv(cx).map(|message| message.map(Ok))
///     }
///
///     fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
///         if self.permit.is_some() {
///             return Poll::Ready(Ok(()));
///         }
///         let sender = self.outgoing.clone();
///         let reserving = self.reserving.get_or_insert_with(|| Box::pin(sender.reserve_owned()));
///         let reserved = std::task::ready!(reserving.as_mut().poll(cx));
///         self.reserving = None;
///         self.permit = Some(reserved.map_err(|_| gone())?);
///         Poll::Ready(Ok(()))
///     }
///
///     fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
///         let permit = self.permit.take().ok_or_else(|| {
///             Error::Transport(capnweb::TransportError::new("start_send without poll_ready"))
///         })?;
///         permit.send(message);
///         Ok(())
///     }
///
///     fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
///         Poll::Ready(Ok(())) // a channel sends as it goes
///     }
///
///     fn poll_close(&mut self, _cx: &mut Context<'_>, _reason: &CloseReason) -> Poll<()> {
///         self.incoming.close();
///         Poll::Ready(())
///     }
///     // `capabilities()` is left to its default: a lasting, unbatched session.
/// }
///
/// fn pair() -> (Channels, Channels) {
///     let (a_tx, a_rx) = mpsc::channel(16);
///     let (b_tx, b_rx) = mpsc::channel(16);
///     let end = |incoming, outgoing| Channels { incoming, outgoing, permit: None, reserving: None };
///     (end(a_rx, b_tx), end(b_rx, a_tx))
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
/// use std::future::Future as _;
/// let (a, b) = pair();
/// let double = Stub::from_fn(|args: Vec<Value>| async move {
///     Ok(Value::from(args[0].as_f64().unwrap_or(0.0) * 2.0))
/// });
/// let _server = Session::new(a, Some(double), SessionOptions::default());
/// let client = Session::new(b, None, SessionOptions::default());
/// let answer = client.main().call_self(vec![Value::from(21)]).await?;
/// assert_eq!(answer.as_f64(), Some(42.0));
/// # Ok(()) }
/// ```
pub trait Transport: Send + Unpin + 'static {
    /// The next message from the peer: `Ready(Some(Ok(message)))` with one whole message,
    /// `Ready(None)` once the peer closed cleanly, `Ready(Some(Err(_)))` if receiving failed
    /// (which ends the session: see the trait's docs for which kind to return), `Pending`
    /// until one of these.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>>;

    /// `Ready(Ok(()))` when [`start_send`](Transport::start_send) can take a message;
    /// `Pending` while the transport is full (backpressure: flush here if that makes room).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;

    /// Queues one whole message for sending, after `poll_ready` said there is room. It need
    /// not leave before [`poll_flush`](Transport::poll_flush).
    fn start_send(&mut self, message: Bytes) -> Result<(), Error>;

    /// Sends everything queued: `Ready(Ok(()))` once it has left (handed to the OS, the
    /// connection, the channel), `Pending` while it cannot yet.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;

    /// Closes the transport, saying why the session ended if the transport can (see the
    /// trait's docs). Failures are the transport's to log: the connection is over either way.
    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()>;

    /// What this transport can carry: asked once, when the session starts. The default is a
    /// lasting, unbatched session that carries streams and callbacks
    /// ([`Capabilities::lasting`]); HTTP batch's transports say otherwise.
    fn capabilities(&self) -> Capabilities {
        Capabilities::lasting()
    }
}
