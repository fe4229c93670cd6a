//! Import table entries and the hooks that point at them.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use tokio::sync::Notify;

use super::SessionInner;
use crate::error::{BrokenCallback, Error};
use crate::hook::Hook;
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// An object or promise on the peer's side, as this session knows it.
pub(crate) struct ImportEntry {
    pub(super) session: Arc<SessionInner>,
    pub(super) id: i64,
    pub(super) state: Mutex<ImportState>,
    pub(super) resolved: Notify,
}

pub(super) struct ImportState {
    /// Times the peer introduced this id and we have not released it.
    pub(super) remote_refcount: u64,
    /// Whether a `pull` was sent (or is implied, for `["promise", id]`).
    pub(super) pulled: bool,
    /// The resolution, once the peer resolved or rejected it (or the session ended).
    pub(super) resolution: Option<Hook>,
    /// Callbacks to run if the session ends before the resolution.
    pub(super) on_broken: Vec<BrokenCallback>,
}

impl ImportEntry {
    pub(super) fn new(session: Arc<SessionInner>, id: i64, pulled: bool) -> ImportEntry {
        ImportEntry {
            session,
            id,
            state: Mutex::new(ImportState {
                remote_refcount: 1,
                pulled,
                resolution: None,
                on_broken: Vec::new(),
            }),
            resolved: Notify::new(),
        }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, ImportState> {
        // Updates are single assignments; a poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn resolution(&self) -> Option<Hook> {
        self.lock().resolution.clone()
    }

    /// Settles the entry; returns the `on_broken` callbacks to run if it broke.
    pub(super) fn settle(&self, resolution: Hook) -> Vec<BrokenCallback> {
        let mut state = self.lock();
        if state.resolution.is_some() {
            return Vec::new();
        }
        let broken = matches!(resolution, Hook::Error(_));
        state.resolution = Some(resolution);
        let callbacks = std::mem::take(&mut state.on_broken);
        drop(state);
        self.resolved.notify_waiters();
        if broken {
            callbacks
        } else {
            Vec::new()
        }
    }
}

impl Drop for ImportEntry {
    fn drop(&mut self) {
        let count = self.state.get_mut().map(|s| s.remote_refcount).unwrap_or(0);
        self.session
            .on_import_dropped(self.id, count, self as *const ImportEntry as usize);
    }
}

/// A hook on an import: the entry, and whether this reference is a promise (can be pulled) or
/// a stub.
#[derive(Clone)]
pub(crate) struct ImportRef {
    pub(super) entry: Arc<ImportEntry>,
    pub(super) promise: bool,
}

impl ImportRef {
    pub(crate) fn id(&self) -> i64 {
        self.entry.id
    }

    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.entry) as usize
    }

    pub(crate) fn belongs_to(&self, session: &SessionInner) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.entry.session), session)
    }

    pub(crate) fn call(&self, path: &[PathKey], args: Vec<Value>) -> Hook {
        match self.entry.resolution() {
            Some(resolution) => resolution.call(path, args),
            None => self.entry.session.send_call(&self.entry, path, Some(args)),
        }
    }

    pub(crate) fn get(&self, path: &[PathKey]) -> Hook {
        match self.entry.resolution() {
            Some(resolution) => resolution.get(path),
            None => self.entry.session.send_call(&self.entry, path, None),
        }
    }

    pub(crate) fn map(
        &self,
        path: &[PathKey],
        captures: Vec<Hook>,
        instructions: Vec<Expr>,
    ) -> Hook {
        match self.entry.resolution() {
            Some(resolution) => resolution.map(path, captures, instructions),
            None => self
                .entry
                .session
                .send_map(&self.entry, path, captures, instructions),
        }
    }

    pub(crate) fn pull(&self) -> BoxFuture<'static, Result<Value, Error>> {
        if !self.promise {
            if let Some(resolution) = self.entry.resolution() {
                return resolution.pull();
            }
            return Box::pin(std::future::ready(Err(Error::from(crate::RpcError::type_error(
                "this is a stub, not a promise: there is nothing to await (call a method instead)",
            )))));
        }
        let entry = Arc::clone(&self.entry);
        Box::pin(async move {
            entry.session.send_pull(&entry);
            loop {
                let notified = entry.resolved.notified();
                if let Some(resolution) = entry.resolution() {
                    return resolution.pull().await;
                }
                notified.await;
            }
        })
    }

    pub(crate) fn on_broken(&self, callback: Box<dyn FnOnce(&Error) + Send>) {
        let mut state = self.entry.lock();
        match &state.resolution {
            Some(resolution) => {
                let resolution = resolution.clone();
                drop(state);
                resolution.on_broken(callback);
            }
            None => state.on_broken.push(callback),
        }
    }

    /// Whether this import is still waiting for the peer (so it can be pipelined on by id).
    pub(crate) fn is_pending(&self) -> bool {
        self.entry.lock().resolution.is_none()
    }
}
