//! [`SessionOptions`]: limits, bounds and hooks, set per session.

use std::sync::Arc;
use std::time::Duration;

use super::Session;
use crate::context::RequestContext;
use crate::error::RpcError;
use crate::intercept::Interceptor;
use crate::wire::Limits;

type SendErrorHook = Arc<dyn Fn(&RpcError) -> Option<RpcError> + Send + Sync>;
type StartHook = Arc<dyn Fn(&Session) + Send + Sync>;
type MessageHook = Arc<dyn Fn(MessageDirection, &str) + Send + Sync>;

/// Which way a message went, for [`SessionOptions::on_message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageDirection {
    /// Handed to the transport, toward the peer.
    Sent,
    /// Received from the peer, before the session handles it.
    Received,
}

/// Per-session settings.
///
/// ```
/// use capnweb::{Limits, RpcError, SessionOptions};
///
/// let options = SessionOptions::default()
///     .limits(Limits::default().max_depth(64))
///     // Send stacks to the peer (they are redacted by default).
///     .on_send_error(|e: &RpcError| Some(e.clone()));
/// # let _ = options;
/// ```
#[derive(Clone)]
#[must_use]
pub struct SessionOptions {
    pub(crate) limits: Limits,
    pub(crate) on_send_error: Option<SendErrorHook>,
    pub(crate) on_start: Option<StartHook>,
    pub(crate) on_message: Option<MessageHook>,
    pub(crate) max_queued_bytes: usize,
    pub(crate) send_timeout: Duration,
    pub(crate) max_exports: usize,
    pub(crate) max_imports: usize,
    pub(crate) max_calls_in_flight: usize,
    pub(crate) max_stream_buffer_bytes: usize,
    pub(crate) interceptor: Option<Arc<dyn Interceptor>>,
    pub(crate) handler_timeout: Option<Duration>,
    pub(crate) call_timeout: Option<Duration>,
    /// The request a server opened the session for.
    pub(crate) context: Option<RequestContext>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            limits: Limits::default(),
            on_send_error: None,
            on_start: None,
            on_message: None,
            max_queued_bytes: 4 * 1024 * 1024,
            send_timeout: Duration::from_secs(30),
            max_exports: 100_000,
            max_imports: 100_000,
            max_calls_in_flight: 10_000,
            max_stream_buffer_bytes: crate::stream::DEFAULT_MAX_UNREAD_BYTES,
            interceptor: None,
            handler_timeout: None,
            call_timeout: None,
            context: None,
        }
    }
}

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("limits", &self.limits)
            .field("on_send_error", &self.on_send_error.is_some())
            .field("on_start", &self.on_start.is_some())
            .field("on_message", &self.on_message.is_some())
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("send_timeout", &self.send_timeout)
            .field("max_exports", &self.max_exports)
            .field("max_imports", &self.max_imports)
            .field("max_calls_in_flight", &self.max_calls_in_flight)
            .field("interceptor", &self.interceptor.is_some())
            .field("handler_timeout", &self.handler_timeout)
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

impl SessionOptions {
    /// The limits on every message, in both directions (defaults: the reference's). A message
    /// from the peer over a limit aborts the session; a result of ours over a limit fails its
    /// call with an error naming the limit, and is never sent.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Called for every error this session sends (a failed call, an abort). Return `Some` to
    /// send that error instead, *stack included*; return `None` to send the original with its
    /// stack removed (the default when no hook is set). Use it to log, redact or reveal.
    ///
    /// The hook runs while the session's tables are locked: it must not call into the session.
    pub fn on_send_error(
        mut self,
        hook: impl Fn(&RpcError) -> Option<RpcError> + Send + Sync + 'static,
    ) -> Self {
        self.on_send_error = Some(Arc::new(hook));
        self
    }

