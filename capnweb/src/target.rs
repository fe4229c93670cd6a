//! [`RpcTarget`]: the dynamic dispatch trait behind every local object reachable over RPC.
//!
//! `#[rpc_target]` implements this trait for you; implement it by hand only for dynamic
//! objects (proxies, objects whose methods are known at run time only).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::{RpcError, Value};

/// What a method call or property read produces: a value (which may hold stubs and promises) or
/// the error to send back.
pub type CallResult = Result<Value, RpcError>;

/// What an [`RpcTarget`] returns for a call or a property read: the result at once
/// ([`CallFuture::ready`], for a synchronous method: nothing is allocated), or a future that
/// produces it ([`CallFuture::new`]).
pub struct CallFuture(Outcome);

enum Outcome {
    Ready(Option<CallResult>),
    Running(Pin<Box<dyn Future<Output = CallResult> + Send + 'static>>),
}

impl CallFuture {
    /// A call that has finished: `result` is its outcome.
    pub fn ready(result: CallResult) -> CallFuture {
        CallFuture(Outcome::Ready(Some(result)))
    }

    /// A call still running: `future` produces its outcome.
    pub fn new(future: impl Future<Output = CallResult> + Send + 'static) -> CallFuture {
        CallFuture(Outcome::Running(Box::pin(future)))
    }

    /// The outcome, if the call has finished without being polled.
    pub(crate) fn try_ready(&mut self) -> Option<CallResult> {
        match &mut self.0 {
            Outcome::Ready(result) => result.take(),
            Outcome::Running(_) => None,
        }
    }
}

impl Future for CallFuture {
    type Output = CallResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CallResult> {
        match &mut self.0 {
            Outcome::Ready(result) => match result.take() {
                Some(result) => Poll::Ready(result),
                None => Poll::Pending,
            },
            Outcome::Running(future) => future.as_mut().poll(cx),
        }
    }
}

impl std::fmt::Debug for CallFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Outcome::Ready(_) => f.write_str("CallFuture(ready)"),
            Outcome::Running(_) => f.write_str("CallFuture(running)"),
        }
    }
}

/// An object that can be called over RPC.
///
/// Calls to one target start in the order they arrived (E-order): the session calls
/// [`RpcTarget::call`] and polls the returned future once, in arrival order, before it reads
/// the next message. Everything up to the method's first `.await` therefore runs in order.
///
/// The object is dropped when the last reference to it goes away: every [`Stub`](crate::Stub)
/// (local, or held by a peer through a session) and every call still running on it.
///
/// ```
/// use std::sync::Arc;
/// use capnweb::{CallFuture, RpcError, RpcTarget, Stub, Value};
///
/// struct Echo;
///
/// impl RpcTarget for Echo {
///     fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
///         let result = match method {
///             "echo" => Ok(args.into_iter().next().unwrap_or_default()),
///             _ => Err(RpcError::type_error(format!("'{method}' is not a method of Echo"))),
///         };
///         CallFuture::ready(result)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let stub = Stub::new(Echo);
/// let v = stub.call("echo", vec![Value::from("hi")]).await.unwrap();
/// assert_eq!(v, Value::from("hi"));
/// # }
/// ```
pub trait RpcTarget: Send + Sync + 'static {
    /// Calls `method` with `args` (already decoded, promises already resolved).
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture;

    /// Reads `property`. The default reads every property as `undefined`, as JavaScript does
    /// for a property that does not exist.
    fn get(self: Arc<Self>, property: &str) -> CallFuture {
        let _ = property;
        CallFuture::ready(Ok(Value::Undefined))
    }

    /// Calls the object itself as a function (a JavaScript peer passing a callback sends this).
    /// The default refuses: the object is not a function.
    fn call_self(self: Arc<Self>, args: Vec<Value>) -> CallFuture {
        let _ = args;
        let name = self.type_name();
        CallFuture::ready(Err(RpcError::type_error(format!(
            "{name} is not a function: call one of its methods instead"
        ))))
    }

    /// The name used for this target in error messages.
    fn type_name(&self) -> &'static str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }
}

/// A function exported as a capability: what [`Stub::from_fn`](crate::Stub::from_fn) wraps.
pub(crate) struct FnTarget<F>(pub(crate) F);

impl<F, Fut> RpcTarget for FnTarget<F>
where
    F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CallResult> + Send + 'static,
{
    fn call(self: Arc<Self>, method: &str, _args: Vec<Value>) -> CallFuture {
        let error = RpcError::type_error(format!(
            "'{method}' is not a method: this capability is a function; call it directly"
        ));
        CallFuture::ready(Err(error))
    }

    fn call_self(self: Arc<Self>, args: Vec<Value>) -> CallFuture {
        CallFuture::new((self.0)(args))
    }

    fn type_name(&self) -> &'static str {
        "function"
    }
}
