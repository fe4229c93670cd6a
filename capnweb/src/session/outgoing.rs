//! What this side asks of the peer: calls, streams, maps and pulls on its imports, written into
//! the outbox at once.

use super::exporter::SessionExporter;
use super::import::ImportEntry;
use super::lock;
use super::outbox;
use super::SessionCore;
use super::State;
use super::Tables;
use crate::encode::Exporter;
use crate::encode::Reference;
use crate::error::Error;
use crate::error::RpcError;
use crate::hook::Hook;
use crate::hook::PreparedStream;
use crate::value::Value;
use crate::wire::Expr;
use crate::wire::PathKey;
use std::sync::Arc;

/// The exporter of a message encoded ahead of time, away from the session's tables: it exports
/// nothing (such a message holds no stub, promise or stream).
pub(super) struct NothingToExport;

impl Exporter for NothingToExport {
    fn stub(&mut self, _hook: &Hook) -> Result<Reference, Error> {
        Err(Error::encode(
            "a message encoded ahead of time cannot hold a stub",
        ))
    }

    fn promise(&mut self, _hook: &Hook, _path: &[PathKey]) -> Result<Reference, Error> {
        Err(Error::encode(
            "a message encoded ahead of time cannot hold a promise",
        ))
    }
}

impl SessionCore {
    pub(super) fn main_hook(self: &Arc<Self>) -> Hook {
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
    pub(super) fn send_call(
        self: &Arc<Self>,
        id: i64,
        path: &[PathKey],
        args: Option<Vec<Value>>,
    ) -> Hook {
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
    pub(super) fn send_stream(
        self: &Arc<Self>,
        id: i64,
        path: &[PathKey],
        args: Vec<Value>,
        prepared: Option<PreparedStream>,
    ) -> (Hook, Option<usize>) {
        if !self.caps.carries_streams() {
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
    pub(super) fn new_stream_import(self: &Arc<Self>, tables: &mut Tables) -> Hook {
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
    pub(super) fn prepare_stream(
        self: &Arc<Self>,
        id: i64,
        path: &[PathKey],
        args: &[Value],
    ) -> Option<PreparedStream> {
        if !self.caps.carries_streams() {
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
    pub(super) fn send_map(
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
    pub(super) fn new_promise_import(self: &Arc<Self>, tables: &mut Tables) -> Hook {
        let id = tables.imports.allocate_positive();
        let entry = Arc::new(ImportEntry::new(Arc::clone(self), id, false));
        tables.imports.insert(id, Arc::downgrade(&entry));
        entry.hook(true)
    }

    /// Sends `pull` for a promise import, once.
    pub(super) fn send_pull(self: &Arc<Self>, entry: &ImportEntry) {
        if !self.caps.peer_answers() {
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
    pub(super) fn request_flush(self: &Arc<Self>) {
        self.with_state(|st| st.outbox.flush_requested = true);
    }
}
