//! [`Session`]: the public handle on a session, and what it reports ([`SessionStats`]).

use super::driver;
use super::outbox::Outbox;
use super::tables::ExportTable;
use super::tables::ImportTable;
use super::CloseReason;
use super::SessionCore;
use super::SessionOptions;
use super::State;
use super::Tables;
use super::Transport;
use crate::context::RequestContext;
use crate::error::BrokenCallback;
use crate::error::Error;
use crate::error::RpcError;
use crate::hook::scope::Served;
use crate::hook::Hook;
use crate::Stub;
use futures::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::Weak;
use tokio::sync::Notify;

/// A session's tables, queue and counters, as [`Session::stats`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Entries on the import table, the main import included.
    pub imports: usize,
    /// Entries on the export table, the main export included.
    pub exports: usize,
    /// Bytes of messages written and not yet handed to the transport: at most about
    /// [`SessionOptions::max_queued_bytes`] plus one message.
    pub queued_bytes: usize,
    /// Calls the peer made on this side's objects (methods, property reads, functions),
    /// since the session started.
    pub calls: u64,
    /// How many of those failed (an error returned or thrown, denied by an interceptor, out of
    /// time, a panic).
    pub errors: u64,
    /// Bytes of messages received from the peer.
    pub bytes_in: u64,
    /// Bytes of messages handed to the transport for the peer.
    pub bytes_out: u64,
}

impl SessionStats {
    /// Whether only the main objects remain on both tables (nothing leaked).
    pub fn only_main(&self) -> bool {
        self.imports == 1 && self.exports == 1
    }
}

/// One side of a Cap'n Web connection.
///
/// A session serves `local_main` to the peer (as its id 0) and gives access to the peer's main
/// object through [`Session::main`]. It runs until the transport closes, either side aborts,
/// or, for a session that serves nothing (`local_main` is `None`: a client), until nothing
/// from it is held any more: no stub or promise it produced and no `Session` handle.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use capnweb::{transport::memory, Session, SessionOptions, Stub, Value};
///
/// let (a, b) = memory::pair();
/// let square = Stub::from_fn(|args: Vec<Value>| async move {
///     let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
///     Ok(Value::from(x * x))
/// });
/// let server = Session::new(a, Some(square), SessionOptions::default());
/// let client = Session::new(b, None, SessionOptions::default());
/// assert_eq!(client.main().call_self(vec![Value::from(3)]).await.unwrap(), Value::from(9));
/// assert_eq!(server.stats().exports, 1);
/// # }
/// ```
#[derive(Clone)]
pub struct Session {
    handle: Arc<Handle>,
}

/// Counts as something held from the session while a [`Session`] clone exists.
struct Handle {
    core: Arc<SessionCore>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.core.entry_dropped();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("stats", &self.stats())
            .finish()
    }
}

impl Session {
    /// Starts a session on `transport`, serving `local_main` (if any) to the peer.
    ///
    /// Must be called inside a Tokio runtime (with timers enabled, as `#[tokio::main]` has):
    /// the session runs as one task that drives the transport.
    pub fn new<T: Transport>(
        transport: T,
        local_main: Option<Stub>,
        options: SessionOptions,
    ) -> Session {
        let auto_close = local_main.is_none();
        let main_hook = match local_main {
            Some(stub) => stub.into_hook(),
            None => Hook::Error(Error::from(RpcError::error(
                "this connection has no main object: the other side serves nothing",
            ))),
        };
        let caps = transport.capabilities();
        let span = session_span(options.context.as_ref());
        let served = Arc::new(Served::new(
            options.interceptor.clone(),
            options.context.clone(),
            options.handler_timeout,
            span.clone(),
        ));
        let core = Arc::new_cyclic(|weak: &Weak<SessionCore>| {
            let weak = weak.clone();
            let flush = caps.is_batched().then(|| {
                Arc::new(move || {
                    if let Some(core) = weak.upgrade() {
                        core.request_flush();
                    }
                }) as Arc<dyn Fn() + Send + Sync>
            });
            SessionCore {
                state: Mutex::new(State {
                    tables: Tables {
                        exports: ExportTable::new(main_hook, options.max_exports),
                        imports: ImportTable::new(options.max_imports),
                        pulls_in_flight: 0,
                        ready: VecDeque::new(),
                        graveyard: Vec::new(),
                        calls_in_flight: 0,
                    },
                    outbox: Outbox::default(),
                    ended: None,
                    close_reason: CloseReason::Normal,
                    on_broken: Vec::new(),
                    stats_at_close: None,
                    handling_message: false,
                    closing: None,
                    spare_deferred: Vec::new(),
                }),
                deferred: Mutex::new(Vec::new()),
                has_deferred: AtomicBool::new(false),
                options,
                driver: AtomicWaker::new(),
                queued: AtomicUsize::new(0),
                in_transit: AtomicUsize::new(0),
                ended: Notify::new(),
                drained: Notify::new(),
                flush,
                caps,
                served,
                bytes_in: AtomicU64::new(0),
                bytes_out: AtomicU64::new(0),
                main: Mutex::new(Weak::new()),
                auto_close,
                live: AtomicUsize::new(0),
            }
        });
        core.entry_created();
        tracing::debug!(parent: &span, "session started");
        tokio::spawn(tracing::Instrument::instrument(
            driver::Driver::new(Arc::clone(&core), transport),
            span,
        ));
        let session = Session {
            handle: Arc::new(Handle { core }),
        };
        if let Some(on_start) = session.core().options.on_start.clone() {
            on_start(&session);
        }
        session
    }

    fn core(&self) -> &Arc<SessionCore> {
        &self.handle.core
    }

    /// The peer's main object.
    pub fn main(&self) -> Stub {
        Stub::from_hook(self.core().main_hook())
    }

