//! Whose call is this? The ambient scope that tells a local object's call it was made by a
//! session's peer, so that the session's interceptor, handler timeout, counters and tracing
//! apply to it.
//!
//! A session sets the scope while it evaluates a message from its peer; every call that
//! evaluation starts on a local object runs under it. A call that cannot start at once (its
//! target is a promise still running, its arguments are not ready) keeps the scope it was made
//! in and runs under it later. User code (a method's body) always runs outside any scope, so a
//! method calling other local objects is not taken for the peer.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::context::RequestContext;
use crate::intercept::Interceptor;

/// How a session serves its peer's calls, and what it counts of them.
pub(crate) struct Served {
    pub(crate) interceptor: Option<Arc<dyn Interceptor>>,
    pub(crate) context: Option<RequestContext>,
    /// How long one call may run.
    pub(crate) timeout: Option<Duration>,
    /// The session's span: each call's span is its child.
    pub(crate) span: tracing::Span,
    calls: AtomicU64,
    errors: AtomicU64,
}

impl Served {
    pub(crate) fn new(
        interceptor: Option<Arc<dyn Interceptor>>,
        context: Option<RequestContext>,
        timeout: Option<Duration>,
        span: tracing::Span,
    ) -> Served {
        Served {
            interceptor,
            context,
            timeout,
            span,
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    pub(crate) fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Calls the peer made here, and how many of them failed.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.calls.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

/// The scope of one message from a peer: its session's [`Served`], and the id its `push`
/// took (if it is one).
#[derive(Clone)]
pub(crate) struct Scope {
    pub(crate) served: Arc<Served>,
    pub(crate) call_id: Option<i64>,
}

thread_local! {
    static CURRENT: Cell<Option<Scope>> = const { Cell::new(None) };
}

/// Puts the previous scope back, even if what ran under the other one panicked.
struct Restore(Option<Scope>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        // The scope being replaced is dropped here, outside the thread-local's access.
        drop(CURRENT.with(|current| current.replace(previous)));
    }
}

/// Runs `f` under `scope` (`None`: outside any scope).
pub(crate) fn within<R>(scope: Option<Scope>, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|current| current.replace(scope));
    let _restore = Restore(previous);
    f()
}

/// Takes the current scope out while a call starts: the call's user code runs outside any
/// scope; the scope is put back when the guard drops.
pub(crate) fn take() -> Taken {
    Taken(CURRENT.with(Cell::take))
}

/// The scope taken by [`take`], put back on drop.
pub(crate) struct Taken(Option<Scope>);

impl Taken {
    pub(crate) fn scope(&self) -> Option<&Scope> {
        self.0.as_ref()
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        let scope = self.0.take();
        drop(CURRENT.with(|current| current.replace(scope)));
    }
}

/// The current scope, for work that will run later (a queued call).
pub(crate) fn current() -> Option<Scope> {
    CURRENT.with(|current| {
        let scope = current.take();
        let copy = scope.clone();
        current.set(scope);
        copy
    })
}
