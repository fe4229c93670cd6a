//! [`SessionOptions`]: limits and the error hook, set per session.

use std::sync::Arc;

use crate::error::RpcError;
use crate::wire::Limits;

type SendErrorHook = Arc<dyn Fn(&RpcError) -> Option<RpcError> + Send + Sync>;

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
}

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("limits", &self.limits)
            .field("on_send_error", &self.on_send_error.is_some())
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
}
