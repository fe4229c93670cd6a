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
//!
//! Here: the shared state ([`SessionCore`], its tables) and the locking. Beside it, one job
//! each: `handle` (the public [`Session`]), `outgoing` (calls, streams, maps and pulls we
//! send), `incoming` (the peer's messages), `importer` (the peer's references in what it
//! sends), `resolution` (answers both ways), `lifecycle` (closing and ending), `driver` (the
//! task between outbox and transport), `outbox`, `exporter`, `import`, `tables`, `options`
//! and `transport`.

mod driver;
mod exporter;
mod handle;
mod import;
mod importer;
mod incoming;
mod lifecycle;
mod options;
mod outbox;
mod outgoing;
mod resolution;
mod tables;
mod transport;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use futures::task::AtomicWaker;
use tokio::sync::Notify;

pub use handle::{Session, SessionStats};
pub use options::{MessageDirection, SessionOptions};
pub use transport::{Capabilities, CloseReason, Transport};

use crate::error::{BrokenCallback, Error};
use crate::hook::scope::Served;
use crate::hook::{Hook, LocalPromise};
use crate::value::Value;
use import::ImportEntry;
use outbox::Outbox;
use resolution::rejection;
use tables::{ExportTable, ImportTable};

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
    /// What the transport can carry, as it said when the session started.
    caps: Capabilities,
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
                && (!self.caps.is_batched() || st.outbox.flush_requested);
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
}

/// Keeps `LocalPromise` in this module's vocabulary for the incoming handler.
pub(super) fn is_pending_promise(hook: &Hook) -> Option<&Arc<LocalPromise>> {
    match hook {
        Hook::Promise(p) if p.resolution().is_none() => Some(p),
        _ => None,
    }
}
