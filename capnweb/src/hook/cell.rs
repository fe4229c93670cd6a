//! [`TargetCell`]: a local object, and the queue that keeps its calls starting in arrival order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::dispatch::{self, Dispatch};
use super::promise::no_runtime;
use super::scope::{self, Scope};
use super::{type_error, Hook, LocalPromise};
use crate::intercept::CallKind;
use crate::target::RpcTarget;
use crate::value::Value;
use crate::wire::PathKey;

/// A local object, with the queue that keeps its calls starting in arrival order (E-order).
pub(crate) struct TargetCell {
    target: Arc<dyn RpcTarget>,
    queue: Mutex<StartQueue>,
}

/// Calls that cannot start yet: one ahead of them waits for promises in its arguments, and
/// they keep their place behind it.
#[derive(Default)]
struct StartQueue {
    waiting: VecDeque<Waiting>,
    /// A task is starting the queued calls, one by one.
    draining: bool,
}

struct Waiting {
    action: Action,
    args: Vec<Value>,
    promise: Arc<LocalPromise>,
    /// Whose call it is (see [`scope`]): it starts under the scope it was made in.
    scope: Option<Scope>,
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

    pub(crate) fn type_name(&self) -> &'static str {
        self.target.type_name()
    }

    /// Calls the method at `path` (the empty path calls the object itself).
    pub(crate) fn call(self: &Arc<Self>, path: &[PathKey], args: Vec<Value>) -> Hook {
        let Some((last, prefix)) = path.split_last() else {
            return self.start(Action::CallSelf, args);
        };
        if !prefix.is_empty() {
            return self.get(prefix).call(std::slice::from_ref(last), args);
        }
        match last {
            PathKey::Name(method) => self.start_call(method, args),
            PathKey::Index(i) => Hook::Error(type_error(format!(
                "{} has no method at index {i}: method names are strings",
                self.target.type_name()
            ))),
        }
    }

    /// Reads the property at `path` (the empty path: the object itself, as a stub).
    pub(crate) fn get(self: &Arc<Self>, path: &[PathKey]) -> Hook {
        let Some((first, rest)) = path.split_first() else {
            let stub = crate::Stub::from_hook(Hook::Target(Arc::clone(self)));
            return Hook::Payload(Arc::new(Value::Stub(stub)));
        };
        let property = match first {
            PathKey::Name(name) => self.start(Action::Get(name.clone()), Vec::new()),
            PathKey::Index(_) => Hook::Payload(Arc::new(Value::Undefined)),
        };
        if rest.is_empty() {
            property
        } else {
            property.get(rest)
        }
    }

    /// Starts `action` now (see [`dispatch::start`]).
    fn invoke(&self, action: &Action, args: Vec<Value>) -> Hook {
        let target = Arc::clone(&self.target);
        let (kind, name) = match action {
            Action::Call(method) => (CallKind::Method, method.as_str()),
            Action::CallSelf => (CallKind::Function, ""),
            Action::Get(property) => (CallKind::Property, property.as_str()),
        };
        let call = Dispatch {
            kind,
            name,
            target: self.target.type_name(),
        };
        dispatch::start(call, || match action {
            Action::Call(method) => target.call(method, args),
            Action::CallSelf => target.call_self(args),
            Action::Get(property) => target.get(property),
        })
    }

    fn lock(&self) -> MutexGuard<'_, StartQueue> {
        // Every update is a single assignment or push, so a poisoned lock is consistent.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Calls `method`: started at once when it can be (no copy of the name is made), else
    /// queued, as [`TargetCell::start`] does.
    fn start_call(self: &Arc<Self>, method: &str, args: Vec<Value>) -> Hook {
        if self.can_start_now(&args) {
            let target = Arc::clone(&self.target);
            let call = Dispatch {
                kind: CallKind::Method,
                name: method,
                target: self.target.type_name(),
            };
            return dispatch::start(call, || target.call(method, args));
        }
        self.start(Action::Call(method.to_owned()), args)
    }

    /// Whether a call with `args` may start right away: none is queued ahead of it, and none
    /// of its arguments is still a promise.
    fn can_start_now(&self, args: &[Value]) -> bool {
        !self.lock().draining && !args.iter().any(Value::contains_promise)
    }

    /// Starts `action` now (made and polled once right here, so calls start in arrival
    /// order) if nothing is queued and its arguments are ready; otherwise queues it behind
    /// the others.
    fn start(self: &Arc<Self>, action: Action, args: Vec<Value>) -> Hook {
        let mut queue = self.lock();
        if !queue.draining && !args.iter().any(Value::contains_promise) {
            drop(queue);
            return self.invoke(&action, args);
        }
        let promise = LocalPromise::new();
        queue.waiting.push_back(Waiting {
            action,
            args,
            promise: Arc::clone(&promise),
            scope: scope::current(),
        });
        if !queue.draining {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return Hook::Error(no_runtime());
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
            let hook = match super::resolve_all(next.args).await {
                Ok(args) => scope::within(next.scope, || self.invoke(&next.action, args)),
                Err(e) => Hook::Error(e),
            };
            next.promise.resolve(hook);
        }
    }
}
