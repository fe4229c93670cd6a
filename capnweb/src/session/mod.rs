//! The session: one side of a Cap'n Web connection, as a state machine over a transport.
//!
//! Incoming messages update the tables and reach hooks; operations on imports become outgoing
//! messages. The session never knows which transport it runs on.
//!
//! Locking: all table state sits behind one mutex, and nothing that can run user code or drop
//! a capability happens while it is held. Dropping the last reference to an import only queues
//! its release; the queue is applied by whoever holds (or next takes) the lock.

mod exporter;
mod import;
mod options;

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use tokio::sync::{mpsc, Notify};

pub(crate) use import::{ImportEntry, ImportRef};
pub use options::SessionOptions;

use crate::encode;
use crate::error::{BrokenCallback, Error, RpcError};
use crate::evaluate::{self, Importer};
use crate::hook::Hook;
use crate::tables::{ExportTable, ImportTable};
use crate::transport::{MessageReceiver, MessageSender, Transport};
use crate::value::Value;
use crate::wire::{Expr, Message, PathKey, ReferenceForm, RemapForm, WireErrorKind};
use crate::Stub;
use exporter::SessionExporter;

/// Import and export counts of a session, as [`Session::stats`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    /// Entries on the import table, the main import included.
    pub imports: usize,
    /// Entries on the export table, the main export included.
    pub exports: usize,
}

/// One side of a Cap'n Web connection.
///
/// A session serves `local_main` to the peer (as its id 0) and gives access to the peer's main
/// object through [`Session::main`]. It runs on the transport until the transport closes, either
/// side aborts, or the last handle to the peer's main object is dropped.
///
/// Dropping the `Session` handle does not end the session; [`Session::abort`] does.
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
    inner: Arc<SessionInner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("stats", &self.stats())
            .finish()
    }
}

/// What the writer task is asked to do.
enum Outgoing {
    Message(Message),
    /// A batching transport should send what it has (see `Transport::BATCHED`).
    Flush,
    Close(Option<RpcError>),
}

/// Work queued by code that could not take the lock (see the module docs).
enum Deferred {
    /// An import's last reference is gone: release it with this count.
    Release { id: i64, count: u64, entry: usize },
    /// The last handle to the peer's main object is gone.
    Shutdown,
}

pub(crate) struct SessionInner {
    state: Mutex<State>,
    deferred: Mutex<Vec<Deferred>>,
    outbox: mpsc::UnboundedSender<Outgoing>,
    options: SessionOptions,
    /// Wakes the reader when the session ends, and whoever waits in `closed()`.
    ended: Notify,
    /// Wakes `drain()` when the last pulled result was sent.
    drained: Notify,
    /// For batching transports: asks the writer to send the batch (see `Transport::BATCHED`).
    flush: Option<Arc<dyn Fn() + Send + Sync>>,
    /// The peer's main object, created on first use.
    main: Mutex<Weak<ImportEntry>>,
}

struct State {
    exports: ExportTable,
    imports: ImportTable,
    aborted: Option<Error>,
    /// Resolutions started and not yet sent.
    pulls_in_flight: usize,
    /// Callbacks for the session ending, registered on the session itself.
    on_broken: Vec<BrokenCallback>,
    /// Hooks removed from the tables, dropped once the lock is released.
    graveyard: Vec<Hook>,
    /// The counts just before the session ended.
    stats_at_close: Option<SessionStats>,
    /// Resolutions whose value is at hand, waiting to be sent in order.
    ready: std::collections::VecDeque<(i64, Arc<Value>)>,
    /// The reader is handling a message: ready resolutions wait until it is done.
    handling_message: bool,
}

