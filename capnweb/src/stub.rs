//! The untyped client API: [`Stub`] and [`RpcPromise`].

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::hook::{self, Hook};
use crate::target::{CallResult, FnTarget, RpcTarget};
use crate::value::{from_value, Value};
use crate::wire::PathKey;

/// A capability: a reference to an object that can be called, local or remote.
///
/// `Stub::new(object)` wraps a local [`RpcTarget`]; a stub received from a peer has the same
/// type. Cloning a stub duplicates the reference; dropping the last clone releases the object
/// (for a remote one, the peer is told).
///
/// Every call returns an [`RpcPromise`] at once. Nothing is sent or awaited until needed: calls
/// on a promise's result are pipelined.
///
/// ```
/// use capnweb::{Stub, Value};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let double = Stub::from_fn(|args: Vec<Value>| async move {
///     Ok(Value::from(args[0].as_f64().unwrap_or(0.0) * 2.0))
/// });
/// assert_eq!(double.call_self(vec![Value::from(21)]).await.unwrap(), Value::from(42));
/// # }
/// ```
#[derive(Clone)]
pub struct Stub {
    hook: Hook,
}

impl std::fmt::Debug for Stub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stub({:?})", self.hook)
    }
}

impl Stub {
    /// Wraps a local object.
    pub fn new<T: RpcTarget>(target: T) -> Stub {
        Stub::from_target(Arc::new(target))
    }

    /// Wraps a local object that is already shared.
    pub fn from_target(target: Arc<dyn RpcTarget>) -> Stub {
        Stub {
            hook: Hook::Target(hook::TargetCell::new(target)),
        }
    }

    /// Wraps an async function as a callable capability (a callback a peer can call).
    pub fn from_fn<F, Fut>(function: F) -> Stub
    where
        F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CallResult> + Send + 'static,
    {
        Stub::new(FnTarget(function))
    }

    /// Calls `method` with `args`.
    pub fn call(&self, method: &str, args: Vec<Value>) -> RpcPromise<Value> {
        RpcPromise::from_hook(call(&self.hook, &[PathKey::from(method)], args))
    }

    /// Calls the object itself as a function (for function capabilities).
    pub fn call_self(&self, args: Vec<Value>) -> RpcPromise<Value> {
        RpcPromise::from_hook(call(&self.hook, &[], args))
    }

    /// Reads `property`. Nothing is sent until the promise is awaited or used.
    pub fn get(&self, property: &str) -> RpcPromise<Value> {
        RpcPromise::with_path(self.hook.clone(), vec![PathKey::from(property)])
    }

    /// Runs `callback` if the connection this stub depends on breaks.
    pub fn on_broken(&self, callback: impl FnOnce(&Error) + Send + 'static) {
        self.hook.on_broken(Box::new(callback));
    }

    /// Whether both stubs refer to the same object through the same path.
    pub fn same_target(&self, other: &Stub) -> bool {
        self.hook.identity().is_some() && self.hook.identity() == other.hook.identity()
    }

    pub(crate) fn from_hook(hook: Hook) -> Stub {
        Stub { hook }
    }

    pub(crate) fn hook(&self) -> &Hook {
        &self.hook
    }

    pub(crate) fn into_hook(self) -> Hook {
        self.hook
    }
}

/// A call made through the stub layer: recorded if a `.map()` mapper is running on this
/// thread, made otherwise.
fn call(hook: &Hook, path: &[PathKey], args: Vec<Value>) -> Hook {
    match crate::record::intercept_call(hook, path, &args) {
        Some(recorded) => recorded,
        None => hook.call(path, args),
    }
}

/// A property read made through the stub layer (see [`call`]).
fn get(hook: &Hook, path: &[PathKey]) -> Hook {
    match crate::record::intercept_get(hook, path) {
        Some(recorded) => recorded,
        None => hook.get(path),
    }
}

