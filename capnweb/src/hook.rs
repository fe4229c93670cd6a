//! [`Hook`]: the one abstraction behind every stub and promise.
//!
//! A hook is something calls can be made on: a remote import, a local target, a resolved local
//! value, a local promise still running, a broken reference, or a `.map()` placeholder. Every
//! operation returns a new hook at once (nothing waits), which is what makes pipelining work:
//! a call on a promise is queued (locally) or sent (remotely) before the promise resolves.
//! Cloning a hook is `dup()`; dropping the last clone releases what it refers to.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::sync::Notify;

use crate::error::Error;
use crate::record::{self, MapVar};
use crate::session::ImportRef;
use crate::target::{CallFuture, RpcTarget};
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// See the module docs.
#[derive(Clone)]
pub(crate) enum Hook {
    /// An entry on a session's import table: the peer's object or promise.
    Import(ImportRef),
    /// A local object.
    Target(Arc<TargetCell>),
    /// A resolved local value (which may itself hold stubs and promises).
    Payload(Arc<Value>),
    /// A local promise: a call still running, or a queue of calls waiting on one.
    Promise(Arc<LocalPromise>),
    /// A broken reference: every operation fails with this error.
    Error(Error),
    /// A placeholder inside a `.map()` recording.
    MapVar(MapVar),
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hook::Import(i) => write!(f, "Import({})", i.id()),
            Hook::Target(t) => write!(f, "Target({})", t.target.type_name()),
            Hook::Payload(v) => write!(f, "Payload({})", v.kind()),
            Hook::Promise(_) => f.write_str("LocalPromise"),
            Hook::Error(e) => write!(f, "Error({e})"),
            Hook::MapVar(v) => write!(f, "MapVar({})", v.index()),
        }
    }
}

impl Hook {
    /// A hook for a call result or a resolution: a promise becomes the promise's own hook (so
    /// pipelining chains through it); anything else is a payload.
    pub(crate) fn from_value(value: Value) -> Hook {
        match value {
            Value::Promise(p) => p.into_hook(),
            other => Hook::Payload(Arc::new(other)),
        }
    }

    /// A hook for the outcome of a call.
    pub(crate) fn from_result(result: Result<Value, Error>) -> Hook {
        match result {
            Ok(value) => Hook::from_value(value),
            Err(e) => Hook::Error(e),
        }
    }

    /// Calls the function at `path` (the empty path calls the target itself).
    pub(crate) fn call(&self, path: &[PathKey], args: Vec<Value>) -> Hook {
        if let Some(recorded) = record::intercept_call(self, path, &args) {
            return recorded;
        }
        match self {
            Hook::Import(import) => import.call(path, args),
            Hook::Target(target) => call_target(target, path, args),
            Hook::Payload(value) => match walk(value, path) {
                Walk::Forward(hook, rest) => hook.call(&rest, args),
                Walk::Found(Value::Stub(stub)) => stub.hook().call(&[], args),
                Walk::Found(v) => Hook::Error(type_error(format!(
                    "'{}' is not a function (it is {})",
                    join(path),
                    article(v.kind())
                ))),
                Walk::Failed(e) => Hook::Error(e),
            },
            Hook::Promise(promise) => promise.queue(Op::Call(path.to_vec(), args)),
            Hook::Error(e) => Hook::Error(e.clone()),
            Hook::MapVar(_) => Hook::Error(record::placeholder_misuse()),
        }
    }

    /// Reads the property at `path` (the empty path: the value itself, as a promise).
    pub(crate) fn get(&self, path: &[PathKey]) -> Hook {
        if let Some(recorded) = record::intercept_get(self, path) {
            return recorded;
        }
        match self {
            Hook::Import(import) => import.get(path),
            Hook::Target(target) => get_target(target, path),
            Hook::Payload(value) => match walk(value, path) {
                Walk::Forward(hook, rest) => hook.get(&rest),
                Walk::Found(v) => Hook::Payload(Arc::new(v.clone())),
                Walk::Failed(e) => Hook::Error(e),
            },
            Hook::Promise(promise) => promise.queue(Op::Get(path.to_vec())),
            Hook::Error(e) => Hook::Error(e.clone()),
            Hook::MapVar(_) => Hook::Error(record::placeholder_misuse()),
        }
    }