impl Session {
    /// Starts a session on `transport`, serving `local_main` (if any) to the peer.
    ///
    /// Must be called inside a Tokio runtime: the session runs as two tasks (reader, writer).
    pub fn new<T: Transport>(
        transport: T,
        local_main: Option<Stub>,
        options: SessionOptions,
    ) -> Session {
        let (sender, receiver) = transport.split();
        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let outbox_for_flush = outbox.clone();
        let main_hook = match local_main {
            Some(stub) => stub.into_hook(),
            None => Hook::Error(Error::from(RpcError::error(
                "this connection has no main object: the other side serves nothing",
            ))),
        };
        let inner = Arc::new(SessionInner {
            state: Mutex::new(State {
                exports: ExportTable::new(main_hook),
                imports: ImportTable::new(),
                aborted: None,
                pulls_in_flight: 0,
                on_broken: Vec::new(),
                graveyard: Vec::new(),
                stats_at_close: None,
                ready: std::collections::VecDeque::new(),
                handling_message: false,
            }),
            deferred: Mutex::new(Vec::new()),
            outbox,
            options,
            ended: Notify::new(),
            drained: Notify::new(),
            flush: T::BATCHED.then(|| {
                let outbox = outbox_for_flush;
                Arc::new(move || {
                    let _ = outbox.send(Outgoing::Flush);
                }) as Arc<dyn Fn() + Send + Sync>
            }),
            main: Mutex::new(Weak::new()),
        });
        tokio::spawn(write_loop(sender, outbox_rx, Arc::downgrade(&inner)));
        tokio::spawn(read_loop(receiver, Arc::clone(&inner)));
        let session = Session { inner };
        if let Some(on_start) = session.inner.options.on_start.clone() {
            on_start(&session);
        }
        session
    }

    /// The peer's main object. Dropping every handle to it ends the session.
    pub fn main(&self) -> Stub {
        Stub::from_hook(self.inner.main_hook())
    }

    /// The peer's main object as a typed stub (or [`Stub`]).
    pub fn main_as<T: crate::stub::FromStub>(&self) -> T {
        T::from_stub(self.main())
    }

    /// Current import and export counts. After every call has settled and every stub from the
    /// peer was dropped, both are 1: the main objects.
    pub fn stats(&self) -> SessionStats {
        self.inner.with_state(|st| SessionStats {
            imports: st.imports.len(),
            exports: st.exports.len(),
        })
    }

    /// The import and export counts as they were just before the session ended (`None` while
    /// it runs). Both are 1 for a session that leaked nothing: only the main objects remained.
    pub fn stats_at_close(&self) -> Option<SessionStats> {
        self.inner.with_state(|st| st.stats_at_close)
    }

