//! The session: one side of a Cap'n Web connection, as a state machine over a transport.
//!
//! Incoming messages update the tables and reach hooks; operations on imports become outgoing
//! messages, serialized at once into the [`Outbox`]. One task per session, the
//! [`driver`](driver::Driver), moves messages between the outbox and the transport and hands
//! incoming ones to the session; the session itself never knows which transport it runs on.
//!
//! Locking: all table state sits behind one mutex, and nothing that can run user code or drop
//! a capability happens while it is held. Work that arises where the lock cannot be taken
//! (an import's last reference dropped while the lock is held, a local promise settling) is
//! queued as [`Deferred`] and applied, in order, by whoever holds or next takes the lock.

mod driver;
mod exporter;
mod import;
mod incoming;
mod options;
mod outbox;
mod tables;
mod transport;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures::task::AtomicWaker;
use tokio::sync::Notify;

pub use options::{MessageDirection, SessionOptions};
pub use transport::{CloseReason, Transport};

use crate::context::RequestContext;
use crate::encode::{Exporter, Reference};
use crate::error::{BrokenCallback, Error, RpcError};
use crate::hook::scope::Served;
use crate::hook::{Hook, LocalPromise, PreparedStream, RemoteRef};
use crate::value::Value;
use crate::wire::{Expr, PathKey};
use crate::Stub;
use exporter::SessionExporter;
use import::ImportEntry;
use outbox::{Batch, Outbox};
use tables::{ExportTable, ImportTable};

/// The exporter of a message encoded ahead of time, away from the session's tables: it exports
/// nothing (such a message holds no stub, promise or stream).
struct NothingToExport;

impl Exporter for NothingToExport {
    fn stub(&mut self, _hook: &Hook) -> Result<Reference, Error> {
        Err(Error::Encode(
            "a message encoded ahead of time cannot hold a stub".into(),
        ))
    }

    fn promise(&mut self, _hook: &Hook, _path: &[PathKey]) -> Result<Reference, Error> {
        Err(Error::Encode(
            "a message encoded ahead of time cannot hold a promise".into(),
        ))
    }
}

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

/// Work queued where the session lock could not be taken (see the module docs).
enum Deferred {
    /// An import's last reference is gone: release it with this count.
    Release { id: i64, count: u64, entry: usize },
    /// What export `id` resolves to is known (or known to be another promise).
    Resolution { id: i64, hook: Hook },
    /// An incoming call finished.
    CallFinished,
    /// Nothing from a client session is held any more.
    Shutdown,
}

/// The result an export resolves to, ready to send.
type Outcome = Result<Arc<Value>, Error>;

pub(crate) struct SessionCore {
    state: Mutex<State>,
    deferred: Mutex<Vec<Deferred>>,
    /// Whether `deferred` may hold work: checked without its lock on every unlock.
    has_deferred: AtomicBool,
    options: SessionOptions,
    /// Wakes the driver: messages to send, a flush asked for, or the end.
    driver: AtomicWaker,
    /// Bytes in the outbox, readable without the lock (the driver's backpressure check).
    queued: AtomicUsize,
    /// Bytes the driver took from the outbox and has not handed to the transport yet.
    in_transit: AtomicUsize,
    /// Wakes whoever waits in `closed()`.
    ended: Notify,
    /// Wakes `drain()` and `close()` when calls settle.
    drained: Notify,
    /// For batching transports: asks the driver to send what is queued.
    flush: Option<Arc<dyn Fn() + Send + Sync>>,
    batched: bool,
    /// How the peer's calls are served, and their counts.
    served: Arc<Served>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    /// The peer's main object, created on first use.
    main: Mutex<Weak<ImportEntry>>,
    /// A client session ends when nothing from it is held: its imports and `Session`
    /// handles, counted here.
    auto_close: bool,
    live: AtomicUsize,
}