/// Types that wrap a [`Stub`]: `Stub` itself and the typed stubs `#[rpc_target]` generates.
pub trait FromStub: Sized {
    /// Wraps `stub`.
    fn from_stub(stub: Stub) -> Self;
}

impl FromStub for Stub {
    fn from_stub(stub: Stub) -> Stub {
        stub
    }
}

/// A promise for the result of a call or a property read, typed by what it resolves to.
///
/// Awaiting it sends a `pull` and waits for the result, decoded as `T`. Without awaiting, it
/// can still be used: call methods on it or pass it as an argument, and the call is pipelined
/// (sent at once, referring to the result the peer has not produced yet). Dropping a promise
/// that was never awaited releases it without asking for the result.
#[must_use = "a promise does nothing until it is awaited, or used in a call or a pipeline; dropping it releases the result"]
pub struct RpcPromise<T = Value> {
    hook: Hook,
    /// A property path not yet read (reading is lazy: `promise.get("x")` sends nothing).
    path: Vec<PathKey>,
    /// For a promise of a typed stub: the pipelined stub `Deref` hands out.
    view: OnceLock<Box<T>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RpcPromise<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RpcPromise({:?}, path {:?})", self.hook, self.path)
    }
}

impl<T> Clone for RpcPromise<T> {
    fn clone(&self) -> Self {
        RpcPromise::with_path(self.hook.clone(), self.path.clone())
    }
}

impl<T> RpcPromise<T> {
    pub(crate) fn from_hook(hook: Hook) -> Self {
        RpcPromise::with_path(hook, Vec::new())
    }

    /// A promise that is already resolved to `value`.
    pub(crate) fn resolved(value: Value) -> Self {
        RpcPromise::from_hook(Hook::from_value(value))
    }

    fn with_path(hook: Hook, path: Vec<PathKey>) -> Self {
        RpcPromise {
            hook,
            path,
            view: OnceLock::new(),
            _t: PhantomData,
        }
    }

    /// The pipelined view of this promise as `T`, made on first use.
    pub(crate) fn pipelined_view(&self, make: impl FnOnce(Stub) -> T) -> &T {
        self.view
            .get_or_init(|| Box::new(make(RpcPromise::as_stub(self))))
    }

    pub(crate) fn hook(&self) -> &Hook {
        &self.hook
    }

    pub(crate) fn path(&self) -> &[PathKey] {
        &self.path
    }

    /// The hook of the value itself (the pending property read made real).
    pub(crate) fn into_hook(self) -> Hook {
        if self.path.is_empty() {
            self.hook
        } else {
            get(&self.hook, &self.path)
        }
    }

    /// `promise` (of any type), decoded as `T` when awaited: the target type is the one this
    /// `RpcPromise<T>` names, written as `RpcPromise::<T>::cast(promise)` or left to inference
    /// (`let p: RpcPromise<T> = RpcPromise::cast(promise)`).
    ///
    /// The source type cannot be named: `RpcPromise::cast::<U>(…)` does not compile (the
    /// parameter is `impl Sized`), so no call reads as one type while meaning another.
    ///
    /// An associated function, so that it never hides a method of the typed stub a promise
    /// dereferences to. For a field of a struct result, [`RpcPromise::fields`] is typed and
    /// needs no cast.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// use capnweb::{RpcPromise, Stub, Value};
    ///
    /// let api = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(42)) });
    /// let untyped: RpcPromise<Value> = api.call_self(vec![]);
    /// let answer = RpcPromise::<u64>::cast(untyped);     // names the target: RpcPromise<u64>
    /// assert_eq!(answer.await?, 42);
    ///
    /// let inferred: RpcPromise<String> = RpcPromise::cast(api.call_self(vec![]));
    /// assert!(inferred.await.is_err());                  // 42 is not a string
    /// # Ok(()) }
    /// ```
    pub fn cast(promise: RpcPromise<impl Sized>) -> RpcPromise<T> {
        RpcPromise::with_path(promise.hook, promise.path)
    }