    /// Waits until every result the peer pulled has been sent.
    pub async fn drain(&self) -> Result<(), Error> {
        loop {
            let notified = self.inner.drained.notified();
            let done = self.inner.with_state(|st| match &st.aborted {
                Some(e) => Err(e.clone()),
                None => Ok(st.pulls_in_flight == 0),
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
        self.inner.abort(
            Error::Disconnected {
                reason,
                peer_error: Some(Box::new(error)),
            },
            true,
        );
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.inner.with_state(|st| st.aborted.is_some())
    }

    /// Waits until the session ends; returns why.
    pub async fn closed(&self) -> Error {
        loop {
            let notified = self.inner.ended.notified();
            if let Some(e) = self.inner.with_state(|st| st.aborted.clone()) {
                return e;
            }
            notified.await;
        }
    }

    /// Runs `callback` when the session ends (at once if it has already).
    pub fn on_broken(&self, callback: impl FnOnce(&Error) + Send + 'static) {
        let callback: Box<dyn FnOnce(&Error) + Send> = Box::new(callback);
        let ended = self.inner.with_state(|st| match &st.aborted {
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its state consistent before it could panic, so a poisoned
    // lock is still safe to use.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl SessionInner {
    /// Runs `f` with the state locked, then applies deferred work and drops what was removed.
    fn with_state<R>(self: &Arc<Self>, f: impl FnOnce(&mut State) -> R) -> R {
        let (result, graveyard, shutdown) = {
            let mut st = lock(&self.state);
            let result = f(&mut st);
            if !st.handling_message {
                self.send_ready(&mut st);
            }
            let shutdown = self.apply_deferred(&mut st);
            (result, std::mem::take(&mut st.graveyard), shutdown)
        };
        self.after_unlock(graveyard, shutdown);
        result
    }

    /// Drops removed hooks and runs a queued shutdown, outside the lock; then applies whatever
    /// that (or another thread) queued meanwhile.
    fn after_unlock(self: &Arc<Self>, mut graveyard: Vec<Hook>, mut shutdown: bool) {
        loop {
            drop(std::mem::take(&mut graveyard));
            if shutdown {
                let why = "the session was shut down: its main stub was dropped";
                self.abort(Error::disconnected(why), false);
            }
            if lock(&self.deferred).is_empty() {
                return;
            }
            let mut st = lock(&self.state);
            shutdown = self.apply_deferred(&mut st);
            graveyard = std::mem::take(&mut st.graveyard);
        }
    }

    /// Applies queued releases; returns whether a shutdown was queued.
    fn apply_deferred(&self, st: &mut State) -> bool {
        let deferred = std::mem::take(&mut *lock(&self.deferred));
        let mut shutdown = false;
        for work in deferred {
            match work {
                Deferred::Release { id, count, entry } => {
                    st.imports.remove_if(id, entry);
                    if count > 0 && st.aborted.is_none() {
                        self.send(st, Message::Release(id, count));
                    }
                }
                Deferred::Shutdown => shutdown = true,
            }
        }
        shutdown
    }

    /// Called from `ImportEntry::drop`: queue the release, and apply it now if the lock is free.
    fn on_import_dropped(self: &Arc<Self>, id: i64, count: u64, entry: usize) {
        let work = if id == 0 {
            Deferred::Shutdown
        } else {
            Deferred::Release { id, count, entry }
        };
        lock(&self.deferred).push(work);
        let acquired = match self.state.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        if let Some(mut st) = acquired {
            let shutdown = self.apply_deferred(&mut st);
            let graveyard = std::mem::take(&mut st.graveyard);
            drop(st);
            self.after_unlock(graveyard, shutdown);
        }
    }

    /// Queues a message for the writer (call with the state locked, so order is kept).
    fn send(&self, st: &State, message: Message) {
        if st.aborted.is_none() {
            let _ = self.outbox.send(Outgoing::Message(message));
        }
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
        if let Some(e) = self.with_state(|st| st.aborted.clone()) {
            return Hook::Error(e);
        }
        Hook::Import(ImportRef {
            entry,
            promise: false,
        })
    }

    /// Sends a call (or, without `args`, a property read) on an import; returns the promise.
    fn send_call(
        self: &Arc<Self>,
        target: &Arc<ImportEntry>,
        path: &[PathKey],
        args: Option<Vec<Value>>,
    ) -> Hook {
        let result = self.with_state(|st| {
            if let Some(e) = &st.aborted {
                return Err(e.clone());
            }
            let args = match &args {
                Some(args) => Some(encode::encode_args(
                    args,
                    &mut SessionExporter::new(self, st),
                )?),
                None => None,
            };
            let path = Some(path.to_vec());
            self.send(
                st,
                Message::Push(Expr::Pipeline(Box::new(ReferenceForm {
                    id: target.id,
                    path,
                    args,
                }))),
            );
            Ok(self.new_promise_import(st))
        });
        drop(args);
        result.unwrap_or_else(Hook::Error)
    }

    /// Sends a `.map()` on an import; returns the promise for its result.
    fn send_map(
        self: &Arc<Self>,
        target: &Arc<ImportEntry>,
        path: &[PathKey],
        captures: Vec<Hook>,
        instructions: Vec<Expr>,
    ) -> Hook {
        let result = self.with_state(|st| {
            if let Some(e) = &st.aborted {
                return Err(e.clone());
            }
            let mut exporter = SessionExporter::new(self, st);
            let captures = captures.iter().map(|hook| exporter.capture(hook)).collect();
            let remap = Expr::Remap(Box::new(RemapForm {
                id: target.id,
                path: path.to_vec(),
                captures,
                instructions,
            }));
            self.send(st, Message::Push(remap));
            Ok(self.new_promise_import(st))
        });
        drop(captures);
        result.unwrap_or_else(Hook::Error)
    }

    /// The import for the result of the push just sent.
    fn new_promise_import(self: &Arc<Self>, st: &mut State) -> Hook {
        let id = st.imports.allocate_positive();
        let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, false));
        st.imports.insert(id, Arc::downgrade(&entry));
        Hook::Import(ImportRef {
            entry,
            promise: true,
        })
    }

    /// Sends `pull` for a promise import, once.
    fn send_pull(self: &Arc<Self>, entry: &Arc<ImportEntry>) {
        self.with_state(|st| {
            let mut state = entry.lock();
            if state.resolution.is_none() && !state.pulled {
                state.pulled = true;
                self.send(st, Message::Pull(entry.id));
            }
        });
    }

    /// Starts sending the resolution of export `id` (after a pull, or for a promise export).
    fn start_resolving(self: &Arc<Self>, st: &mut State, id: i64) -> Result<(), Error> {
        let entry = st.exports.get_mut(id).ok_or_else(|| {
            Error::Protocol(format!(
                "pull of export {id}, which is not on the export table"
            ))
        })?;
        if entry.resolving {
            return Ok(());
        }
        entry.resolving = true;
        let hook = entry.hook.clone();
        st.pulls_in_flight += 1;
        if let Hook::Payload(value) = hook {
            // Already resolved: sent in order, once the message that introduced it is out.
            st.ready.push_back((id, value));
            return Ok(());
        }
        let session = Arc::clone(self);
        tokio::spawn(async move {
            let outcome = hook.pull().await;
            session.with_state(|st| session.send_resolution(st, id, &outcome.as_ref()));
            drop((outcome, hook));
        });
        Ok(())
    }

    /// Sends the resolutions that were ready, in the order they were started (as the
    /// reference does: after the message being handled, before anything later).
    fn send_ready(self: &Arc<Self>, st: &mut State) {
        while let Some((id, value)) = st.ready.pop_front() {
            self.send_resolution(st, id, &Ok(&*value));
            // The value may hold the last reference to something: drop it after the lock.
            st.graveyard.push(Hook::Payload(value));
        }
    }

    fn send_resolution(
        self: &Arc<Self>,
        st: &mut State,
        id: i64,
        outcome: &Result<&Value, &Error>,
    ) {
        st.pulls_in_flight -= 1;
        if st.pulls_in_flight == 0 {
            self.drained.notify_waiters();
        }
        if st.aborted.is_some() {
            return;
        }
        let message = {
            let mut exporter = SessionExporter::new(self, st);
            match outcome {
                Ok(value) => match encode::encode(value, &mut exporter) {
                    Ok(expr) => Message::Resolve(id, expr),
                    Err(e) => {
                        Message::Reject(id, encode::encode_error(&e.to_rpc_error(), &mut exporter))
                    }
                },
                Err(e) => {
                    Message::Reject(id, encode::encode_error(&e.to_rpc_error(), &mut exporter))
                }
            }
        };
        self.send(st, message);
        let auto_release = st.exports.get(id).is_some_and(|e| e.auto_release);
        if auto_release {
            if let Ok(Some(hook)) = st.exports.release(id, 1) {
                st.graveyard.push(hook);
            }
        }
    }

    /// Handles one incoming message text.
    fn handle_text(self: &Arc<Self>, text: &str) -> Result<(), Error> {
        let message =
            Message::parse_with_limits(text, &self.options.limits).map_err(|e| match e.kind() {
                WireErrorKind::LimitExceeded => Error::LimitExceeded(e.to_string()),
                _ => Error::Protocol(e.to_string()),
            })?;
        match message {
            Message::Push(expr) => self.receive_push(expr, false),
            Message::Stream(expr) => self.receive_push(expr, true),
            Message::Pull(id) => self.with_state(|st| self.start_resolving(st, id)),
            Message::Resolve(id, expr) => {
                let value = evaluate::evaluate(expr, self)?;
                self.settle_import(id, Hook::from_value(value));
                Ok(())
            }
            Message::Reject(id, expr) => {
                let value = evaluate::evaluate(expr, self)?;
                self.settle_import(id, Hook::Error(Error::from(rejection(value))));
                Ok(())
            }
            Message::Release(id, count) => self.with_state(|st| {
                let removed = st.exports.release(id, count).map_err(Error::Protocol)?;
                st.graveyard.extend(removed);
                Ok(())
            }),
            Message::Abort(expr) => {
                let error = rejection(evaluate::evaluate(expr, self)?);
                let reason = format!("the peer aborted the session: {error}");
                self.abort(Error::Disconnected { reason, peer_error: Some(Box::new(error)) }, false);
                Ok(())
            }
            Message::Pipe => Err(Error::Protocol(
                "the peer opened a pipe (a stream), and streams are not supported by this implementation yet"
                    .into(),
            )),
        }
    }

    fn receive_push(self: &Arc<Self>, expr: Expr, stream: bool) -> Result<(), Error> {
        let hook = Hook::from_value(evaluate::evaluate(expr, self)?);
        self.with_state(|st| {
            let id = st.exports.insert_pushed(hook, stream);
            if stream {
                self.start_resolving(st, id)?;
            }
            Ok(())
        })
    }

    /// Delivers a resolution or rejection to the import `id`, then releases it.
    fn settle_import(self: &Arc<Self>, id: i64, resolution: Hook) {
        let callbacks = self.with_state(|st| {
            let entry = st.imports.get(id).and_then(Weak::upgrade)?;
            let count = std::mem::take(&mut entry.lock().remote_refcount);
            if count > 0 {
                self.send(st, Message::Release(id, count));
            }
            st.imports.remove_if(id, Arc::as_ptr(&entry) as usize);
            Some(entry)
        });
        // Settle (and drop the entry) outside the lock: settling wakes waiters and may run
        // callbacks.
        if let Some(entry) = callbacks {
            let broken = entry.settle(resolution.clone());
            if let Hook::Error(e) = &resolution {
                broken.into_iter().for_each(|cb| cb(e));
            }
        }
    }

    /// Ends the session: every pending import rejects, every export is released, callbacks run.
    fn abort(self: &Arc<Self>, error: Error, tell_peer: bool) {
        let ended = self.with_state(|st| {
            if st.aborted.is_some() {
                return None;
            }
            if tell_peer {
                let expr = encode::encode_error(
                    &error.to_rpc_error(),
                    &mut SessionExporter::new(self, st),
                );
                self.send(st, Message::Abort(expr));
            }
            let close_reason = match &error {
                Error::Disconnected {
                    peer_error: None, ..
                } if !tell_peer => None,
                other => Some(other.to_rpc_error()),
            };
            let _ = self.outbox.send(Outgoing::Close(close_reason));
            st.aborted = Some(error.clone());
            st.stats_at_close = Some(SessionStats {
                imports: st.imports.len(),
                exports: st.exports.len(),
            });
            st.graveyard.extend(st.exports.take_all());
            let imports = st.imports.take_all();
            let callbacks = std::mem::take(&mut st.on_broken);
            self.drained.notify_waiters();
            Some((imports, callbacks))
        });
        let Some((imports, callbacks)) = ended else {
            return;
        };
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

/// The batching transport's flush function, if `hook` is an import of a session that has one.
pub(crate) fn batch_flush(hook: &Hook) -> Option<Arc<dyn Fn() + Send + Sync>> {
    match hook {
        Hook::Import(import) => import.entry.session.flush.clone(),
        _ => None,
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

impl Importer for Arc<SessionInner> {
    fn import_stub(&self, id: i64) -> Result<Hook, Error> {
        exporter_chosen(id, "export")?;
        self.with_state(|st| {
            if let Some(e) = &st.aborted {
                return Err(e.clone());
            }
            if let Some(entry) = st.imports.get(id).and_then(Weak::upgrade) {
                entry.lock().remote_refcount += 1;
                return Ok(Hook::Import(ImportRef {
                    entry,
                    promise: false,
                }));
            }
            let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, false));
            st.imports.insert(id, Arc::downgrade(&entry));
            Ok(Hook::Import(ImportRef {
                entry,
                promise: false,
            }))
        })
    }

    fn import_promise(&self, id: i64) -> Result<Hook, Error> {
        exporter_chosen(id, "promise")?;
        self.with_state(|st| {
            if let Some(e) = &st.aborted {
                return Err(e.clone());
            }
            if st.imports.get(id).is_some_and(|w| w.strong_count() > 0) {
                return Err(Error::Protocol(format!(
                    "the peer sent promise {id}, reusing an id already on the import table"
                )));
            }
            let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, true));
            st.imports.insert(id, Arc::downgrade(&entry));
            Ok(Hook::Import(ImportRef {
                entry,
                promise: true,
            }))
        })
    }

    fn export(&self, id: i64) -> Result<Hook, Error> {
        self.with_state(|st| {
            st.exports.get(id).map(|e| e.hook.clone()).ok_or_else(|| {
                Error::Protocol(format!(
                    "the peer referred to export {id}, which is not on the export table"
                ))
            })
        })
    }
}

/// Reads messages until the transport closes or the session ends.
async fn read_loop<R: MessageReceiver>(mut receiver: R, session: Arc<SessionInner>) {
    loop {
        let ended = session.ended.notified();
        if session.with_state(|st| st.aborted.is_some()) {
            return;
        }
        let next = tokio::select! {
            next = receiver.recv() => next,
            _ = ended => return,
        };
        match next {
            Some(Ok(text)) => {
                session.with_state(|st| st.handling_message = true);
                let handled = session.handle_text(&text);
                session.with_state(|st| st.handling_message = false);
                if let Err(e) = handled {
                    tracing::debug!(error = %e, "aborting the session: bad input from the peer");
                    session.abort(e, true);
                    return;
                }
            }
            Some(Err(e)) => {
                // The transport chose the error's kind (a network failure, a frame the protocol
                // forbids, a failed HTTP batch); pending calls reject with it as it is.
                tracing::debug!(error = %e, "the transport failed; ending the session");
                session.abort(e, false);
                return;
            }
            None => {
                session.abort(Error::disconnected("the peer closed the connection"), false);
                return;
            }
        }
    }
}

/// Sends queued messages, everything queued at once in one batch, until the session ends.
async fn write_loop<S: MessageSender>(
    mut sender: S,
    mut outbox: mpsc::UnboundedReceiver<Outgoing>,
    session: Weak<SessionInner>,
) {
    while let Some(first) = outbox.recv().await {
        let mut texts = Vec::new();
        let mut close = None;
        let mut flush = false;
        let mut next = Some(first);
        while let Some(item) = next.take() {
            match item {
                Outgoing::Message(message) => texts.push(message.to_text()),
                Outgoing::Flush => flush = true,
                Outgoing::Close(reason) => {
                    close = Some(reason);
                    break;
                }
            }
            next = outbox.try_recv().ok();
        }
        let mut sent = Ok(());
        if !texts.is_empty() {
            sent = sender.send(texts).await;
        }
        if sent.is_ok() && flush {
            sent = sender.flush().await;
        }
        if let Err(e) = sent {
            if let Some(session) = session.upgrade() {
                session.abort(Error::disconnected(format!("sending failed: {e}")), false);
            }
            sender.close(None).await;
            return;
        }
        if let Some(reason) = close {
            sender.close(reason).await;
            return;
        }
    }
}