pub(super) struct State {
    tables: Tables,
    outbox: Outbox,
    ended: Option<Error>,
    /// What the transport closes with.
    close_reason: CloseReason,
    /// Callbacks for the session ending, registered on the session itself.
    on_broken: Vec<BrokenCallback>,
    /// The counts just before the session ended.
    stats_at_close: Option<SessionStats>,
    /// The driver is handling a message: ready resolutions wait until it is done.
    handling_message: bool,
    /// `close()` was called: no new calls either way, and once the calls in flight settle the
    /// session ends, its transport closing with this reason.
    closing: Option<CloseReason>,
    /// An empty buffer for the deferred queue to swap with.
    spare_deferred: Vec<Deferred>,
}

/// What the exporter works on: everything but the outbox, which it writes beside.
pub(super) struct Tables {
    exports: ExportTable,
    imports: ImportTable,
    /// Resolutions started and not yet sent.
    pulls_in_flight: usize,
    /// Resolutions whose outcome is at hand, to send in the order they were started.
    ready: VecDeque<(i64, Outcome)>,
    /// Hooks removed from the tables, dropped once the lock is released.
    graveyard: Vec<Hook>,
    /// Calls from the peer still running here.
    calls_in_flight: usize,
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
        let batched = transport.is_batched();
        let span = session_span(options.context.as_ref());
        let served = Arc::new(Served::new(
            options.interceptor.clone(),
            options.context.clone(),
            options.handler_timeout,
            span.clone(),
        ));
        let core = Arc::new_cyclic(|weak: &Weak<SessionCore>| {
            let weak = weak.clone();
            let flush = batched.then(|| {
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
                batched,
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
    #[cfg(all(feature = "server", feature = "websocket"))]
    pub(crate) async fn shut_down(&self, why: &str) {
        self.core()
            .close(CloseReason::GoingAway(why.to_owned()))
            .await;
    }

    /// Ends the session because the server is shutting down: the transport closes saying so
    /// (a WebSocket's code 1001, "going away"), and pending calls fail with `why`.
    #[cfg(all(feature = "server", feature = "websocket"))]
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

/// The event for a session's end: a warning when the peer broke the protocol or a limit (an
/// operator may need to act), less for the rest.
fn log_end(error: &Error, aborted_here: bool) {
    match error {
        Error::Protocol(_) => {
            tracing::warn!(error = %error, "session aborted: the peer broke the protocol")
        }
        Error::LimitExceeded(_) => {
            tracing::warn!(error = %error, "session aborted: a limit was exceeded")
        }
        Error::Disconnected {
            peer_error: Some(_),
            ..
        } if !aborted_here => tracing::info!(error = %error, "session aborted by the peer"),
        Error::Disconnected { .. } if !aborted_here => {
            tracing::debug!(reason = %error, "session ended")
        }
        _ => tracing::info!(error = %error, "session aborted"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state consistent before it could panic, so a poisoned
    // lock is still safe to use.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Tables {
    /// Disposes of a hook removed from the tables: at once if dropping it cannot run user
    /// code or reach a session (plain data), else after the lock is released.
    fn bury(&mut self, hook: Hook) {
        if !hook.is_inert() {
            self.graveyard.push(hook);
        }
    }
}

impl State {
    /// Why a new call cannot be made now, if it cannot.
    fn refuse_new_call(&self) -> Option<Hook> {
        if let Some(e) = &self.ended {
            return Some(Hook::Error(e.clone()));
        }
        self.closing.as_ref().map(|_| {
            Hook::Error(Error::disconnected(
                "the session is closing: it makes no new calls (open a new session)",
            ))
        })
    }

    /// Whether no call is in flight either way: nothing we pulled waits for the peer, nothing
    /// the peer called runs here or waits to be sent.
    fn quiet(&self) -> bool {
        self.tables.pulls_in_flight == 0
            && self.tables.calls_in_flight == 0
            && !self.tables.imports.any_awaited()
    }

    fn stats(&self) -> SessionStats {
        SessionStats {
            imports: self.tables.imports.len(),
            exports: self.tables.exports.len(),
            queued_bytes: self.outbox.queued_bytes(),
            calls: 0,
            errors: 0,
            bytes_in: 0,
            bytes_out: 0,
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

impl SessionCore {
    /// Adds the session's counters to `stats`.
    fn add_counters(&self, stats: &mut SessionStats) {
        (stats.calls, stats.errors) = self.served.counts();
        stats.bytes_in = self.bytes_in.load(Ordering::Relaxed);
        stats.bytes_out = self.bytes_out.load(Ordering::Relaxed);
    }

    /// Counts bytes the driver received from the transport.
    pub(super) fn count_received(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts bytes the driver handed to the transport.
    pub(super) fn count_sent(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Shows `message` to the `on_message` hook, if there is one.
    pub(super) fn observe(&self, direction: options::MessageDirection, message: &[u8]) {
        if let Some(hook) = &self.options.on_message {
            hook(direction, &String::from_utf8_lossy(message));
        }
    }

    /// The scope the peer's calls in one message run under (see [`crate::hook::scope`]).
    pub(super) fn scope(&self, call_id: Option<i64>) -> crate::hook::scope::Scope {
        crate::hook::scope::Scope {
            served: Arc::clone(&self.served),
            call_id,
        }
    }

    /// Identifies this session (to tell its own imports from other sessions').
    pub(super) fn key(&self) -> usize {
        self as *const SessionCore as usize
    }

    /// Runs `f` with the state locked, then applies deferred work, sends what became ready,
    /// wakes the driver if there is something for it, and drops what was removed.
    fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = lock(&self.state);
        let result = f(&mut st);
        self.settle(st);
        result
    }

    /// See [`SessionCore::with_state`]: everything owed once a critical section is done.
    fn settle<'a>(self: &'a Arc<Self>, mut st: MutexGuard<'a, State>) {
        loop {
            let shutdown = self.apply_deferred(&mut st);
            if !st.handling_message {
                self.send_ready(&mut st);
            }
            let graveyard = if st.tables.graveyard.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut st.tables.graveyard)
            };
            self.queued
                .store(st.outbox.queued_bytes(), Ordering::Relaxed);
            let wake = !st.outbox.notified
                && !st.outbox.is_empty()
                && (!self.batched || st.outbox.flush_requested);
            if wake {
                st.outbox.notified = true;
            }
            drop(st);
            if wake {
                self.driver.wake();
            }
            drop(graveyard);
            if shutdown {
                let why = "the session was closed: nothing from it is held any more";
                self.end(Error::disconnected(why), false);
            }
            if !self.has_deferred.load(Ordering::Acquire) {
                return;
            }
            st = lock(&self.state);
        }
    }

    /// Queues `work`, and applies it now if the lock is free (see the module docs).
    fn defer(self: &Arc<Self>, work: Deferred) {
        lock(&self.deferred).push(work);
        self.has_deferred.store(true, Ordering::Release);
        let acquired = match self.state.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        if let Some(st) = acquired {
            self.settle(st);
        }
    }

    /// Applies queued work in order; returns whether a shutdown was queued.
    fn apply_deferred(self: &Arc<Self>, st: &mut State) -> bool {
        if !self.has_deferred.load(Ordering::Acquire) {
            return false;
        }
        // The queue and a spare of the state's swap, so neither gives up its buffer.
        let mut deferred = std::mem::take(&mut st.spare_deferred);
        {
            let mut queue = lock(&self.deferred);
            // Cleared under the queue's lock: a push after this sets it again.
            self.has_deferred.store(false, Ordering::Release);
            std::mem::swap(&mut *queue, &mut deferred);
        }
        let mut shutdown = false;
        for work in deferred.drain(..) {
            match work {
                Deferred::Release { id, count, entry } => {
                    st.tables.imports.remove_if(id, entry);
                    self.drained.notify_waiters();
                    if count > 0 && st.ended.is_none() {
                        st.outbox.release(id, count);
                    }
                }
                Deferred::Resolution { id, hook } => {
                    if st.ended.is_none() {
                        self.await_resolution(&mut st.tables, id, hook);
                    }
                }
                Deferred::CallFinished => {
                    st.tables.calls_in_flight = st.tables.calls_in_flight.saturating_sub(1);
                    self.drained.notify_waiters();
                }
                Deferred::Shutdown => shutdown = st.ended.is_none(),
            }
        }
        st.spare_deferred = deferred;
        shutdown
    }

    /// A new import entry or `Session` handle exists.
    fn entry_created(&self) {
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    /// An import entry or `Session` handle is gone; a client session with none left ends.
    fn entry_dropped(self: &Arc<Self>) {
        if self.live.fetch_sub(1, Ordering::AcqRel) == 1 && self.auto_close {
            self.defer(Deferred::Shutdown);
        }
    }

    /// Called from `ImportEntry::drop`.
    fn import_dropped(self: &Arc<Self>, id: i64, count: u64, entry: usize) {
        if id != 0 {
            self.defer(Deferred::Release { id, count, entry });
        }
        self.entry_dropped();
    }

    fn main_hook(self: &Arc<Self>) -> Hook {
        let mut main = lock(&self.main);
        let entry = match main.upgrade() {
            Some(entry) => entry,
            None => {
                let entry = Arc::new(ImportEntry::new(Arc::clone(self), 0, false));
                *main = Arc::downgrade(&entry);
                entry
            }
        };
        drop(main);
        if let Some(e) = self.with_state(|st| st.ended.clone()) {
            return Hook::Error(e);
        }
        entry.hook(false)
    }

    /// Sends a call (or, without `args`, a property read) on import `id`; returns the promise.
    fn send_call(self: &Arc<Self>, id: i64, path: &[PathKey], args: Option<Vec<Value>>) -> Hook {
        let hook = self.with_state(|st| {
            if let Some(refused) = st.refuse_new_call() {
                return refused;
            }
            let State { tables, outbox, .. } = st;
            let mut exporter = SessionExporter::new(self, tables);
            let limits = &self.options.limits;
            match outbox.push_call(&mut exporter, limits, id, path, args.as_deref()) {
                Ok(()) => {
                    exporter.commit(outbox);
                    self.new_promise_import(&mut st.tables)
                }
                Err(e) => {
                    exporter.undo();
                    Hook::Error(e)
                }
            }
        });
        drop(args);
        hook
    }

    /// Sends a call on writable stream `id` as a `stream` message; returns the promise of its
    /// settling (already pulled, never released by us: its settling releases it) and the
    /// message's size.
    ///
    /// `prepared` is the message as [`prepare_stream`](Self::prepare_stream) encoded it ahead
    /// of time, sent as it is; without it (or if it was made for another import) the message
    /// is encoded now.
    fn send_stream(
        self: &Arc<Self>,
        id: i64,
        path: &[PathKey],
        args: Vec<Value>,
        prepared: Option<PreparedStream>,
    ) -> (Hook, Option<usize>) {
        if self.batched || !self.options.peer_answers {
            return (Hook::Error(crate::stream::needs_persistent_session()), None);
        }
        let prepared = prepared.filter(|p| p.import == id && p.session == self.key());
        let sent = self.with_state(|st| {
            if let Some(refused) = st.refuse_new_call() {
                return (refused, None);
            }
            if let Some(prepared) = prepared {
                let size = prepared.text.len();
                st.outbox.push_encoded(prepared.text);
                return (self.new_stream_import(&mut st.tables), Some(size));
            }
            let State { tables, outbox, .. } = st;
            let mut exporter = SessionExporter::new(self, tables);
            let limits = &self.options.limits;
            match outbox.stream_call(&mut exporter, limits, id, path, &args) {
                Ok(()) => {
                    let size = outbox.last_size();
                    exporter.commit(outbox);
                    (self.new_stream_import(&mut st.tables), Some(size))
                }
                Err(e) => {
                    exporter.undo();
                    (Hook::Error(e), None)
                }
            }
        });
        drop(args);
        sent
    }

    /// The import a `stream` message takes: the promise of its settling, already pulled, and
    /// released by its settling (no `release` is sent for it).
    fn new_stream_import(self: &Arc<Self>, tables: &mut Tables) -> Hook {
        let id = tables.imports.allocate_positive();
        let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, true));
        entry.lock().remote_refcount = 0;
        tables.imports.insert(id, Arc::downgrade(&entry));
        entry.hook(true)
    }

    /// The `stream` message [`send_stream`](Self::send_stream) would send, encoded now, for a
    /// chunk of bytes or a string (what large streams carry). Anything else may hold a stub,
    /// a stream or an error, which are written with the session's tables and hooks at hand,
    /// so it is encoded when sent.
    fn prepare_stream(
        self: &Arc<Self>,
        id: i64,
        path: &[PathKey],
        args: &[Value],
    ) -> Option<PreparedStream> {
        if self.batched || !self.options.peer_answers {
            return None;
        }
        if !matches!(args, [Value::Bytes(_) | Value::String(_)]) {
            return None;
        }
        let mut text = String::new();
        let limits = &self.options.limits;
        // Over a limit: encoded again when sent, which reports it.
        outbox::write_stream_call(&mut text, &mut NothingToExport, limits, id, path, args).ok()?;
        Some(PreparedStream {
            text,
            import: id,
            session: self.key(),
        })
    }

    /// Sends a `.map()` on import `id`; returns the promise for its result.
    fn send_map(
        self: &Arc<Self>,
        id: i64,
        path: &[PathKey],
        captures: Vec<Hook>,
        instructions: Vec<Expr>,
    ) -> Hook {
        let hook = self.with_state(|st| {
            if let Some(refused) = st.refuse_new_call() {
                return refused;
            }
            let State { tables, outbox, .. } = st;
            let mut exporter = SessionExporter::new(self, tables);
            let captured: Result<Vec<_>, _> =
                captures.iter().map(|hook| exporter.capture(hook)).collect();
            let written = captured.and_then(|captured| {
                let limits = &self.options.limits;
                outbox.push_remap(&mut exporter, limits, id, path, &captured, &instructions)
            });
            match written {
                Ok(()) => {
                    drop(exporter);
                    self.new_promise_import(&mut st.tables)
                }
                Err(e) => {
                    exporter.undo();
                    Hook::Error(e)
                }
            }
        });
        drop(captures);
        hook
    }

    /// The import for the result of the push just written.
    fn new_promise_import(self: &Arc<Self>, tables: &mut Tables) -> Hook {
        let id = tables.imports.allocate_positive();
        let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, false));
        tables.imports.insert(id, Arc::downgrade(&entry));
        entry.hook(true)
    }

    /// Sends `pull` for a promise import, once.
    fn send_pull(self: &Arc<Self>, entry: &ImportEntry) {
        if !self.options.peer_answers {
            let why = "the HTTP batch client cannot answer a call while its batch runs: it \
                       reads nothing before the batch's answer, so a call into it (a callback) \
                       cannot be awaited in the same batch";
            entry.settle(Hook::Error(Error::from(RpcError::error(why))));
            return;
        }
        self.with_state(|st| {
            let mut state = entry.lock();
            if state.resolution.is_none() && !state.pulled {
                state.pulled = true;
                if st.ended.is_none() {
                    st.outbox.pull(entry.id);
                }
            }
        });
    }

    /// For a batching transport: send what is queued (the awaiting task has yielded once).
    fn request_flush(self: &Arc<Self>) {
        self.with_state(|st| st.outbox.flush_requested = true);
    }

    /// Starts sending the resolution of export `id` (after a pull, or for a promise export).
    fn start_resolving(self: &Arc<Self>, tables: &mut Tables, id: i64) -> Result<(), Error> {
        let entry = tables.exports.get_mut(id).ok_or_else(|| {
            Error::Protocol(format!(
                "the peer pulled export {id}, which is not on the export table"
            ))
        })?;
        if entry.resolving {
            return Ok(());
        }
        entry.resolving = true;
        let hook = entry.hook.clone();
        tables.pulls_in_flight += 1;
        self.await_resolution(tables, id, hook);
        Ok(())
    }

    /// Arranges for export `id`'s resolution to be sent once `hook` has one: at once (after the
    /// message being handled) for a value at hand, when it settles for a promise.
    fn await_resolution(self: &Arc<Self>, tables: &mut Tables, id: i64, hook: Hook) {
        let stub = |hook: Hook| Ok(Arc::new(Value::Stub(Stub::from_hook(hook))));
        match hook {
            Hook::Payload(value) => tables.ready.push_back((id, Ok(value))),
            Hook::Error(e) => tables.ready.push_back((id, Err(e))),
            Hook::Target(_) | Hook::Stream(_) | Hook::Remote(RemoteRef { promise: false, .. }) => {
                tables.ready.push_back((id, stub(hook)));
            }
            Hook::Placeholder(_) => {
                tables
                    .ready
                    .push_back((id, Err(crate::hook::placeholder_misuse())));
            }
            Hook::Promise(promise) => match promise.resolution() {
                Some(resolution) => crate::stack::guarded(|| {
                    self.await_resolution(tables, id, resolution);
                }),
                None => {
                    let core = Arc::downgrade(self);
                    promise.when_settled(Box::new(move |resolution: &Hook| {
                        if let Some(core) = core.upgrade() {
                            let hook = resolution.clone();
                            core.defer(Deferred::Resolution { id, hook });
                        }
                    }));
                }
            },
            Hook::Remote(_) => {
                // A promise on some session (this one or another): waiting for it means
                // pulling it, which is a task's work.
                let core = Arc::downgrade(self);
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    tables.ready.push_back((id, Err(no_runtime())));
                    return;
                };
                drop(runtime.spawn(async move {
                    let outcome = hook.pull().await;
                    drop(hook);
                    if let Some(core) = core.upgrade() {
                        let hook = Hook::from_result(outcome);
                        core.defer(Deferred::Resolution { id, hook });
                    }
                }));
            }
        }
    }

    /// Sends the resolutions that were ready, in the order they were started (as the
    /// reference does: after the message being handled, before anything later).
    fn send_ready(self: &Arc<Self>, st: &mut State) {
        while let Some((id, outcome)) = st.tables.ready.pop_front() {
            self.send_resolution(st, id, &outcome);
            if let Ok(value) = outcome {
                st.tables.bury(Hook::Payload(value));
            }
        }
    }

    fn send_resolution(self: &Arc<Self>, st: &mut State, id: i64, outcome: &Outcome) {
        st.tables.pulls_in_flight -= 1;
        if st.tables.pulls_in_flight == 0 {
            self.drained.notify_waiters();
        }
        if st.ended.is_some() {
            return;
        }
        // Released meanwhile (or undone): nobody is waiting for it any more.
        let Some(auto_release) = st.tables.exports.get(id).map(|e| e.auto_release) else {
            return;
        };
        let limits = &self.options.limits;
        let State { tables, outbox, .. } = st;
        let mut exporter = SessionExporter::new(self, tables);
        let sent = match outcome {
            Ok(value) => outbox.resolve(&mut exporter, limits, id, value),
            Err(e) => outbox.reject(&mut exporter, limits, Some(id), &e.to_rpc_error()),
        };
        match sent {
            Ok(()) => exporter.commit(outbox),
            Err(e) => {
                // Over a limit, or not encodable: the caller learns why instead.
                exporter.undo();
                let mut exporter = SessionExporter::new(self, tables);
                if outbox
                    .reject(&mut exporter, limits, Some(id), &e.to_rpc_error())
                    .is_err()
                {
                    exporter.undo();
                    let fallback = RpcError::error("the result could not be sent");
                    let mut exporter = SessionExporter::new(self, tables);
                    let _ = outbox.reject(&mut exporter, limits, Some(id), &fallback);
                }
            }
        }
        if auto_release {
            if let Ok(Some(hook)) = st.tables.exports.release(id, 1) {
                st.tables.bury(hook);
            }
        }
    }

    /// Delivers a resolution or rejection to import `id`, then releases it.
    fn settle_import(self: &Arc<Self>, id: i64, resolution: Hook) {
        let entry = self.with_state(|st| {
            let entry = st.tables.imports.get(id).and_then(Weak::upgrade)?;
            let count = std::mem::take(&mut entry.lock().remote_refcount);
            if count > 0 && st.ended.is_none() {
                st.outbox.release(id, count);
            }
            st.tables
                .imports
                .remove_if(id, Arc::as_ptr(&entry) as usize);
            Some(entry)
        });
        // Settle (and drop the entry) outside the lock: settling wakes waiters and may run
        // callbacks.
        if let Some(entry) = entry {
            let broken = entry.settle(resolution.clone());
            if let Hook::Error(e) = &resolution {
                broken.into_iter().for_each(|cb| cb(e));
            }
            self.drained.notify_waiters();
        }
    }

    /// See [`Session::close`].
    async fn close(self: &Arc<Self>, reason: CloseReason) {
        let reason = self.with_state(|st| st.closing.get_or_insert(reason).clone());
        loop {
            let progress = self.drained.notified();
            let (ended, quiet) = self.with_state(|st| (st.ended.is_some(), st.quiet()));
            if ended {
                return;
            }
            if quiet {
                let why = "the session was closed";
                self.end_with(Error::disconnected(why), false, Some(reason));
                return;
            }
            progress.await;
        }
    }

    /// Waits until the session ends; returns why.
    async fn closed(self: &Arc<Self>) -> Error {
        loop {
            let notified = self.ended.notified();
            if let Some(e) = self.with_state(|st| st.ended.clone()) {
                return e;
            }
            notified.await;
        }
    }

    /// Ends the session: every pending import rejects, every export is released, callbacks
    /// run, and the driver closes the transport (after sending an `abort` if `tell_peer`).
    fn end(self: &Arc<Self>, error: Error, tell_peer: bool) {
        self.end_with(error, tell_peer, None);
    }

    /// [`SessionCore::end`], closing the transport with `close` instead of the reason the
    /// error implies.
    fn end_with(self: &Arc<Self>, error: Error, tell_peer: bool, close: Option<CloseReason>) {
        let ended = self.with_state(|st| {
            if st.ended.is_some() {
                return None;
            }
            let reason = match &error {
                Error::Disconnected {
                    peer_error: None, ..
                } if !tell_peer => CloseReason::Normal,
                other => CloseReason::Error(other.to_rpc_error()),
            };
            if let (true, CloseReason::Error(reason)) = (tell_peer, &reason) {
                let State { tables, outbox, .. } = &mut *st;
                let mut exporter = SessionExporter::new(self, tables);
                let limits = &self.options.limits;
                if outbox.reject(&mut exporter, limits, None, reason).is_err() {
                    exporter.undo();
                }
            }
            st.close_reason = close.unwrap_or(reason);
            st.ended = Some(error.clone());
            st.stats_at_close = Some(st.stats());
            let exports = st.tables.exports.take_all();
            st.tables.graveyard.extend(exports);
            st.tables.ready.clear();
            let imports = st.tables.imports.take_all();
            let callbacks = std::mem::take(&mut st.on_broken);
            self.drained.notify_waiters();
            Some((imports, callbacks))
        });
        let Some((imports, callbacks)) = ended else {
            return;
        };
        log_end(&error, tell_peer);
        self.driver.wake();
        self.ended.notify_waiters();
        let main = lock(&self.main).upgrade();
        let entries: Vec<Arc<ImportEntry>> = imports
            .iter()
            .filter_map(Weak::upgrade)
            .chain(main)
            .collect();
        // Every callback runs before any pending call learns of the end, so code that awaits a
        // call and then checks what `on_broken` recorded sees it.
        for entry in &entries {
            let registered = std::mem::take(&mut entry.lock().on_broken);
            registered.into_iter().for_each(|callback| callback(&error));
        }
        callbacks.into_iter().for_each(|callback| callback(&error));
        for entry in &entries {
            entry.settle(Hook::Error(error.clone()));
        }
    }

    /// What the driver sends next: everything queued (for a batching transport, only once a
    /// flush was asked for, and then with `true` to flush it); `None` if there is nothing.
    fn take_outbox(self: &Arc<Self>) -> Option<(Batch, bool)> {
        self.with_state(|st| {
            let flush = std::mem::take(&mut st.outbox.flush_requested);
            let ready = !self.batched || flush || st.ended.is_some();
            let batch = if ready { st.outbox.take() } else { None };
            batch.map(|batch| (batch, flush))
        })
    }

    /// The driver is about to wait: from now on, new messages wake it. `false` if there is
    /// something for it already (then it goes on instead).
    fn park_driver(self: &Arc<Self>) -> bool {
        self.with_state(|st| {
            let sendable = !st.outbox.is_empty() && (!self.batched || st.outbox.flush_requested);
            if sendable || st.ended.is_some() {
                return false;
            }
            st.outbox.notified = false;
            true
        })
    }

    /// Whether the session ended, and the reason the transport should close with.
    fn end_state(self: &Arc<Self>) -> Option<CloseReason> {
        self.with_state(|st| st.ended.as_ref().map(|_| st.close_reason.clone()))
    }
}

fn no_runtime() -> Error {
    Error::Transport("capnweb needs a Tokio runtime to run calls: call it from inside one".into())
}

/// Ids the exporter chooses are negative (0 is the main object, positive ids are the
/// importer's): anything else in an `export` or `promise` would collide with our own imports.
fn exporter_chosen(id: i64, tag: &str) -> Result<(), Error> {
    if id < 0 {
        Ok(())
    } else {
        Err(Error::Protocol(format!(
            "the peer sent [\"{tag}\", {id}], but ids the exporter chooses must be negative"
        )))
    }
}

/// The error a `reject` or `abort` carries: an `Error` value as it is; anything else (a
/// JavaScript peer may throw any value) wrapped so the caller can still see it.
fn rejection(value: Value) -> RpcError {
    match value {
        Value::Error(e) => *e,
        Value::String(s) => RpcError::error(s),
        other => RpcError::error(format!(
            "the peer rejected with a non-error value ({})",
            other.kind()
        ))
        .with_prop("value", other),
    }
}

impl crate::evaluate::Importer for Arc<SessionCore> {
    fn import_stub(&self, id: i64) -> Result<Hook, Error> {
        exporter_chosen(id, "export")?;
        self.with_state(|st| {
            if let Some(e) = &st.ended {
                return Err(e.clone());
            }
            if let Some(entry) = st.tables.imports.get(id).and_then(Weak::upgrade) {
                entry.lock().remote_refcount += 1;
                return Ok(entry.hook(false));
            }
            st.tables.imports.room()?;
            let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, false));
            st.tables.imports.insert(id, Arc::downgrade(&entry));
            Ok(entry.hook(false))
        })
    }

    fn import_promise(&self, id: i64) -> Result<Hook, Error> {
        exporter_chosen(id, "promise")?;
        self.with_state(|st| {
            if let Some(e) = &st.ended {
                return Err(e.clone());
            }
            if st
                .tables
                .imports
                .get(id)
                .is_some_and(|w| w.strong_count() > 0)
            {
                return Err(Error::Protocol(format!(
                    "the peer sent promise {id}, reusing an id already on the import table"
                )));
            }
            st.tables.imports.room()?;
            let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, true));
            st.tables.imports.insert(id, Arc::downgrade(&entry));
            Ok(entry.hook(true))
        })
    }

