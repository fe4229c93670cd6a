//! [`Hook`]: the one abstraction behind every stub and promise.
//!
//! A hook is something calls can be made on: a remote import, a local target, a resolved local
//! value, a local promise still running, a broken reference, or a `.map()` placeholder. Every
//! operation returns a new hook at once (nothing waits), which is what makes pipelining work:
//! a call on a promise is queued (locally) or sent (remotely) before the promise resolves.
//! Cloning a hook is `dup()`; dropping the last clone releases what it refers to.
//!
//! This module knows nothing of sessions: a remote import is a [`Remote`] trait object, which
//! the session implements. Nor of `.map()` recording: the stub layer intercepts calls while a
//! mapper records, and a [`Placeholder`] only refuses to be used anywhere else.

mod cell;
mod dispatch;
#[cfg(test)]
pub(crate) mod fake_remote;
mod promise;
mod remote;
pub(crate) mod scope;
pub(crate) mod stream;

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures::future::BoxFuture;

pub(crate) use cell::TargetCell;
pub(crate) use promise::LocalPromise;
pub(crate) use remote::{PreparedStream, Remote, RemoteRef};
pub(crate) use stream::StreamHook;

use crate::error::{BrokenCallback, Error, RpcError};
use crate::value::Value;
use crate::wire::PathKey;

/// See the module docs.
#[derive(Clone)]
pub(crate) enum Hook {
    /// An entry on a session's import table: the peer's object or promise.
    Remote(RemoteRef),
    /// A local object.
    Target(Arc<TargetCell>),
    /// A resolved local value (which may itself hold stubs and promises).
    Payload(Arc<Value>),
    /// A local promise: a call still running, or calls waiting on one.
    Promise(Arc<LocalPromise>),
    /// A broken reference: every operation fails with this error.
    Error(Error),
    /// A placeholder inside a `.map()` recording.
    Placeholder(Placeholder),
    /// A stream value: a writable stream, a readable stream or a blob.
    Stream(Arc<StreamHook>),
}

/// A value inside a `.map()` mapper while it records: the input (index 0) or the result of an
/// earlier instruction (1, 2, …). `recording` identifies the recording it belongs to; only the
/// recorder (`record`) looks inside it.
#[derive(Clone)]
pub(crate) struct Placeholder {
    pub(crate) recording: Arc<dyn Any + Send + Sync>,
    pub(crate) index: i64,
}

impl Placeholder {
    /// Whether this placeholder belongs to `recording`.
    pub(crate) fn belongs_to(&self, recording: &Arc<dyn Any + Send + Sync>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.recording), Arc::as_ptr(recording))
    }
}

/// The future of a pull: the resolution, with promises nested inside it left as they are.
///
/// Waiting for a remote promise (the common case) needs no allocation: the import is polled
/// directly; only local promises and other rare cases box their future.
pub(crate) struct Pull(Pulling);

enum Pulling {
    /// A promise import of a session: the peer is asked for it once, on the first poll.
    Remote { entry: Arc<dyn Remote>, asked: bool },
    /// Anything else still to wait for.
    Boxed(BoxFuture<'static, Result<Value, Error>>),
    /// Known already (taken on completion).
    Ready(Option<Result<Value, Error>>),
}

impl Pull {
    fn ready(outcome: Result<Value, Error>) -> Pull {
        Pull(Pulling::Ready(Some(outcome)))
    }

    fn boxed(future: impl Future<Output = Result<Value, Error>> + Send + 'static) -> Pull {
        Pull(Pulling::Boxed(Box::pin(future)))
    }

    /// The session's default timeout, when this waits for a session's import.
    pub(crate) fn call_timeout(&self) -> Option<std::time::Duration> {
        match &self.0 {
            Pulling::Remote { entry, .. } => entry.call_timeout(),
            Pulling::Boxed(_) | Pulling::Ready(_) => None,
        }
    }
}

impl Future for Pull {
    type Output = Result<Value, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let resolution = match &mut self.0 {
                Pulling::Ready(outcome) => {
                    return match outcome.take() {
                        Some(outcome) => Poll::Ready(outcome),
                        None => Poll::Pending,
                    }
                }
                Pulling::Boxed(future) => return future.as_mut().poll(cx),
                Pulling::Remote { entry, asked } => {
                    // The only holder may take the resolution out instead of sharing it.
                    let unique = Arc::strong_count(entry) == 1;
                    ready!(entry.poll_resolution(cx, asked, unique))
                }
            };
            self.0 = match resolution {
                Hook::Payload(value) => Pulling::Ready(Some(Ok(
                    Arc::try_unwrap(value).unwrap_or_else(|v| (*v).clone())
                ))),
                other => other.pull().0,
            };
        }
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hook::Remote(r) => write!(f, "Remote({})", r.entry.id()),
            Hook::Target(t) => write!(f, "Target({})", t.type_name()),
            Hook::Payload(v) => write!(f, "Payload({})", v.kind()),
            Hook::Promise(_) => f.write_str("LocalPromise"),
            Hook::Error(e) => write!(f, "Error({e})"),
            Hook::Placeholder(p) => write!(f, "Placeholder({})", p.index),
            Hook::Stream(s) => write!(f, "Stream({})", s.kind()),
        }
    }
}

