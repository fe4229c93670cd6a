//! [`LocalPromise`]: a promise for a local hook. Operations on it queue up, in order, until it
//! resolves; then each is applied to the resolution.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use smallvec::SmallVec;

use super::scope;
use super::Hook;
use crate::error::Error;
use crate::value::Value;

/// An operation waiting for the resolution; it returns the hook of its own result.
type Op = Box<dyn FnOnce(&Hook) -> Hook + Send>;

/// Told the resolution once it is known (the session sends it to the peer).
pub(crate) type Observer = Box<dyn FnOnce(&Hook) + Send>;

enum State {
    /// Not resolved; operations wait here in arrival order.
    Pending {
        ops: Vec<(Op, Arc<LocalPromise>)>,
        waiters: SmallVec<[Waker; 1]>,
        observers: Vec<Observer>,
    },
    /// Resolved; the queue is being handed over (new operations still queue, keeping order).
    Dispatching(Hook, Vec<(Op, Arc<LocalPromise>)>),
    /// Resolved and the queue is empty: operations go straight to the resolution.
    Settled(Hook),
}

/// See the module docs.
pub(crate) struct LocalPromise {
    state: Mutex<State>,
}

impl LocalPromise {
    pub(crate) fn new() -> Arc<LocalPromise> {
        Arc::new(LocalPromise {
            state: Mutex::new(State::Pending {
                ops: Vec::new(),
                waiters: SmallVec::new(),
                observers: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single assignment or push, so a poisoned lock is consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `op` to the resolution: now if there is one, else once it arrives (in the order
    /// operations were queued). Returns the hook of the operation's result.
    pub(crate) fn then(&self, op: impl FnOnce(&Hook) -> Hook + Send + 'static) -> Hook {
        let mut state = self.lock();
        match &mut *state {
            State::Pending { ops, .. } | State::Dispatching(_, ops) => {
                let child = LocalPromise::new();
                // A call queued here is still the caller's when it runs (see `scope`).
                let scope = scope::current();
                let op = move |resolution: &Hook| scope::within(scope, || op(resolution));
                ops.push((Box::new(op), Arc::clone(&child)));
                Hook::Promise(child)
            }
            State::Settled(resolution) => {
                let resolution = resolution.clone();
                drop(state);
                op(&resolution)
            }
        }
    }

    /// The resolution, if it is known.
    pub(crate) fn resolution(&self) -> Option<Hook> {
        match &*self.lock() {
            State::Pending { .. } => None,
            State::Dispatching(hook, _) | State::Settled(hook) => Some(hook.clone()),
        }
    }

    /// Runs `observer` with the resolution: at once if it is known, else when it arrives.
    pub(crate) fn when_settled(&self, observer: Observer) {
        let mut state = self.lock();
        match &mut *state {
            State::Pending { observers, .. } => observers.push(observer),
            State::Dispatching(hook, _) | State::Settled(hook) => {
                let hook = hook.clone();
                drop(state);
                observer(&hook);
            }
        }
    }

    /// Settles the promise: hands every queued operation to the resolution in order, then
    /// wakes whoever waits and tells the observers.
    pub(crate) fn resolve(&self, resolution: Hook) {
        let (waiters, observers) = {
            let mut state = self.lock();
            let State::Pending {
                ops,
                waiters,
                observers,
            } = &mut *state
            else {
                return;
            };
            let taken = (
                std::mem::take(ops),
                std::mem::take(waiters),
                std::mem::take(observers),
            );
            *state = State::Dispatching(resolution.clone(), taken.0);
            (taken.1, taken.2)
        };
        loop {
            let batch = {
                let mut state = self.lock();
                let State::Dispatching(_, ops) = &mut *state else {
                    return;
                };
                let batch = std::mem::take(ops);
                if batch.is_empty() {
                    *state = State::Settled(resolution.clone());
                    break;
                }
                batch
            };
            for (op, child) in batch {
                // Chains of pipelined calls resolve one inside the other: keep the stack safe.
                crate::stack::guarded(|| child.resolve(op(&resolution)));
            }
        }
        waiters.into_iter().for_each(Waker::wake);
        observers
            .into_iter()
            .for_each(|observer| observer(&resolution));
    }

    /// Waits until resolved; returns the resolution.
    pub(crate) fn settled(self: &Arc<Self>) -> Settled {
        Settled {
            promise: Arc::clone(self),
        }
    }
}

/// The future of [`LocalPromise::settled`].
pub(crate) struct Settled {
    promise: Arc<LocalPromise>,
}

impl Future for Settled {
    type Output = Hook;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Hook> {
        let mut state = self.promise.lock();
        match &mut *state {
            State::Pending { waiters, .. } => {
                if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    waiters.push(cx.waker().clone());
                }
                Poll::Pending
            }
            State::Dispatching(hook, _) | State::Settled(hook) => Poll::Ready(hook.clone()),
        }
    }
}

pub(super) fn no_runtime() -> Error {
    Error::NoRuntime
}

impl LocalPromise {
    /// A promise resolved by `future`, which runs as a task.
    pub(crate) fn spawn<F>(future: F) -> Hook
    where
        F: Future<Output = Result<Value, Error>> + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Hook::Error(no_runtime());
        };
        let promise = LocalPromise::new();
        let resolver = Arc::clone(&promise);
        drop(runtime.spawn(async move { resolver.resolve(Hook::from_result(future.await)) }));
        Hook::Promise(promise)
    }
}