    fn readable(&self, id: i64) -> Result<Hook, Error> {
        use futures::StreamExt;
        let reader = self.with_state(|st| {
            st.tables
                .exports
                .get_mut(id)
                .and_then(|entry| entry.pipe_readable.take())
        });
        let reader = reader.ok_or_else(|| {
            Error::Protocol(format!(
                "the peer sent [\"readable\", {id}], but export {id} is not a pipe or its \
                 readable end was already taken"
            ))
        })?;
        let cell = crate::stream::ReadableCell::new(reader.boxed());
        Ok(Hook::Stream(Arc::new(crate::stream::StreamHook::Readable(
            cell,
        ))))
    }

    fn export(&self, id: i64) -> Result<Hook, Error> {
        self.with_state(|st| {
            st.tables
                .exports
                .get(id)
                .map(|e| e.hook.clone())
                .ok_or_else(|| {
                    Error::Protocol(format!(
                        "the peer referred to export {id}, which is not on the export table"
                    ))
                })
        })
    }
}

/// Keeps `LocalPromise` in this module's vocabulary for the incoming handler.
pub(super) fn is_pending_promise(hook: &Hook) -> Option<&Arc<LocalPromise>> {
    match hook {
        Hook::Promise(p) if p.resolution().is_none() => Some(p),
        _ => None,
    }
}
