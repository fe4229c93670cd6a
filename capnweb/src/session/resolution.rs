//! Answers: the resolution of what the peer pulled from us, sent in the order the pulls came,
//! and the peer's resolutions of our imports, delivered.

use super::exporter::SessionExporter;
use super::Deferred;
use super::Outcome;
use super::SessionCore;
use super::State;
use super::Tables;
use crate::error::Error;
use crate::error::RpcError;
use crate::hook::Hook;
use crate::hook::RemoteRef;
use crate::value::Value;
use crate::Stub;
use std::sync::Arc;
use std::sync::Weak;

impl SessionCore {
    /// Starts sending the resolution of export `id` (after a pull, or for a promise export).
    pub(super) fn start_resolving(
        self: &Arc<Self>,
        tables: &mut Tables,
        id: i64,
    ) -> Result<(), Error> {
        let entry = tables.exports.get_mut(id).ok_or_else(|| {
            Error::protocol(format!(
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
    pub(super) fn await_resolution(self: &Arc<Self>, tables: &mut Tables, id: i64, hook: Hook) {
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
    pub(super) fn send_ready(self: &Arc<Self>, st: &mut State) {
        while let Some((id, outcome)) = st.tables.ready.pop_front() {
            self.send_resolution(st, id, &outcome);
            if let Ok(value) = outcome {
                st.tables.bury(Hook::Payload(value));
            }
        }
    }

    pub(super) fn send_resolution(self: &Arc<Self>, st: &mut State, id: i64, outcome: &Outcome) {
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
    pub(super) fn settle_import(self: &Arc<Self>, id: i64, resolution: Hook) {
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
}

pub(super) fn no_runtime() -> Error {
    Error::NoRuntime
}

/// The error a `reject` or `abort` carries: an `Error` value as it is; anything else (a
/// JavaScript peer may throw any value) wrapped so the caller can still see it.
pub(super) fn rejection(value: Value) -> RpcError {
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