    /// Called with every session started with these options, as it starts: to keep a handle
    /// for metrics, logging or tests (a server's sessions are otherwise out of reach).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # let sessions: Arc<Mutex<Vec<capnweb::Session>>> = Arc::default();
    /// let seen = sessions.clone();
    /// let options = capnweb::SessionOptions::default()
    ///     .on_start(move |session| seen.lock().unwrap().push(session.clone()));
    /// # let _ = options;
    /// ```
    pub fn on_start(mut self, hook: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(hook));
        self
    }

    /// Called with the text of every whole message this session sends or receives, in the
    /// order they go: to trace the wire (a command-line client's `--raw`, a debugging log).
    /// A sent message is seen as it is handed to the transport, a received one before the
    /// session handles it. Without a hook this costs one check per message.
    ///
    /// The hook runs on the session's task: keep it short, and do not call into the session.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// use std::sync::{Arc, Mutex};
    /// use capnweb::{transport::memory, MessageDirection, Session, SessionOptions, Stub, Value};
    ///
    /// let wire: Arc<Mutex<Vec<String>>> = Arc::default();
    /// let log = wire.clone();
    /// let options = SessionOptions::default().on_message(move |direction, text| {
    ///     let arrow = if direction == MessageDirection::Sent { ">" } else { "<" };
    ///     log.lock().unwrap().push(format!("{arrow} {text}"));
    /// });
    ///
    /// let (a, b) = memory::pair();
    /// let echo = Stub::from_fn(|args: Vec<Value>| async move { Ok(args.into_iter().next().unwrap_or_default()) });
    /// let _server = Session::new(a, Some(echo), SessionOptions::default());
    /// let client = Session::new(b, None, options);
    /// assert_eq!(client.main().call_self(vec![Value::from(7)]).await?, Value::from(7));
    ///
    /// let wire = wire.lock().unwrap();
    /// assert_eq!(wire[0], r#"> ["push",["pipeline",0,[],[7]]]"#);
    /// assert!(wire.contains(&r#"< ["resolve",1,7]"#.to_string()));
    /// # Ok(()) }
    /// ```
    pub fn on_message(
        mut self,
        hook: impl Fn(MessageDirection, &str) + Send + Sync + 'static,
    ) -> Self {
        self.on_message = Some(Arc::new(hook));
        self
    }

    /// The most bytes of messages this session queues toward a peer that does not read them
    /// (default 4 MiB). At the bound the session stops reading from that peer until the queue
    /// drains (backpressure); one message larger than the bound is still sent whole.
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// How long the queue toward the peer may stay at [`max_queued_bytes`](Self::max_queued_bytes)
    /// before the session gives up on a peer that stopped reading and aborts (default 30 s).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
        self
    }

    /// The most capabilities the peer may hold from this session at once (each call's result
    /// and each stub sent counts until the peer releases it; default 100,000). Past it the
    /// session aborts: a peer that never releases cannot grow the table without bound.
    pub fn max_exports(mut self, max: usize) -> Self {
        self.max_exports = max;
        self
    }

    /// The most of the peer's capabilities this session holds at once (default 100,000). Past
    /// it the session aborts.
    pub fn max_imports(mut self, max: usize) -> Self {
        self.max_imports = max;
        self
    }

    /// The most calls from the peer that run at once (default 10,000). A call past it fails
    /// at once with a `RangeError` saying so; the session goes on.
    pub fn max_calls_in_flight(mut self, max: usize) -> Self {
        self.max_calls_in_flight = max;
        self
    }

    /// The most bytes a peer's writes may hold in one of this side's streams before the reader
    /// takes them (default 16 MiB). A writer that follows flow control stays far below it (it
    /// waits for each write's acknowledgement, which comes as the reader reads); past it the
    /// write fails and the stream is aborted, so a peer that ignores flow control cannot grow
    /// this side's memory without bound.
    pub fn max_stream_buffer_bytes(mut self, bytes: usize) -> Self {
        self.max_stream_buffer_bytes = bytes;
        self
    }

    /// A hook around every call the peer makes on this side's objects: to allow or deny it,
    /// and to observe its outcome and duration (see [`intercept`](crate::intercept)).
    pub fn interceptor(mut self, interceptor: impl Interceptor) -> Self {
        self.interceptor = Some(Arc::new(interceptor));
        self
    }

    /// How long one call from the peer may run on this side (default: no limit). A call
    /// still running after `timeout` is cancelled (its future dropped) and the peer receives
    /// an `Error` saying so, with `code: "DEADLINE_EXCEEDED"`.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = capnweb::SessionOptions::default().handler_timeout(Duration::from_secs(10));
    /// # let _ = options;
    /// ```
    pub fn handler_timeout(mut self, timeout: Duration) -> Self {
        self.handler_timeout = Some(timeout);
        self
    }

    /// How long this side waits for the result of a call it awaits (default: as long as it
    /// takes). Past it the await fails with [`Error::TimedOut`](crate::Error::TimedOut) and the
    /// result is released; the session goes on. A single call can set its own with
    /// [`RpcPromise::timeout`](crate::RpcPromise::timeout).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let options = capnweb::SessionOptions::default().call_timeout(Duration::from_secs(30));
    /// # let _ = options;
    /// ```
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = Some(timeout);
        self
    }
}
