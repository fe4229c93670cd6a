//! Transports: how whole messages travel between two sessions.
//!
//! A transport moves message texts and knows nothing of what they mean. The session drives it
//! from two tasks: one reads with [`MessageReceiver::recv`], the other writes with
//! [`MessageSender::send`], handing over every message queued at that moment at once so a
//! transport can put them into one write.
//!
//! Built in: [`memory`] (a connected pair, for tests and in-process use), [`websocket`] and
//! [`http_batch`].

use std::future::Future;

use crate::error::{Error, RpcError};

pub mod http_batch;
pub mod memory;
pub mod websocket;

/// A bidirectional message transport, split into its two halves by the session.
pub trait Transport: Send + 'static {
    /// Whether this transport sends in batches (HTTP batch): then awaiting a result asks the
    /// sender to [`flush`](MessageSender::flush) once the awaiting task has yielded, so that
    /// every call made in the same "tick" travels in one batch.
    const BATCHED: bool = false;
    /// The sending half.
    type Sender: MessageSender;
    /// The receiving half.
    type Receiver: MessageReceiver;
    /// Splits the transport so that reading and writing can proceed at once.
    fn split(self) -> (Self::Sender, Self::Receiver);
}

/// The sending half of a [`Transport`].
pub trait MessageSender: Send + 'static {
    /// Sends `messages` in order (several at once where the transport allows). An error ends
    /// the session.
    fn send(&mut self, messages: Vec<String>) -> impl Future<Output = Result<(), Error>> + Send;

    /// Sends what was buffered, for a batching transport. The default does nothing.
    fn flush(&mut self) -> impl Future<Output = Result<(), Error>> + Send {
        std::future::ready(Ok(()))
    }

    /// Closes the transport; `reason` is the error the session ended with, if it failed.
    fn close(&mut self, reason: Option<RpcError>) -> impl Future<Output = ()> + Send;
}

/// The receiving half of a [`Transport`].
pub trait MessageReceiver: Send + 'static {
    /// The next message; `None` once the peer closed the transport cleanly.
    ///
    /// An error ends the session, and every pending call rejects with that error as it is, so
    /// choose its kind: [`Error::Disconnected`] for a connection that broke, [`Error::Transport`]
    /// for a request that failed (HTTP batch), [`Error::Protocol`] for input the protocol
    /// forbids, [`Error::LimitExceeded`] for input over a limit.
    fn recv(&mut self) -> impl Future<Output = Option<Result<String, Error>>> + Send;
}
