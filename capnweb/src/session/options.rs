//! [`SessionOptions`]: limits and the error hook, set per session.

use std::sync::Arc;

use super::Session;
use crate::error::RpcError;
use crate::wire::Limits;

type SendErrorHook = Arc<dyn Fn(&RpcError) -> Option<RpcError> + Send + Sync>;
type StartHook = Arc<dyn Fn(&Session) + Send + Sync>;

/// Per-session settings.
///
/// ```
/// use capnweb::{Limits, RpcError, SessionOptions};
///
/// let options = SessionOptions::default()
///     .limits(Limits::default().max_depth(64))
///     // Send stacks to the peer (they are redacted by default).
///     .on_send_error(|e: &RpcError| Some(e.clone()));
/// # let _ = options;
/// ```
#[derive(Clone, Default)]
pub struct SessionOptions {
    pub(crate) limits: Limits,
    pub(crate) on_send_error: Option<SendErrorHook>,
    pub(crate) on_start: Option<StartHook>,
}

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("limits", &self.limits)
            .field("on_send_error", &self.on_send_error.is_some())
            .field("on_start", &self.on_start.is_some())
            .finish()
    }
}

impl SessionOptions {
    /// The limits enforced on what the peer sends (defaults: the reference's).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Called for every error this session sends (a failed call, an abort). Return `Some` to
    /// send that error instead, *stack included*; return `None` to send the original with its
    /// stack removed (the default when no hook is set). Use it to log, redact or reveal.
    ///
    /// The hook runs while the session's tables are locked: it must not call into the session.
    pub fn on_send_error(
        mut self,
        hook: impl Fn(&RpcError) -> Option<RpcError> + Send + Sync + 'static,
    ) -> Self {
        self.on_send_error = Some(Arc::new(hook));
        self
    }

    /// Called with every session started with these options, as it starts: to keep a handle
    /// for metrics, logging or tests (a server's sessions are otherwise out of reach).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # let sessions: Arc<Mutex<Vec<capnweb::Session>>> = Arc::default();
    /// let seen = sessions.clone();
    /// let options = capnweb::SessionOptions::default()
    ///     .on_start(move |session| seen.lock().unwrap().push(session.clone()));
    /// # let _ = options;
    /// ```
    pub fn on_start(mut self, hook: impl Fn(&Session) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(hook));
        self
    }
}
