//! The [`Transport`] trait: what a session needs from whatever carries its messages. It lives
//! with the session (which drives it); the transports themselves, in `crate::transport`,
//! implement it.

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

/// A bidirectional message transport, driven by one session.
///
/// The session polls [`poll_recv`](Transport::poll_recv) for incoming messages, and sends
/// each outgoing one with [`poll_ready`](Transport::poll_ready) then
/// [`start_send`](Transport::start_send), then [`poll_flush`](Transport::poll_flush) once
/// for all of them. A transport that cannot take more yet returns `Pending` from
/// `poll_ready`: that is backpressure, and the session stops reading from the peer once too
/// much is queued (see [`SessionOptions::max_queued_bytes`](crate::SessionOptions::max_queued_bytes)).
/// When the session ends it calls [`poll_close`](Transport::poll_close) until ready, then
/// keeps reading (and discarding) until `poll_recv` ends, for a short while, so that what it
/// sent last is not lost to a connection reset.
pub trait Transport: Send + Unpin + 'static {
    /// The next message; `None` once the peer closed the transport cleanly.
    ///
    /// An error ends the session, and every pending call rejects with that error as it is, so
    /// choose its kind: [`Error::Disconnected`] for a connection that broke, [`Error::Transport`]
    /// for a request that failed (HTTP batch), [`Error::Protocol`] for input the protocol
    /// forbids, [`Error::LimitExceeded`] for input over a limit.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>>;

    /// Ready when [`start_send`](Transport::start_send) can take a message.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;

    /// Queues one message for sending.
    fn start_send(&mut self, message: Bytes) -> Result<(), Error>;

    /// Sends everything queued.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;

    /// Closes the transport, saying why the session ended. Failures are the transport's to
    /// log: the connection is over either way.
    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()>;

    /// Whether this transport sends in batches (HTTP batch): then the session hands it
    /// messages as they are made but flushes only once the application awaits a result and
    /// has yielded once, so that every call made in the same "tick" travels in one batch.
    fn is_batched(&self) -> bool {
        false
    }
}
