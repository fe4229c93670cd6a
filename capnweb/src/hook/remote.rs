//! [`Remote`]: what a hook needs from a session to use one of its imports. The session
//! implements it; this layer only calls it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::Hook;
use crate::error::BrokenCallback;
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// An entry on a session's import table: an object or promise on the peer's side.
pub(crate) trait Remote: Send + Sync + 'static {
    /// The import id.
    fn id(&self) -> i64;
    /// Identifies the session the import belongs to.
    fn session_key(&self) -> usize;
    /// Calls `path` with `args`, or reads it (`None`): sent to the peer at once while the
    /// import is pending (pipelining), applied to the resolution once there is one.
    fn call(&self, path: &[PathKey], args: Option<Vec<Value>>) -> Hook;
    /// Calls `path` with `args` as a `stream` message (a write to a writable stream): already
    /// pulled, released by its settling, never pipelined on. Returns the promise of its
    /// settling and, when it was sent to the peer, the message's size in bytes. `prepared`,
    /// from [`prepare_stream`](Remote::prepare_stream) for the same path and args, is sent
    /// instead of encoding the message again.
    fn stream(
        &self,
        path: &[PathKey],
        args: Vec<Value>,
        prepared: Option<PreparedStream>,
    ) -> (Hook, Option<usize>);
    /// The `stream` message [`stream`](Remote::stream) would send for `path` and `args`,
    /// encoded ahead of time (a writer encodes its next chunk while the last is in flight);
    /// `None` where it cannot be encoded ahead (see the session's `prepare_stream`).
    fn prepare_stream(&self, _path: &[PathKey], _args: &[Value]) -> Option<PreparedStream> {
        None
    }
    /// Applies `.map()` instructions to the value at `path`, the same way.
    fn map(&self, path: &[PathKey], captures: Vec<Hook>, instructions: Vec<Expr>) -> Hook;
    /// The resolution of a promise import: asks the peer for it the first time (`asked` is
    /// then set), and is ready once it arrived. With `unique` (the caller holds the only
    /// reference) the resolution is taken out rather than shared.
    fn poll_resolution(&self, cx: &mut Context<'_>, asked: &mut bool, unique: bool) -> Poll<Hook>;
    /// The resolution, if the peer sent it.
    fn settled(&self) -> Option<Hook>;
    /// Runs `callback` if the session ends before the import resolves.
    fn on_broken(&self, callback: BrokenCallback);
    /// Whether the peer has not resolved it yet (so it can still be referred to by id).
    fn is_pending(&self) -> bool;
    /// For a batching transport: asks for what was queued to be sent.
    fn request_flush(&self) -> Option<Arc<dyn Fn() + Send + Sync>>;
    /// How long the session waits for an awaited result, unless the call says otherwise.
    fn call_timeout(&self) -> Option<Duration>;
}

/// A `stream` message encoded ahead of time, for one import of one session.
pub(crate) struct PreparedStream {
    /// The message's text.
    pub(crate) text: String,
    /// The import it calls, and that import's session.
    pub(crate) import: i64,
    pub(crate) session: usize,
}

/// A hook on an import: the entry, and whether this reference is a promise (can be pulled) or
/// a stub.
#[derive(Clone)]
pub(crate) struct RemoteRef {
    pub(crate) entry: Arc<dyn Remote>,
    pub(crate) promise: bool,
}
