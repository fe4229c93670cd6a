//! Starting a call on a local object: the first poll in place (so calls start in arrival
//! order), the rest as a task; a panic fails the call, not the session. For a call the peer
//! made (see [`scope`](super::scope)) also the session's interceptor, handler timeout, counters
//! and a tracing span.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::FutureExt;
use tracing::Instrument;

use super::scope::{self, Scope, Served};
use super::{Hook, LocalPromise};
use crate::error::{Error, RpcError};
use crate::intercept::{CallInfo, CallKind};
use crate::target::{CallFuture, CallResult};
use crate::value::Value;

/// The call about to start, for the interceptor, the span and error messages.
pub(crate) struct Dispatch<'a> {
    pub(crate) kind: CallKind,
    pub(crate) name: &'a str,
    pub(crate) target: &'static str,
}

/// Starts the call `make` makes (see the module docs).
pub(crate) fn start(call: Dispatch<'_>, make: impl FnOnce() -> CallFuture) -> Hook {
    // The method's own code runs outside the peer's scope.
    let taken = scope::take();
    match taken.scope() {
        None => match first_poll(make) {
            Ok(result) => Hook::from_result(result.map_err(Error::from)),
            Err(future) => {
                LocalPromise::spawn(async move { guarded(future).await.map_err(Error::from) })
            }
        },
        Some(scope) => start_served(scope, &call, make),
    }
}

/// Makes the call and polls it once: its result, or the future still running. A panic is the
/// call's error.
fn first_poll(make: impl FnOnce() -> CallFuture) -> Result<CallResult, CallFuture> {
    let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut future = make();
        if let Some(result) = future.try_ready() {
            return Ok(result);
        }
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        match Pin::new(&mut future).poll(&mut cx) {
            Poll::Ready(result) => Ok(result),
            Poll::Pending => Err(future),
        }
    }));
    match polled {
        Ok(outcome) => outcome,
        Err(panic) => Ok(Err(panicked("method", panic))),
    }
}

/// The rest of a call, a panic in it being its error.
async fn guarded(future: CallFuture) -> CallResult {
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => Err(panicked("method", panic)),
    }
}

/// A call the peer made: counted, intercepted, timed and traced.
fn start_served(scope: &Scope, call: &Dispatch<'_>, make: impl FnOnce() -> CallFuture) -> Hook {
    let served = &scope.served;
    served.count_call();
    // Without a subscriber for it, no span at all: a disabled one still costs on every use.
    let span = if tracing::enabled!(tracing::Level::DEBUG) {
        tracing::debug_span!(
            parent: &served.span,
            "call",
            method = call.name,
            target = call.target,
            id = scope.call_id,
            outcome = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        )
    } else {
        tracing::Span::none()
    };
    let info = served.interceptor.as_ref().map(|_| {
        let context = served.context.clone();
        CallInfo::new(call.kind, call.name, call.target, scope.call_id, context)
    });
    if let (Some(interceptor), Some(info)) = (&served.interceptor, &info) {
        let decision = std::panic::catch_unwind(AssertUnwindSafe(|| interceptor.before(info)))
            .unwrap_or_else(|panic| Err(panicked("interceptor", panic)));
        if let Err(denied) = decision {
            let outcome = Err(denied);
            finish(served, &span, Some(info), &outcome, None);
            return Hook::from_result(outcome.map_err(Error::from));
        }
    }
    let timed = info.is_some() || !span.is_disabled();
    let started = timed.then(Instant::now);
    let first = span.in_scope(|| first_poll(make));
    let future = match first {
        Ok(outcome) => {
            finish(served, &span, info.as_ref(), &outcome, started);
            return Hook::from_result(outcome.map_err(Error::from));
        }
        Err(future) => future,
    };
    let limit = served.timeout.map(|limit| (limit, describe(call)));
    let served = Arc::clone(served);
    let instrumented = span.clone();
    LocalPromise::spawn(
        async move {
            let outcome = match limit {
                None => guarded(future).await,
                Some((limit, what)) => tokio::time::timeout(limit, guarded(future))
                    .await
                    .unwrap_or_else(|_| Err(timed_out(&what, limit))),
            };
            finish(&served, &span, info.as_ref(), &outcome, started);
            outcome.map_err(Error::from)
        }
        .instrument(instrumented),
    )
}

/// Records how a served call ended: counters, the interceptor, the span.
fn finish(
    served: &Served,
    span: &tracing::Span,
    info: Option<&CallInfo>,
    outcome: &CallResult,
    started: Option<Instant>,
) {
    if outcome.is_err() {
        served.count_error();
    }
    let elapsed = started.map_or(Duration::ZERO, |started| started.elapsed());
    if let (Some(interceptor), Some(info)) = (&served.interceptor, info) {
        // A deferred result is converted for the interceptor to look at (once; it is still
        // written straight into the message). One that cannot be converted is the error the
        // caller will get.
        let unsendable = match outcome {
            Ok(Value::Deferred(deferred)) => deferred.to_value().err().map(|e| e.to_rpc_error()),
            _ => None,
        };
        let outcome: Result<&Value, &RpcError> = match &unsendable {
            Some(e) => Err(e),
            None => outcome.as_ref().map(Value::view),
        };
        let heard = std::panic::catch_unwind(AssertUnwindSafe(|| {
            interceptor.after(info, outcome, elapsed)
        }));
        if let Err(panic) = heard {
            panicked("interceptor", panic);
        }
    }
    if !span.is_disabled() {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        span.record("duration_us", micros);
        match outcome {
            Ok(_) => {
                span.record("outcome", "ok");
                tracing::debug!(parent: span, duration_us = micros, "call returned");
            }
            Err(e) => {
                span.record("outcome", "error");
                tracing::debug!(parent: span, duration_us = micros, error = %e, "call failed");
            }
        }
    }
}

/// The call, in words, for the error a timeout sends.
fn describe(call: &Dispatch<'_>) -> String {
    match call.kind {
        CallKind::Method => format!("the call of {}.{}", call.target, call.name),
        CallKind::Property => format!("reading {}.{}", call.target, call.name),
        CallKind::Function => format!("the call of {}", call.target),
    }
}

/// The error a call fails with when it ran longer than the session allows.
fn timed_out(what: &str, limit: Duration) -> RpcError {
    tracing::debug!(limit = ?limit, "{what} ran out of time and was cancelled");
    RpcError::error(format!(
        "{what} did not finish within {limit:?}, the server's time limit for one call, and was \
         cancelled"
    ))
    .with_prop("code", "DEADLINE_EXCEEDED")
}

/// The error a call fails with when its `who` (method, interceptor) panicked.
fn panicked(who: &str, panic: Box<dyn std::any::Any + Send>) -> RpcError {
    let detail = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    tracing::error!(panic = %detail, "an RPC {who} panicked");
    RpcError::error(format!("internal error: the {who} panicked ({detail})"))
}
