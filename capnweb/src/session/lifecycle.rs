//! How a session ends: closing gracefully, aborting, the transport going away; what is told to
//! the peer, logged, and rejected.

use super::exporter::SessionExporter;
use super::import::ImportEntry;
use super::lock;
use super::outbox::Batch;
use super::CloseReason;
use super::SessionCore;
use super::State;
use crate::error::Error;
use crate::hook::Hook;
use std::sync::Arc;
use std::sync::Weak;

impl SessionCore {
    /// See [`Session::close`].
    pub(super) async fn close(self: &Arc<Self>, reason: CloseReason) {
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
    pub(super) async fn closed(self: &Arc<Self>) -> Error {
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
    pub(super) fn end(self: &Arc<Self>, error: Error, tell_peer: bool) {
        self.end_with(error, tell_peer, None);
    }

    /// [`SessionCore::end`], closing the transport with `close` instead of the reason the
    /// error implies.
    pub(super) fn end_with(
        self: &Arc<Self>,
        error: Error,
        tell_peer: bool,
        close: Option<CloseReason>,
    ) {
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
    pub(super) fn take_outbox(self: &Arc<Self>) -> Option<(Batch, bool)> {
        self.with_state(|st| {
            let flush = std::mem::take(&mut st.outbox.flush_requested);
            let ready = !self.caps.is_batched() || flush || st.ended.is_some();
            let batch = if ready { st.outbox.take() } else { None };
            batch.map(|batch| (batch, flush))
        })
    }

    /// The driver is about to wait: from now on, new messages wake it. `false` if there is
    /// something for it already (then it goes on instead).
    pub(super) fn park_driver(self: &Arc<Self>) -> bool {
        self.with_state(|st| {
            let sendable =
                !st.outbox.is_empty() && (!self.caps.is_batched() || st.outbox.flush_requested);
            if sendable || st.ended.is_some() {
                return false;
            }
            st.outbox.notified = false;
            true
        })
    }

    /// Whether the session ended, and the reason the transport should close with.
    pub(super) fn end_state(self: &Arc<Self>) -> Option<CloseReason> {
        self.with_state(|st| st.ended.as_ref().map(|_| st.close_reason.clone()))
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
