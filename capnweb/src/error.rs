//! Errors: [`Error`], what a caller sees when a call, a property read or a session fails, and
//! its details. [`RpcError`], the protocol's error value (what a method fails with, and what a
//! peer's failure carries), is part of the data model, in [`value`](crate::value); it is
//! re-exported here, where it has always been found.

use std::fmt;
use std::sync::Arc;

pub use crate::value::RpcError;
use crate::wire::Limit;

impl From<Error> for RpcError {
    /// Lets a method forward a failed call's error with `?`: a remote error passes through as it
    /// was; anything else becomes an `Error` whose message says what happened.
    fn from(e: Error) -> RpcError {
        match e {
            Error::Remote(e) => *e,
            other => RpcError::error(other.to_string()),
        }
    }
}

/// [`Error::Transport`]'s detail: a message saying what failed (read it through `Deref`, as a
/// `str`), and the error that caused it, kept as its [`source`](std::error::Error::source).
///
/// ```
/// use std::error::Error as _;
///
/// let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let error = capnweb::Error::Transport(capnweb::TransportError::with_source(
///     "could not connect to 127.0.0.1:9",
///     refused,
/// ));
/// assert_eq!(error.to_string(), "transport failure: could not connect to 127.0.0.1:9");
/// assert_eq!(error.source().map(|e| e.to_string()).as_deref(), Some("refused"));
/// if let capnweb::Error::Transport(failure) = &error {
///     assert!(failure.starts_with("could not connect"));
/// }
/// ```
#[derive(Clone)]
pub struct TransportError {
    message: String,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl TransportError {
    /// A failure with no underlying error.
    pub fn new(message: impl Into<String>) -> TransportError {
        TransportError {
            message: message.into(),
            source: None,
        }
    }

    /// A failure caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> TransportError {
        TransportError {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same failure, said as part of a larger step: `"{step}: {message}"`.
    #[cfg(any(feature = "websocket", feature = "http-batch"))]
    pub(crate) fn within(mut self, step: impl fmt::Display) -> TransportError {
        self.message = format!("{step}: {}", self.message);
        self
    }
}

impl std::ops::Deref for TransportError {
    type Target = str;

    fn deref(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "transport failure: {}", self.message)
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("TransportError");
        debug.field("message", &self.message);
        if let Some(source) = &self.source {
            debug.field("source", &format_args!("{source}"));
        }
        debug.finish()
    }
}

/// Two failures are equal when they say the same (sources have no equality).
impl PartialEq for TransportError {
    fn eq(&self, other: &TransportError) -> bool {
        self.message == other.message
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<String> for TransportError {
    fn from(message: String) -> TransportError {
        TransportError::new(message)
    }
}

impl From<&str> for TransportError {
    fn from(message: &str) -> TransportError {
        TransportError::new(message)
    }
}

/// What a caller sees when a call, a property read or a session fails.
///
/// Each variant says what happened; its message says what to do about it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer's code failed the call: the error it threw or returned.
    #[error("the remote call failed: {0}")]
    Remote(Box<RpcError>),
    /// The session ended (the connection closed, it was shut down, or the peer aborted it), so
    /// the call cannot complete. Open a new session to go on.
    #[error("the RPC session is over: {reason}")]
    Disconnected {
        /// Why the session ended.
        reason: String,
        /// The peer's error, when it ended the session with an `abort` message.
        peer_error: Option<Box<RpcError>>,
    },
    /// The peer sent something the protocol does not allow; the session was aborted.
    #[error("protocol violation by the peer: {0}")]
    Protocol(ProtocolError),
    /// A message or the session went past one of its bounds ([`Limits`](crate::Limits), or a
    /// [`SessionOptions`](crate::SessionOptions) bound): which one, its value and the setting
    /// that raises it are in the [`LimitError`]. A session aborts on it; raise the limit if
    /// the traffic is legitimate.
    #[error("limit exceeded: {0}")]
    LimitExceeded(LimitError),
    /// The transport failed (connect, read or write): what failed, in words, and the error
    /// underneath (io, TLS, HTTP, WebSocket) as its [`source`](std::error::Error::source).
    #[error(transparent)]
    Transport(TransportError),
    /// No result arrived within the call's timeout ([`RpcPromise::timeout`](crate::RpcPromise::timeout),
    /// or the session's [`call_timeout`](crate::SessionOptions::call_timeout)). The result
    /// was released (if it comes, it is dropped); the session goes on.
    #[error("no result within {after:?}, the call's timeout; the result was released, and the session goes on")]
    TimedOut {
        /// The timeout that ran out.
        after: std::time::Duration,
    },
    /// A result arrived but does not decode into the type the caller expected.
    #[error("could not decode the result as {expected}: {message}")]
    Decode {
        /// The Rust type that was expected.
        expected: String,
        /// What did not fit.
        message: String,
    },
    /// A value could not be encoded for the wire.
    #[error("could not encode a value for the wire: {0}")]
    Encode(EncodeError),
    /// A call was made outside a Tokio runtime, which runs the session's work: make it from
    /// inside one (`#[tokio::main]`, or a runtime's `block_on`).
    #[error("capnweb needs a Tokio runtime to run calls: call it from inside one")]
    NoRuntime,
}

/// [`Error::LimitExceeded`]'s detail: which bound, its value, and what happened.
///
/// Shown, it names the setting that raises the bound; what a peer is told
/// ([`Error::to_rpc_error`]) speaks only of the protocol, since the peer cannot change our
/// settings.
///
/// ```
/// use capnweb::{Error, Limit, LimitError};
///
/// let e = LimitError::new(Limit::Depth, 64, "the value is nested deeper than the limit of 64 levels");
/// assert_eq!((e.limit(), e.max()), (Limit::Depth, 64));
/// assert_eq!(
///     e.to_string(),
///     "the value is nested deeper than the limit of 64 levels (Limits::max_depth)"
/// );
/// let peer = Error::LimitExceeded(e).to_rpc_error();
/// assert_eq!(peer.message, "the value is nested deeper than the limit of 64 levels");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    limit: Limit,
    max: u64,
    message: String,
}

impl LimitError {
    /// `limit`, whose value is `max` (in [`Limit::unit`]s), went past: `message` says how, in
    /// the protocol's terms (it is what a peer is told).
    pub fn new(limit: Limit, max: u64, message: impl Into<String>) -> LimitError {
        LimitError {
            limit,
            max,
            message: message.into(),
        }
    }

