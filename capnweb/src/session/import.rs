//! [`ImportEntry`]: an object or promise on the peer's side, as this session knows it. It is
//! the session's implementation of the hook layer's [`Remote`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use smallvec::SmallVec;

use super::SessionCore;
use crate::error::BrokenCallback;
use crate::hook::{Hook, PreparedStream, Remote, RemoteRef};
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// See the module docs.
pub(crate) struct ImportEntry {
    pub(super) core: Arc<SessionCore>,
    pub(super) id: i64,
    state: Mutex<ImportState>,
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
    /// Tasks waiting for the resolution (nearly always one).
    waiters: SmallVec<[Waker; 1]>,
}

impl ImportEntry {
    pub(super) fn new(core: Arc<SessionCore>, id: i64, pulled: bool) -> ImportEntry {
        core.entry_created();
        ImportEntry {
            core,
            id,
            state: Mutex::new(ImportState {
                remote_refcount: 1,
                pulled,
                resolution: None,
                on_broken: Vec::new(),
                waiters: SmallVec::new(),
            }),
        }
    }

    /// A hook on this entry.
    pub(super) fn hook(self: Arc<Self>, promise: bool) -> Hook {
        Hook::Remote(RemoteRef {
            entry: self,
            promise,
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, ImportState> {
        // Updates are single assignments; a poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn resolution(&self) -> Option<Hook> {
        self.lock().resolution.clone()
    }

    /// Whether its result was asked for and has not arrived.
    pub(super) fn awaited(&self) -> bool {
        let state = self.lock();
        state.pulled && state.resolution.is_none()
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
        let waiters = std::mem::take(&mut state.waiters);
        drop(state);
        waiters.into_iter().for_each(Waker::wake);
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
        self.core
            .import_dropped(self.id, count, self as *const ImportEntry as usize);
    }
}

impl Remote for ImportEntry {
    fn id(&self) -> i64 {
        self.id
    }

    fn session_key(&self) -> usize {
        self.core.key()
    }

    fn call(&self, path: &[PathKey], args: Option<Vec<Value>>) -> Hook {
        match (self.resolution(), args) {
            (Some(resolution), Some(args)) => resolution.call(path, args),
            (Some(resolution), None) => resolution.get(path),
            (None, args) => self.core.send_call(self.id, path, args),
        }
    }

    fn stream(
        &self,
        path: &[PathKey],
        args: Vec<Value>,
        prepared: Option<PreparedStream>,
    ) -> (Hook, Option<usize>) {
        match self.resolution() {
            // Resolved: the call goes to the resolution (a message prepared for the import
            // is not used).
            Some(resolution) => crate::stream::stream_call(&resolution, path, args, None),
            None => self.core.send_stream(self.id, path, args, prepared),
        }
    }

    fn prepare_stream(&self, path: &[PathKey], args: &[Value]) -> Option<PreparedStream> {
        match self.resolution() {
            Some(_) => None,
            None => self.core.prepare_stream(self.id, path, args),
        }
    }

    fn map(&self, path: &[PathKey], captures: Vec<Hook>, instructions: Vec<Expr>) -> Hook {
        match self.resolution() {
            Some(resolution) => crate::evaluate::map(&resolution, path, captures, instructions),
            None => self.core.send_map(self.id, path, captures, instructions),
        }
    }

    fn poll_resolution(&self, cx: &mut Context<'_>, asked: &mut bool, unique: bool) -> Poll<Hook> {
        loop {
            {
                let mut state = self.lock();
                if state.resolution.is_some() {
                    let resolution = if unique {
                        state.resolution.take()
                    } else {
                        state.resolution.clone()
                    };
                    if let Some(resolution) = resolution {
                        return Poll::Ready(resolution);
                    }
                }
                if *asked {
                    if !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                        state.waiters.push(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
            *asked = true;
            // Takes the session's lock, so not while holding the entry's.
            self.core.send_pull(self);
        }
    }

    fn settled(&self) -> Option<Hook> {
        self.resolution()
    }

    fn on_broken(&self, callback: BrokenCallback) {
        let mut state = self.lock();
        match &state.resolution {
            Some(resolution) => {
                let resolution = resolution.clone();
                drop(state);
                resolution.on_broken(callback);
            }
            None => state.on_broken.push(callback),
        }
    }

    fn is_pending(&self) -> bool {
        self.lock().resolution.is_none()
    }

    fn request_flush(&self) -> Option<Arc<dyn Fn() + Send + Sync>> {
        self.core.flush.clone()
    }

    fn call_timeout(&self) -> Option<std::time::Duration> {
        self.core.options.call_timeout
    }
}