    /// Applies a `.map()` to the value at `path`.
    pub(crate) fn map(
        &self,
        path: &[PathKey],
        captures: Vec<Hook>,
        instructions: Vec<Expr>,
    ) -> Hook {
        match self {
            Hook::Import(import) => import.map(path, captures, instructions),
            Hook::Target(target) => get_target(target, path).map(&[], captures, instructions),
            Hook::Payload(value) => match walk(value, path) {
                Walk::Forward(hook, rest) => hook.map(&rest, captures, instructions),
                Walk::Found(v) => {
                    Hook::from_result(crate::evaluate::apply_map(v, &captures, &instructions))
                }
                Walk::Failed(e) => Hook::Error(e),
            },
            Hook::Promise(promise) => promise.queue(Op::Map(path.to_vec(), captures, instructions)),
            Hook::Error(e) => Hook::Error(e.clone()),
            Hook::MapVar(_) => Hook::Error(record::placeholder_misuse()),
        }
    }

    /// Waits for the resolution. Promises nested inside the value are left as they are.
    pub(crate) fn pull(&self) -> BoxFuture<'static, Result<Value, Error>> {
        match self {
            Hook::Import(import) => import.pull(),
            Hook::Target(target) => {
                let stub = Value::Stub(crate::Stub::from_hook(Hook::Target(target.clone())));
                Box::pin(std::future::ready(Ok(stub)))
            }
            Hook::Payload(value) => {
                let value = Arc::clone(value);
                Box::pin(async move { Ok(Arc::unwrap_or_clone(value)) })
            }
            Hook::Promise(promise) => {
                let promise = Arc::clone(promise);
                Box::pin(async move { promise.settled().await.pull().await })
            }
            Hook::Error(e) => Box::pin(std::future::ready(Err(e.clone()))),
            Hook::MapVar(_) => Box::pin(std::future::ready(Err(record::placeholder_misuse()))),
        }
    }

    /// A stable identity for the object behind this hook, so that exporting the same object
    /// twice reuses one export id.
    pub(crate) fn identity(&self) -> Option<usize> {
        match self {
            Hook::Import(import) => Some(import.identity()),
            Hook::Target(t) => Some(Arc::as_ptr(t) as usize),
            Hook::Payload(v) => Some(Arc::as_ptr(v) as usize),
            Hook::Promise(p) => Some(Arc::as_ptr(p) as usize),
            Hook::Error(_) | Hook::MapVar(_) => None,
        }
    }

    /// Registers `callback` to run if this reference breaks (its session ends).
    pub(crate) fn on_broken(&self, callback: Box<dyn FnOnce(&Error) + Send>) {
        match self {
            Hook::Import(import) => import.on_broken(callback),
            Hook::Error(e) => callback(e),
            _ => {}
        }
    }
}

/// The value a stub-like hook stands for when read as a property.
fn hook_as_value(hook: Hook) -> Value {
    Value::Stub(crate::Stub::from_hook(hook))
}

/// A local object, with the queue that keeps its calls starting in arrival order.
pub(crate) struct TargetCell {
    target: Arc<dyn RpcTarget>,
    queue: Mutex<StartQueue>,
}

/// Calls that cannot start yet: one ahead of them waits for promises in its arguments, and
/// they keep their place behind it (E-order).
#[derive(Default)]
struct StartQueue {
    waiting: std::collections::VecDeque<Waiting>,
    /// A task is starting the queued calls, one by one.
    draining: bool,
}

struct Waiting {
    action: Action,
    args: Vec<Value>,
    promise: Arc<LocalPromise>,
}

/// What to start on a target.
enum Action {
    Call(String),
    CallSelf,
    Get(String),
}

impl TargetCell {
    pub(crate) fn new(target: Arc<dyn RpcTarget>) -> Arc<TargetCell> {
        Arc::new(TargetCell {
            target,
            queue: Mutex::default(),
        })
    }