    /// Which bound.
    pub fn limit(&self) -> Limit {
        self.limit
    }

    /// Its value, in [`Limit::unit`]s.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// What happened, without the setting (what a peer is told).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The parser's report of an exceeded limit, if that is what `error` is.
    pub(crate) fn from_wire(error: &crate::wire::WireError) -> Option<LimitError> {
        let (limit, max) = error.limit()?;
        Some(LimitError::new(limit, max, error.message()))
    }
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match self.limit.setting() {
            Some(setting) => write!(f, " ({setting})"),
            None => Ok(()),
        }
    }
}

/// [`Error::Protocol`]'s detail: what the peer sent that the protocol does not allow, and
/// where, in the protocol's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    message: String,
}

impl ProtocolError {
    /// A violation described by `message`.
    pub fn new(message: impl Into<String>) -> ProtocolError {
        ProtocolError {
            message: message.into(),
        }
    }

    /// What was wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// [`Error::Encode`]'s detail: what could not be written for the wire, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    message: String,
}

impl EncodeError {
    /// A value that cannot be sent, for the reason `message` gives.
    pub fn new(message: impl Into<String>) -> EncodeError {
        EncodeError {
            message: message.into(),
        }
    }

    /// What could not be written, and why.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error {
    /// An [`Error::Protocol`] saying `message`.
    pub(crate) fn protocol(message: impl Into<String>) -> Error {
        Error::Protocol(ProtocolError::new(message))
    }

    /// An [`Error::Encode`] saying `message`.
    pub(crate) fn encode(message: impl Into<String>) -> Error {
        Error::Encode(EncodeError::new(message))
    }

    /// An [`Error::LimitExceeded`]: `limit`, of value `max`, went past as `message` says.
    pub(crate) fn limit(limit: Limit, max: impl TryInto<u64>, message: impl Into<String>) -> Error {
        let max = max.try_into().unwrap_or(u64::MAX);
        Error::LimitExceeded(LimitError::new(limit, max, message))
    }

    /// A [`Error::Decode`] for `expected`.
    pub fn decode(expected: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Decode {
            expected: expected.into(),
            message: message.into(),
        }
    }

    /// A [`Error::Disconnected`] with a reason and no peer error.
    pub fn disconnected(reason: impl Into<String>) -> Error {
        Error::Disconnected {
            reason: reason.into(),
            peer_error: None,
        }
    }

    /// The peer's error, for [`Error::Remote`].
    pub fn as_remote(&self) -> Option<&RpcError> {
        match self {
            Error::Remote(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the session is over (as opposed to this one call failing).
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected { .. })
    }

    /// Whether the call ran out of time ([`Error::TimedOut`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }

    /// The error as the protocol carries it, e.g. in an `abort` message or a rejection.
    pub fn to_rpc_error(&self) -> RpcError {
        match self {
            Error::Remote(e) => (**e).clone(),
            Error::Disconnected {
                peer_error: Some(e),
                ..
            } => (**e).clone(),
            Error::Protocol(e) => RpcError::type_error(e.message()),
            Error::LimitExceeded(e) => RpcError::type_error(e.message()),
            // The Rust type asked for means nothing to a peer; what did not fit does.
            Error::Decode { message, .. } => {
                RpcError::type_error(format!("the value does not fit: {message}"))
            }
            // As JavaScript's JSON.stringify throws for a value it cannot write.
            Error::Encode(_) => RpcError::type_error(self.to_string()),
            other => RpcError::error(other.to_string()),
        }
    }
}

/// A callback run when a session ends.
pub(crate) type BrokenCallback = Box<dyn FnOnce(&Error) + Send>;

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Error {
        Error::Remote(Box::new(e))
    }
}