    /// The same promise, resolving to a [`Value`] (for the untyped operations: `get`, `call`,
    /// `map`). Called as `RpcPromise::untyped(promise)`; see [`RpcPromise::cast`].
    pub fn untyped(promise: Self) -> RpcPromise<Value> {
        RpcPromise::<Value>::cast(promise)
    }

    /// A stub for the result, for pipelining calls on it before it resolves. Called as
    /// `RpcPromise::as_stub(&promise)`; see [`RpcPromise::cast`].
    pub fn as_stub(promise: &Self) -> Stub {
        Stub::from_hook(promise.clone().into_hook())
    }

    /// Awaits the result for at most `timeout`, then fails with [`Error::TimedOut`] and
    /// releases it (see [`RpcFuture::timeout`]). Called as `RpcPromise::timeout(promise, d)`;
    /// see [`RpcPromise::cast`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use capnweb::{RpcPromise, Stub, Value};
    ///
    /// let slow = Stub::from_fn(|_args: Vec<Value>| async {
    ///     tokio::time::sleep(Duration::from_secs(60)).await;
    ///     Ok(Value::from("late"))
    /// });
    /// let outcome = RpcPromise::timeout(slow.call_self(vec![]), Duration::from_millis(10)).await;
    /// assert!(outcome.unwrap_err().is_timeout());
    /// # }
    /// ```
    pub fn timeout(promise: Self, timeout: Duration) -> RpcFuture<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        promise.into_future().timeout(timeout)
    }

    /// Whether both promises are for the same result. Called as
    /// `RpcPromise::same_target(&a, &b)`; see [`RpcPromise::cast`].
    pub fn same_target(promise: &Self, other: &Self) -> bool {
        promise.path == other.path
            && promise.hook.identity().is_some()
            && promise.hook.identity() == other.hook.identity()
    }
}

/// The untyped operations, on promises of a [`Value`]. A typed promise has none of them, so a
/// promise of a typed stub (which dereferences to the stub, for pipelining) never hides the
/// stub's own methods, whatever their names; `RpcPromise::untyped(promise)` gives them back.
impl RpcPromise<Value> {
    /// Calls `method` on the result (pipelined: sent now, without waiting for the result).
    pub fn call(&self, method: &str, args: Vec<Value>) -> RpcPromise<Value> {
        let mut path = self.path.clone();
        path.push(PathKey::from(method));
        RpcPromise::from_hook(call(&self.hook, &path, args))
    }

    /// Calls the result itself as a function (pipelined).
    pub fn call_self(&self, args: Vec<Value>) -> RpcPromise<Value> {
        RpcPromise::from_hook(call(&self.hook, &self.path, args))
    }

    /// A promise for `property` of the result. Nothing is sent until it is awaited or used.
    pub fn get(&self, property: &str) -> RpcPromise<Value> {
        let mut path = self.path.clone();
        path.push(PathKey::from(property));
        RpcPromise::with_path(self.hook.clone(), path)
    }

    /// Applies `mapper` to the result on the peer's side: to each element of an array, to a
    /// single value once, and not at all to `null`/`undefined`. The closure runs once, here,
    /// to record what it does with its input (a placeholder); only calls may be made on it.
    /// The whole `.map()` costs no extra round trip.
    ///
    /// ```
    /// # use capnweb::{RpcPromise, Stub, Value};
    /// # fn example(api: Stub) -> RpcPromise<Value> {
    /// api.call("listUserIds", vec![]).map(|id| api.call("getUser", vec![id.into()]).get("name"))
    /// # }
    /// ```
    pub fn map<R: Into<Value>>(
        &self,
        mapper: impl FnOnce(RpcPromise<Value>) -> R,
    ) -> RpcPromise<Value> {
        record_typed_map(self, |input| Ok(mapper(input).into()))
    }
}