    fn invoke(&self, action: &Action, args: Vec<Value>) -> CallFuture {
        let target = Arc::clone(&self.target);
        match action {
            Action::Call(method) => target.call(method, args),
            Action::CallSelf => target.call_self(args),
            Action::Get(property) => target.get(property),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StartQueue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts `action` now (made and polled once right here, so calls start in arrival
    /// order) if nothing is queued and its arguments are ready; otherwise queues it behind
    /// the others.
    fn start(self: &Arc<Self>, action: Action, args: Vec<Value>) -> Hook {
        let mut queue = self.lock();
        if !queue.draining && !args.iter().any(Value::contains_promise) {
            drop(queue);
            return start(|| self.invoke(&action, args));
        }
        let promise = LocalPromise::new();
        queue.waiting.push_back(Waiting {
            action,
            args,
            promise: Arc::clone(&promise),
        });
        if !queue.draining {
            let runtime = match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime,
                Err(_) => return Hook::Error(no_runtime()),
            };
            queue.draining = true;
            let cell = Arc::clone(self);
            drop(runtime.spawn(async move { cell.drain().await }));
        }
        Hook::Promise(promise)
    }

    /// Starts the queued calls in order, each once its arguments have resolved.
    async fn drain(self: Arc<Self>) {
        loop {
            let next = {
                let mut queue = self.lock();
                match queue.waiting.pop_front() {
                    Some(next) => next,
                    None => {
                        queue.draining = false;
                        return;
                    }
                }
            };
            let hook = match resolve_all(next.args).await {
                Ok(args) => start(|| self.invoke(&next.action, args)),
                Err(e) => Hook::Error(e),
            };
            next.promise.resolve(hook);
        }
    }
}

fn no_runtime() -> Error {
    Error::Transport("capnweb needs a Tokio runtime to run calls: call it from inside one".into())
}

/// Starts a call on a local target.
fn call_target(cell: &Arc<TargetCell>, path: &[PathKey], args: Vec<Value>) -> Hook {
    let (last, prefix) = match path.split_last() {
        None => return cell.start(Action::CallSelf, args),
        Some(split) => split,
    };
    if !prefix.is_empty() {
        return get_target(cell, prefix).call(std::slice::from_ref(last), args);
    }
    match last {
        PathKey::Name(method) => cell.start(Action::Call(method.clone()), args),
        PathKey::Index(i) => Hook::Error(type_error(format!(
            "{} has no method at index {i}: method names are strings",
            cell.target.type_name()
        ))),
    }
}

/// Reads a property of a local target.
fn get_target(cell: &Arc<TargetCell>, path: &[PathKey]) -> Hook {
    let (first, rest) = match path.split_first() {
        None => return Hook::Payload(Arc::new(hook_as_value(Hook::Target(cell.clone())))),
        Some(split) => split,
    };
    let property = match first {
        PathKey::Name(name) => cell.start(Action::Get(name.clone()), Vec::new()),
        PathKey::Index(_) => Hook::Payload(Arc::new(Value::Undefined)),
    };
    if rest.is_empty() {
        property
    } else {
        property.get(rest)
    }
}

/// Polls a target's future once; finished calls resolve at once, the rest run as a task.
fn start(make: impl FnOnce() -> CallFuture) -> Hook {
    // A panicking method fails its call; it must not take the session's reader down with it.
    let first_poll = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut future = make();
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => Err(future),
        }
    }));
    match first_poll {
        Ok(Ok(result)) => Hook::from_result(result.map_err(Error::from)),
        Ok(Err(future)) => LocalPromise::spawn(async move { future.await.map_err(Error::from) }),
        Err(panic) => Hook::Error(panicked(panic)),
    }
}

/// The error a call fails with when the method panicked.
fn panicked(panic: Box<dyn std::any::Any + Send>) -> Error {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    tracing::error!(panic = %detail, "an RPC method panicked");
    Error::from(crate::RpcError::error(format!(
        "internal error: the method panicked ({detail})"
    )))
}

/// Replaces every promise inside `value` with its resolution.
pub(crate) fn resolve_deep(value: Value) -> BoxFuture<'static, Result<Value, Error>> {
    if !value.contains_promise() {
        return Box::pin(std::future::ready(Ok(value)));
    }
    Box::pin(async move {
        match value {
            Value::Promise(p) => resolve_deep(p.into_hook().pull().await?).await,
            Value::Array(items) => Ok(Value::Array(resolve_all(items).await?)),
            Value::Object(object) => {
                let mut resolved = crate::value::Object::with_capacity(object.len());
                for (key, v) in object {
                    resolved.insert(key, resolve_deep(v).await?);
                }
                Ok(Value::Object(resolved))
            }
            other => Ok(other),
        }
    })
}

/// [`resolve_deep`] on each value, concurrently.
pub(crate) async fn resolve_all(values: Vec<Value>) -> Result<Vec<Value>, Error> {
    futures::future::try_join_all(values.into_iter().map(resolve_deep)).await
}

/// Where a path leads inside a local value.
enum Walk<'a> {
    /// To a plain value.
    Found(&'a Value),
    /// Into a stub or promise: continue there with the rest of the path.
    Forward(Hook, Vec<PathKey>),
    /// Nowhere: reading a property of `undefined` or `null`.
    Failed(Error),
}

static UNDEFINED: Value = Value::Undefined;