impl Hook {
    /// A hook for a call result or a resolution: a promise or a stub becomes its own hook (so
    /// pipelining chains through it, and pulling a stub made by `["import", id, path, args]`
    /// gives the call's result, as in the reference); anything else is a payload.
    pub(crate) fn from_value(value: Value) -> Hook {
        match value {
            Value::Promise(p) => p.into_hook(),
            Value::Stub(s) => s.into_hook(),
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
        match self {
            Hook::Remote(remote) => remote.entry.call(path, Some(args)),
            Hook::Target(cell) => cell.call(path, args),
            Hook::Payload(value) => match walk(value, path) {
                Walk::Forward(hook, rest) => hook.call(&rest, args),
                Walk::Found(Value::Stub(stub)) => stub.hook().call(&[], args),
                Walk::Found(v) => Hook::Error(type_error(format!(
                    "{} is not a function (it is {})",
                    describe_path(path),
                    article(v.kind())
                ))),
                Walk::Failed(e) => Hook::Error(e),
            },
            Hook::Promise(promise) => {
                let path = path.to_vec();
                promise.then(move |resolution| resolution.call(&path, args))
            }
            Hook::Error(e) => Hook::Error(e.clone()),
            Hook::Placeholder(_) => Hook::Error(placeholder_misuse()),
            Hook::Stream(stream) => match &**stream {
                StreamHook::Writable(inner) => inner.call(path, args),
                other => Hook::Error(other.misuse("call a method")),
            },
        }
    }

    /// Reads the property at `path` (the empty path: the value itself, as a promise).
    pub(crate) fn get(&self, path: &[PathKey]) -> Hook {
        match self {
            Hook::Remote(remote) => remote.entry.call(path, None),
            Hook::Target(cell) => cell.get(path),
            Hook::Payload(value) => match walk(value, path) {
                Walk::Forward(hook, rest) => hook.get(&rest),
                Walk::Found(v) => Hook::Payload(Arc::new(v.clone())),
                Walk::Failed(e) => Hook::Error(e),
            },
            Hook::Promise(promise) => {
                let path = path.to_vec();
                promise.then(move |resolution| resolution.get(&path))
            }
            Hook::Error(e) => Hook::Error(e.clone()),
            Hook::Placeholder(_) => Hook::Error(placeholder_misuse()),
            Hook::Stream(_) if path.is_empty() => {
                let stub = crate::Stub::from_hook(self.clone());
                Hook::Payload(Arc::new(Value::Stub(stub)))
            }
            Hook::Stream(stream) => Hook::Error(stream.misuse("read a property")),
        }
    }

    /// Waits for the resolution. Promises nested inside the value are left as they are.
    pub(crate) fn pull(&self) -> Pull {
        match self {
            Hook::Remote(remote) if remote.promise => Pull(Pulling::Remote {
                entry: Arc::clone(&remote.entry),
                asked: false,
            }),
            // A stub is what it is (pulling it gives the stub), unless it stands for a
            // promise that has resolved. A stub whose session has ended is still that stub
            // (a broken one: calls on it fail), as a call's result that arrived in an HTTP
            // batch's answer is read after the batch ended.
            Hook::Remote(remote) => match remote.entry.settled() {
                Some(resolution) if !matches!(resolution, Hook::Error(_)) => resolution.pull(),
                _ => Pull::ready(Ok(Value::Stub(crate::Stub::from_hook(self.clone())))),
            },
            Hook::Target(cell) => {
                let stub = Value::Stub(crate::Stub::from_hook(Hook::Target(cell.clone())));
                Pull::ready(Ok(stub))
            }
            Hook::Payload(value) => Pull::ready(Ok((**value).clone())),
            Hook::Promise(promise) => {
                let promise = Arc::clone(promise);
                Pull::boxed(async move { promise.settled().await.pull().await })
            }
            Hook::Error(e) => Pull::ready(Err(e.clone())),
            Hook::Placeholder(_) => Pull::ready(Err(placeholder_misuse())),
            Hook::Stream(_) => Pull::ready(Ok(Value::Stub(crate::Stub::from_hook(self.clone())))),
        }
    }

    /// A stable identity for the object behind this hook, so that exporting the same object
    /// twice reuses one export id.
    pub(crate) fn identity(&self) -> Option<usize> {
        match self {
            Hook::Remote(remote) => Some(Arc::as_ptr(&remote.entry) as *const () as usize),
            Hook::Target(t) => Some(Arc::as_ptr(t) as usize),
            Hook::Payload(v) => Some(Arc::as_ptr(v) as usize),
            Hook::Promise(p) => Some(Arc::as_ptr(p) as usize),
            Hook::Stream(s) => match &**s {
                StreamHook::Writable(inner) => inner.identity(),
                StreamHook::Readable(cell) | StreamHook::Blob(_, cell) => {
                    Some(Arc::as_ptr(cell) as *const () as usize)
                }
            },
            Hook::Error(_) | Hook::Placeholder(_) => None,
        }
    }

    /// For an import of a session on a batching transport (HTTP batch): what asks it to send.
    pub(crate) fn batch_flush(&self) -> Option<Arc<dyn Fn() + Send + Sync>> {
        match self {
            Hook::Remote(remote) => remote.entry.request_flush(),
            Hook::Stream(s) => match &**s {
                StreamHook::Writable(inner) => inner.batch_flush(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether dropping this hook is plain memory work: it holds no capability (whose drop
    /// could run a target's `Drop` or reach a session).
    pub(crate) fn is_inert(&self) -> bool {
        match self {
            Hook::Payload(value) => !value.holds_capability(),
            _ => false,
        }
    }

    /// Registers `callback` to run if this reference breaks (its session ends).
    pub(crate) fn on_broken(&self, callback: BrokenCallback) {
        match self {
            Hook::Remote(remote) => remote.entry.on_broken(callback),
            Hook::Stream(s) => {
                if let StreamHook::Writable(inner) = &**s {
                    inner.on_broken(callback);
                }
            }
            Hook::Error(e) => callback(e),
            _ => {}
        }
    }
}

/// The error a `.map()` placeholder gives when used outside its mapper.
pub(crate) fn placeholder_misuse() -> Error {
    Error::from(RpcError::error(
        "a .map() placeholder was used outside its mapper: the closure given to .map() may only \
         make calls on it while it runs; it cannot be awaited or kept",
    ))
}

/// Where a path leads inside a local value.
pub(crate) enum Walk<'a> {
    /// To a plain value.
    Found(&'a Value),
    /// Into a stub or promise: continue there with the rest of the path.
    Forward(Hook, Vec<PathKey>),
    /// Nowhere: reading a property of `undefined` or `null`.
    Failed(Error),
}

static UNDEFINED: Value = Value::Undefined;

/// Follows `path` into `value`, as JavaScript's property reads would.
pub(crate) fn walk<'a>(mut value: &'a Value, path: &[PathKey]) -> Walk<'a> {
    for (i, key) in path.iter().enumerate() {
        value = match value.view() {
            Value::Stub(stub) => return Walk::Forward(stub.hook().clone(), path[i..].to_vec()),
            Value::Promise(p) => {
                let mut rest = p.path().to_vec();
                rest.extend_from_slice(&path[i..]);
                return Walk::Forward(p.hook().clone(), rest);
            }
            Value::Object(object) => match key {
                PathKey::Name(name) => object.get(name.as_str()),
                PathKey::Index(n) => object.get(n.to_string().as_str()),
            }
            .unwrap_or(&UNDEFINED),
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
    match value.view() {
        Value::Promise(p) => Walk::Forward(p.hook().clone(), p.path().to_vec()),
        other => Walk::Found(other),
    }
}

/// `'a.b'` for error messages; the empty path is the value itself.
fn describe_path(path: &[PathKey]) -> String {
    if path.is_empty() {
        return "the value".to_owned();
    }
    let joined = path
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".");
    format!("'{joined}'")
}

fn article(kind: &str) -> String {
    match kind {
        "undefined" | "null" => kind.to_owned(),
        k if k.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {k}"),
        k => format!("a {k}"),
    }
}

pub(crate) fn type_error(message: String) -> Error {
    Error::from(RpcError::type_error(message))
}

/// Replaces every promise inside `value` with its resolution.
pub(crate) fn resolve_deep(value: Value) -> Pull {
    if !value.contains_promise() {
        return Pull::ready(Ok(value));
    }
    Pull::boxed(async move {
        match value {
            Value::Promise(p) => resolve_deep(p.into_hook().pull().await?).await,
            Value::Deferred(deferred) => resolve_deep(deferred.to_value()?).await,
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

#[cfg(test)]
mod tests {
    use super::fake_remote::{Asked, FakeRemote};
    use super::*;
    use crate::stub::Stub;
    use crate::value::Object;

    fn path(keys: &[&str]) -> Vec<PathKey> {
        keys.iter().map(|k| PathKey::from(*k)).collect()
    }

    fn object(entries: &[(&str, Value)]) -> Value {
        let mut object = Object::new();
        for (key, value) in entries {
            object.insert((*key).to_owned(), value.clone());
        }
        Value::Object(object)
    }

    fn adder() -> Stub {
        Stub::from_fn(|args: Vec<Value>| async move {
            let sum = args.iter().filter_map(|a| match a {
                Value::Number(n) => Some(*n),
                _ => None,
            });
            Ok(Value::Number(sum.sum()))
        })
    }

    #[tokio::test]
    async fn a_payload_is_read_by_path_and_its_stubs_are_called_through() {
        let value = object(&[
            ("name", Value::from("ada")),
            ("tools", object(&[("add", Value::Stub(adder()))])),
        ]);
        let hook = Hook::Payload(Arc::new(value));
        assert_eq!(
            hook.get(&path(&["name"])).pull().await.ok(),
            Some(Value::from("ada"))
        );
        // The path leads into a stub: the call goes to it.
        let sum = hook.call(&path(&["tools", "add"]), vec![2.0.into(), 3.0.into()]);
        assert_eq!(sum.pull().await.ok(), Some(Value::Number(5.0)));
    }

    #[tokio::test]
    async fn calling_what_is_not_a_function_and_reading_past_undefined_fail_as_in_javascript() {
        let hook = Hook::Payload(Arc::new(object(&[("n", Value::Number(1.0))])));
        let err = hook
            .call(&path(&["n"]), vec![])
            .pull()
            .await
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("is not a function")),
            "{err:?}"
        );
        let err = hook.get(&path(&["missing", "deeper"])).pull().await;
        assert!(err.is_err(), "{err:?}");
    }

    #[tokio::test]
    async fn a_broken_hook_fails_everything_with_its_error() {
        let broken = Hook::Error(Error::from(RpcError::range_error("gone")));
        for hook in [
            broken.call(&path(&["f"]), vec![]),
            broken.get(&path(&["p"])),
        ] {
            let err = hook.pull().await.err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains("gone")),
                "{err:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_target_is_called_and_pulling_it_gives_the_stub() {
        let stub = adder();
        let hook = stub.hook().clone();
        let sum = hook.call(&[], vec![1.0.into(), 2.0.into()]);
        assert_eq!(sum.pull().await.ok(), Some(Value::Number(3.0)));
        match hook.pull().await {
            Ok(Value::Stub(back)) => assert!(back.same_target(&stub)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clones_share_an_identity_and_other_objects_do_not() {
        let a = adder().into_hook();
        let b = adder().into_hook();
        assert_eq!(a.identity(), a.clone().identity());
        assert_ne!(a.identity(), b.identity());
        assert_eq!(Hook::Error(placeholder_misuse()).identity(), None);
        assert!(Hook::Payload(Arc::new(Value::Null)).is_inert());
        assert!(!Hook::Payload(Arc::new(Value::Stub(adder()))).is_inert());
    }

    #[tokio::test]
    async fn calls_on_a_remote_go_to_its_session_and_a_pull_asks_once() {
        let (remote, hook) = FakeRemote::promise(7, Value::from("resolved"));
        let _ = hook.call(&path(&["f"]), vec![1.0.into()]);
        let _ = hook.get(&path(&["p"]));
        assert_eq!(hook.pull().await.ok(), Some(Value::from("resolved")));
        assert_eq!(
            remote.asked(),
            [
                Asked::Call(path(&["f"]), Some(vec![1.0.into()])),
                Asked::Call(path(&["p"]), None),
                Asked::Resolution,
            ]
        );
    }

    #[tokio::test]
    async fn a_local_promise_queues_calls_until_it_resolves() {
        let local = LocalPromise::new();
        let promise = Hook::Promise(Arc::clone(&local));
        // Pipelined: the calls are made on the promise before it has resolved, and run in order
        // once it does.
        let sum = promise.call(&path(&["add"]), vec![4.0.into(), 5.0.into()]);
        let name = promise.get(&path(&["name"]));
        assert!(local.resolution().is_none());
        local.resolve(Hook::Payload(Arc::new(object(&[
            ("add", Value::Stub(adder())),
            ("name", Value::from("calc")),
        ]))));
        assert_eq!(sum.pull().await.ok(), Some(Value::Number(9.0)));
        assert_eq!(name.pull().await.ok(), Some(Value::from("calc")));
    }

    #[tokio::test]
    async fn a_placeholder_refuses_to_be_used_outside_its_recording() {
        let placeholder = Hook::Placeholder(Placeholder {
            recording: Arc::new(()),
            index: 0,
        });
        for hook in [
            placeholder.call(&[], vec![]),
            placeholder.get(&path(&["x"])),
            placeholder.clone(),
        ] {
            let err = hook.pull().await.err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("outside its mapper")),
                "{err:?}"
            );
        }
    }
}