/// The future of an awaited [`RpcPromise`].
pub struct RpcFuture<T> {
    state: Awaiting,
    /// For batching transports: asked to send once this task has yielded.
    flush: Option<Arc<dyn Fn() + Send + Sync>>,
    polled: u8,
    /// How long to wait for the result, and, once polled, the timer.
    timeout: Option<Duration>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> RpcFuture<T> {
    /// Waits at most `timeout` for the result (counted from the first poll), then fails with
    /// [`Error::TimedOut`] and releases the result. It replaces the session's
    /// [`call_timeout`](crate::SessionOptions::call_timeout) for this call.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use capnweb::{Stub, Value};
    /// use std::future::IntoFuture;
    ///
    /// let never = Stub::from_fn(|_args: Vec<Value>| std::future::pending());
    /// let outcome = never.call_self(vec![]).into_future().timeout(Duration::from_millis(10)).await;
    /// assert!(outcome.unwrap_err().is_timeout());
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.timer = None;
        self
    }
}

/// Where an [`RpcFuture`] is.
enum Awaiting {
    /// Waiting for the resolution.
    Pulling(hook::Pull),
    /// Replacing promises inside the resolution with theirs.
    Resolving(hook::Pull),
    /// The result was handed out.
    Done,
}

impl<T> std::fmt::Debug for RpcFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcFuture")
    }
}

impl<T: DeserializeOwned> Future for RpcFuture<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        let this = &mut *self;
        if let Some(after) = this.timeout {
            let timer = this
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
            if timer.as_mut().poll(cx).is_ready() && !matches!(this.state, Awaiting::Done) {
                // Dropping what it waits for releases the result.
                this.state = Awaiting::Done;
                return Poll::Ready(Err(Error::TimedOut { after }));
            }
        }
        if let Some(flush) = &this.flush {
            // A batch goes out at the end of the current "tick": the first poll queues the
            // pull and yields once, so every other call the task makes before it waits (e.g. in
            // a `join!`) joins the same batch; the second poll sends it.
            match this.polled {
                0 => {
                    this.polled = 1;
                    if let Poll::Ready(out) = this.advance(cx) {
                        return Poll::Ready(out);
                    }
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                1 => {
                    this.polled = 2;
                    flush();
                }
                _ => {}
            }
        }
        this.advance(cx)
    }
}

impl<T: DeserializeOwned> RpcFuture<T> {
    fn advance(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        loop {
            let value = match &mut self.state {
                Awaiting::Pulling(pull) => match ready!(Pin::new(pull).poll(cx)) {
                    Ok(value) if value.contains_promise() => {
                        self.state = Awaiting::Resolving(hook::resolve_deep(value));
                        continue;
                    }
                    outcome => outcome,
                },
                Awaiting::Resolving(resolving) => ready!(Pin::new(resolving).poll(cx)),
                Awaiting::Done => return Poll::Pending,
            };
            self.state = Awaiting::Done;
            return Poll::Ready(value.and_then(from_value::<T>));
        }
    }
}

impl<T: DeserializeOwned + Send + 'static> IntoFuture for RpcPromise<T> {
    type Output = Result<T, Error>;
    type IntoFuture = RpcFuture<T>;

    fn into_future(self) -> RpcFuture<T> {
        let flush = self.hook.batch_flush();
        // The pull holds what it needs; without the hook, it may be the last holder and take
        // the value instead of copying it.
        let pull = self.into_hook().pull();
        RpcFuture {
            timeout: pull.call_timeout(),
            timer: None,
            state: Awaiting::Pulling(pull),
            flush,
            polled: 0,
            _t: PhantomData,
        }
    }
}

/// Records `mapper` on a typed placeholder; `to_value` turns its result into the value the
/// recorder encodes as the last instruction.
pub(crate) fn record_typed_map<S, T, O>(
    promise: &RpcPromise<S>,
    mapper: impl FnOnce(RpcPromise<T>) -> Result<Value, Error>,
) -> RpcPromise<O> {
    let hook = crate::record::record_map(promise.hook(), promise.path(), |input: Hook| {
        mapper(RpcPromise::from_hook(input))
    });
    RpcPromise::from_hook(hook)
}