fn walk<'a>(mut value: &'a Value, path: &[PathKey]) -> Walk<'a> {
    for (i, key) in path.iter().enumerate() {
        value = match value {
            Value::Stub(stub) => return Walk::Forward(stub.hook().clone(), path[i..].to_vec()),
            Value::Promise(p) => {
                let mut rest = p.path().to_vec();
                rest.extend_from_slice(&path[i..]);
                return Walk::Forward(p.hook().clone(), rest);
            }
            Value::Object(object) => {
                let name = key.to_string();
                object.get(&name).unwrap_or(&UNDEFINED)
            }
            Value::Array(items) => match key {
                PathKey::Index(n) => usize::try_from(*n).ok().and_then(|n| items.get(n)),
                PathKey::Name(s) => s.parse::<usize>().ok().and_then(|n| items.get(n)),
            }
            .unwrap_or(&UNDEFINED),
            Value::Undefined | Value::Null => {
                return Walk::Failed(type_error(format!(
                    "cannot read properties of {} (reading '{key}')",
                    value.kind()
                )))
            }
            _ => &UNDEFINED,
        };
    }
    // A promise is followed to what it resolves to; a stub at the end is a value (a call
    // on it calls it, a read returns it, a map maps it once).
    match value {
        Value::Promise(p) => Walk::Forward(p.hook().clone(), p.path().to_vec()),
        other => Walk::Found(other),
    }
}

fn join(path: &[PathKey]) -> String {
    path.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn article(kind: &str) -> String {
    match kind {
        "undefined" | "null" => kind.to_owned(),
        k if k.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {k}"),
        k => format!("a {k}"),
    }
}

pub(crate) fn type_error(message: String) -> Error {
    Error::from(crate::RpcError::type_error(message))
}

/// An operation queued on a local promise until it resolves.
enum Op {
    Call(Vec<PathKey>, Vec<Value>),
    Get(Vec<PathKey>),
    Map(Vec<PathKey>, Vec<Hook>, Vec<Expr>),
}

impl Op {
    fn apply(self, target: &Hook) -> Hook {
        match self {
            Op::Call(path, args) => target.call(&path, args),
            Op::Get(path) => target.get(&path),
            Op::Map(path, captures, instructions) => target.map(&path, captures, instructions),
        }
    }
}

enum PromiseState {
    /// Not resolved; operations wait here in arrival order.
    Pending(Vec<(Op, Arc<LocalPromise>)>),
    /// Resolved; the queue is being handed over (new operations still queue, keeping order).
    Dispatching(Hook, Vec<(Op, Arc<LocalPromise>)>),
    /// Resolved and the queue is empty: operations go straight to the resolution.
    Settled(Hook),
}

/// A promise for a local hook: operations on it queue up, in order, until it resolves.
pub(crate) struct LocalPromise {
    state: Mutex<PromiseState>,
    settled: Notify,
}

impl LocalPromise {
    fn new() -> Arc<LocalPromise> {
        Arc::new(LocalPromise {
            state: Mutex::new(PromiseState::Pending(Vec::new())),
            settled: Notify::new(),
        })
    }

    /// A promise resolved by `future`, which runs as a task.
    pub(crate) fn spawn<F>(future: F) -> Hook
    where
        F: Future<Output = Result<Value, Error>> + Send + 'static,
    {
        let promise = LocalPromise::new();
        let resolver = Arc::clone(&promise);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let outcome = match AssertUnwindSafe(future).catch_unwind().await {
                        Ok(result) => Hook::from_result(result),
                        Err(panic) => Hook::Error(panicked(panic)),
                    };
                    resolver.resolve(outcome)
                });
                Hook::Promise(promise)
            }
            Err(_) => Hook::Error(no_runtime()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PromiseState> {
        // A panic while holding this lock leaves the state consistent (every update is a
        // single assignment), so a poisoned lock is safe to keep using.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn queue(self: &Arc<Self>, op: Op) -> Hook {
        let mut state = self.lock();
        match &mut *state {
            PromiseState::Pending(queue) | PromiseState::Dispatching(_, queue) => {
                let child = LocalPromise::new();
                queue.push((op, Arc::clone(&child)));
                Hook::Promise(child)
            }
            PromiseState::Settled(hook) => {
                let hook = hook.clone();
                drop(state);
                op.apply(&hook)
            }
        }
    }

    /// Settles the promise and hands every queued operation to the resolution, in order.
    fn resolve(&self, resolution: Hook) {
        loop {
            let batch = {
                let mut state = self.lock();
                let queue = match &mut *state {
                    PromiseState::Pending(queue) | PromiseState::Dispatching(_, queue) => {
                        std::mem::take(queue)
                    }
                    PromiseState::Settled(_) => return,
                };
                *state = if queue.is_empty() {
                    PromiseState::Settled(resolution.clone())
                } else {
                    PromiseState::Dispatching(resolution.clone(), Vec::new())
                };
                queue
            };
            if batch.is_empty() {
                self.settled.notify_waiters();
                return;
            }
            for (op, child) in batch {
                child.resolve(op.apply(&resolution));
            }
        }
    }

    /// Waits until resolved; returns the resolution.
    async fn settled(&self) -> Hook {
        loop {
            let notified = self.settled.notified();
            if let PromiseState::Settled(hook) | PromiseState::Dispatching(hook, _) = &*self.lock()
            {
                return hook.clone();
            }
            notified.await;
        }
    }
}