    /// The peer's main object as a typed stub (or [`Stub`]).
    pub fn main_as<T: crate::stub::FromStub>(&self) -> T {
        T::from_stub(self.main())
    }

    /// Current table sizes, queued bytes and counters. After every call has settled and every
    /// stub from the peer was dropped, both table counts are 1: the main objects.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{transport::memory, Session, SessionOptions, Stub, Value};
    ///
    /// let (a, b) = memory::pair();
    /// let one = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) });
    /// let server = Session::new(a, Some(one), SessionOptions::default());
    /// let client = Session::new(b, None, SessionOptions::default());
    /// client.main().call_self(vec![]).await.unwrap();
    /// let stats = server.stats();
    /// assert_eq!((stats.calls, stats.errors), (1, 0));
    /// assert!(stats.bytes_in > 0 && stats.bytes_out > 0);
    /// # }
    /// ```
    pub fn stats(&self) -> SessionStats {
        let core = self.core();
        let mut stats = core.with_state(|st| st.stats());
        stats.queued_bytes += core.in_transit.load(Ordering::Relaxed);
        core.add_counters(&mut stats);
        stats
    }

    /// The request a server opened this session for (its headers, path, the client's
    /// address); `None` for a session you started yourself.
    pub fn request_context(&self) -> Option<&RequestContext> {
        self.core().options.context.as_ref()
    }

    /// The stats as they were just before the session ended (`None` while it runs). Both
    /// table counts are 1 for a session that leaked nothing: only the main objects remained.
    pub fn stats_at_close(&self) -> Option<SessionStats> {
        let core = self.core();
        let mut stats = core.with_state(|st| st.stats_at_close)?;
        core.add_counters(&mut stats);
        Some(stats)
    }

    /// Waits until every result the peer pulled has been sent.
    pub async fn drain(&self) -> Result<(), Error> {
        let core = self.core();
        loop {
            let notified = core.drained.notified();
            let done = core.with_state(|st| match &st.ended {
                Some(e) => Err(e.clone()),
                None => Ok(st.tables.pulls_in_flight == 0),
            })?;
            if done {
                return Ok(());
            }
            notified.await;
        }
    }

    /// Ends the session with `error`, telling the peer (an `abort` message) first.
    pub fn abort(&self, error: RpcError) {
        let reason = format!("the session was aborted locally: {error}");
        self.core().end(
            Error::Disconnected {
                reason,
                peer_error: Some(Box::new(error)),
            },
            true,
        );
    }

    /// Closes the session gracefully: from now on no new calls are made or taken (both sides'
    /// fail at once, saying the session is closing), the calls in flight settle (ours get
    /// their results, the peer's are answered), then the session ends cleanly. Returns when it
    /// has ended. Unlike [`abort`](Session::abort), nothing in flight is lost; bound it with a
    /// timeout (`tokio::time::timeout`) if a call might never settle.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{transport::memory, Session, SessionOptions, Stub, Value};
    ///
    /// let (a, b) = memory::pair();
    /// let one = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) });
    /// let _server = Session::new(a, Some(one), SessionOptions::default());
    /// let client = Session::new(b, None, SessionOptions::default());
    /// let main = client.main();
    /// let (answer, ()) = tokio::join!(main.call_self(vec![]), client.close());
    /// assert_eq!(answer.unwrap(), Value::from(1)); // the call in flight settled first
    /// assert!(main.call_self(vec![]).await.is_err()); // nothing new after
    /// # }
    /// ```
    pub async fn close(&self) {
        self.core().close(CloseReason::Normal).await;
    }

    /// [`close`](Session::close) for a server that shuts down: the transport closes saying so
    /// (a WebSocket's code 1001, "going away", with `why`).
    #[cfg(all(
        feature = "server",
        any(feature = "websocket", feature = "webtransport")
    ))]
    pub(crate) async fn shut_down(&self, why: &str) {
        self.core()
            .close(CloseReason::GoingAway(why.to_owned()))
            .await;
    }

    /// Ends the session because the server is shutting down: the transport closes saying so
    /// (a WebSocket's code 1001, "going away"), and pending calls fail with `why`.
    #[cfg(all(
        feature = "server",
        any(feature = "websocket", feature = "webtransport")
    ))]
    pub(crate) fn go_away(&self, why: &str) {
        let error = Error::disconnected(why.to_owned());
        self.core()
            .end_with(error, false, Some(CloseReason::GoingAway(why.to_owned())));
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.core().with_state(|st| st.ended.is_some())
    }

    /// Waits until the session ends; returns why.
    pub async fn closed(&self) -> Error {
        self.core().closed().await
    }

    /// Runs `callback` when the session ends (at once if it has already).
    pub fn on_broken(&self, callback: impl FnOnce(&Error) + Send + 'static) {
        let callback: BrokenCallback = Box::new(callback);
        let ended = self.core().with_state(|st| match &st.ended {
            Some(e) => Some((e.clone(), callback)),
            None => {
                st.on_broken.push(callback);
                None
            }
        });
        if let Some((error, callback)) = ended {
            callback(&error);
        }
    }
}

/// The span a session's work runs in: for a session a server opened, its transport, the
/// client's address and the path. Any other session (a client's, or one on a transport of
/// your own) has no request to describe it, nor a side to name: either end may serve calls.
fn session_span(context: Option<&RequestContext>) -> tracing::Span {
    let Some(context) = context else {
        return tracing::info_span!("session");
    };
    let span = tracing::info_span!(
        "session",
        role = "server",
        transport = context.transport().as_str(),
        path = context.path(),
        peer = tracing::field::Empty,
    );
    if let Some(peer) = context.peer_addr() {
        span.record("peer", tracing::field::display(peer));
    }
    span
}
