//! [`Interceptor`]: a hook around every call a session handles for its peer, for
//! authorization, metrics and logging.
//!
//! An interceptor is set in [`SessionOptions::interceptor`](crate::SessionOptions::interceptor)
//! (on a [`Server`](crate::Server), its sessions' options). It sees each call the peer makes on
//! any of this side's objects: the main object, objects returned or passed to the peer
//! (nested stubs), and calls inside a `.map()`. For each it learns the wire name, the target's
//! type and the session's [`RequestContext`]; it can deny the call
//! before the method runs, and it hears how the call ended and how long it took.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//! use capnweb::intercept::{CallInfo, Interceptor};
//! use capnweb::{RpcError, SessionOptions, Value};
//!
//! /// Only callers with an `x-role: admin` header may call `delete*` methods; every call is
//! /// counted, and failures logged.
//! #[derive(Default)]
//! struct Guard {
//!     calls: AtomicU64,
//! }
//!
//! impl Interceptor for Guard {
//!     fn before(&self, call: &CallInfo) -> Result<(), RpcError> {
//!         self.calls.fetch_add(1, Ordering::Relaxed);
//!         let admin = call.context().and_then(|c| c.header("x-role")) == Some("admin");
//!         if call.method().starts_with("delete") && !admin {
//!             return Err(RpcError::error(format!("{} is for administrators", call.method())));
//!         }
//!         Ok(())
//!     }
//!
//!     fn after(&self, call: &CallInfo, outcome: Result<&Value, &RpcError>, elapsed: Duration) {
//!         if let Err(e) = outcome {
//!             eprintln!("{}.{} failed after {elapsed:?}: {e}", call.target_type(), call.method());
//!         }
//!     }
//! }
//!
//! let options = SessionOptions::default().interceptor(Guard::default());
//! # let _ = options;
//! ```

use std::fmt;
use std::time::Duration;

use crate::context::RequestContext;
use crate::error::RpcError;
use crate::value::Value;

/// A hook around every call a session handles for its peer (see the [module docs](self)).
///
/// Both methods run on the session's task, in the order the calls start: keep them quick (no
/// blocking I/O), and do not call into the session from them.
pub trait Interceptor: Send + Sync + 'static {
    /// Called before the method runs. `Err` denies the call: the method does not run and the
    /// caller receives that error (then [`after`](Interceptor::after) hears of it too). The
    /// default allows every call.
    fn before(&self, call: &CallInfo) -> Result<(), RpcError> {
        let _ = call;
        Ok(())
    }

    /// Called once the call has ended: its result or error, and how long it ran (from just
    /// before the method started to its end; zero for a denied call). The default does
    /// nothing.
    fn after(&self, call: &CallInfo, outcome: Result<&Value, &RpcError>, elapsed: Duration) {
        let _ = (call, outcome, elapsed);
    }
}

/// What kind of call the peer made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallKind {
    /// A method call: `stub.method(args)`.
    Method,
    /// A property read: `stub.property`, awaited or used.
    Property,
    /// The object called as a function: `stub(args)` (a callback).
    Function,
}

/// One call the peer made, as an [`Interceptor`] sees it.
#[derive(Clone)]
pub struct CallInfo {
    kind: CallKind,
    name: String,
    target: &'static str,
    call_id: Option<i64>,
    context: Option<RequestContext>,
}

impl fmt::Debug for CallInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallInfo")
            .field("kind", &self.kind)
            .field("method", &self.name)
            .field("target_type", &self.target)
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl CallInfo {
    pub(crate) fn new(
        kind: CallKind,
        name: &str,
        target: &'static str,
        call_id: Option<i64>,
        context: Option<RequestContext>,
    ) -> CallInfo {
        CallInfo {
            kind,
            name: name.to_owned(),
            target,
            call_id,
            context,
        }
    }

    /// A method call, a property read, or a call of the object itself.
    pub fn kind(&self) -> CallKind {
        self.kind
    }

    /// The wire name: the method's (as the peer spells it, e.g. `getUser`), the property's,
    /// or `""` for a call of the object itself.
    pub fn method(&self) -> &str {
        &self.name
    }

    /// The type of the object called (`#[rpc_target]` types give their own name; a
    /// [`Stub::from_fn`](crate::Stub::from_fn) gives `"function"`).
    pub fn target_type(&self) -> &'static str {
        self.target
    }

    /// The id the peer's message took on the session's export table (the id the call's result
    /// is known by on the wire), when the call came in a `push`; calls nested in the same
    /// message share it.
    pub fn call_id(&self) -> Option<i64> {
        self.call_id
    }

    /// The request that opened the session, for a session a server accepted.
    pub fn context(&self) -> Option<&RequestContext> {
        self.context.as_ref()
    }
}
