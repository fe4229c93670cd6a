//! A server session over the in-memory transport, played by hand from the fuzzer's input.
//!
//! The input is split into lines; each non-empty line is sent as one message to a session
//! serving [`FuzzTarget`] (sync, async and slow methods, methods returning stubs and
//! promises, methods calling back into the peer, a target that keeps the peer's stubs). After
//! each line the peer end is read until it has been quiet for [`QUIET`] (of virtual time: the
//! runtime's clock is paused and jumps ahead whenever every task waits, so a sleeping call
//! costs nothing). Lines starting with `#` are directives to the harness, not sent: `#calls`
//! makes two calls of ours on the peer's main object there (one awaited, so pulled: the peer
//! may answer them as imports 1 and 2, or not), `#close` and `#abort` choose how the run ends
//! (by default the peer hangs up; `#close` is the session's graceful `close()`, `#abort` its
//! `abort()`).
//!
//! Asserted, beyond "nothing panics" (a panic in any task aborts the process):
//!
//! * Every message the session sends is valid UTF-8, parses under the session's limits, and
//!   is canonical (its text is the `to_text` of what it parses to). Nothing follows an
//!   `abort`, and after one the transport closes.
//! * A line that does not parse (as `Message::parse_bytes` with the session's limits decides)
//!   aborts the session: it ends, its last message is an `abort`, and the transport closes.
//! * The transport closes only when the session has ended, and an ended session's transport
//!   closes.
//! * While it runs, the tables hold no more than the messages can account for: exports at most
//!   the main one, plus one per `push`/`stream` received, plus each id the session sent in an
//!   `export` or `promise`; imports at most the main one, plus one per `push` the session sent,
//!   plus each id the peer sent in an `export`, `promise` or `writable` (or a remap's
//!   `["export", id]` capture); neither beyond its `SessionOptions` bound.
//! * Every ending ends: after the peer hangs up, after `close()` (which sends no `abort`;
//!   bounded, since a call may wait on the peer forever), after `abort()` (at once, and the
//!   peer gets an `abort`).
//! * After the end: `stats_at_close()` is set and within the same bounds; the tables are
//!   empty (`stats()` shows only the main import, which always counts, and no export).
//! * Once everything is dropped and the clock has run on: every target object is dropped (no
//!   capability leaked, no reference cycle kept alive) and no task is left on the runtime.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use capnweb::transport::memory::{self, MemoryTransport};
use capnweb::wire::{Capture, Expr, Message};
use capnweb::{
    CallFuture, Limits, RpcError, RpcPromise, RpcTarget, Session, SessionOptions, SessionStats,
    Stub, Value,
};
use tokio::runtime::Runtime;
use tokio::time::timeout;

/// How long the peer end must stay silent for the session to count as done with a line.
pub const QUIET: Duration = Duration::from_millis(100);

/// The longest a `sleep` call sleeps (virtual time).
const LONGEST_SLEEP_MS: f64 = 10_000.0;

/// Target objects alive now (the main target, counters).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The session's limits: small, so that every bound is within the fuzzer's reach.
pub fn limits() -> Limits {
    Limits::default()
        .max_depth(32)
        .max_bigint_digits(64)
        .max_message_size(1 << 16)
}

const MAX_EXPORTS: usize = 64;
const MAX_IMPORTS: usize = 64;

fn options() -> SessionOptions {
    SessionOptions::default()
        .limits(limits())
        .max_exports(MAX_EXPORTS)
        .max_imports(MAX_IMPORTS)
        .max_calls_in_flight(8)
        .max_queued_bytes(1 << 16)
}

/// One runtime per process (AFL's persistent mode runs many inputs in one process): one
/// thread, its clock paused.
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime")
    })
}

struct Alive;

impl Alive {
    fn new() -> Alive {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Alive
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

fn num(args: &[Value], index: usize) -> f64 {
    args.get(index).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn arg(args: &[Value], index: usize) -> Value {
    args.get(index).cloned().unwrap_or_default()
}

fn ready(result: Result<Value, RpcError>) -> CallFuture {
    CallFuture::ready(result)
}

/// A counter, as the reference's test suite has.
struct Counter {
    value: Mutex<f64>,
    _alive: Alive,
}

impl Counter {
    fn stub(start: f64) -> Stub {
        Stub::new(Counter {
            value: Mutex::new(start),
            _alive: Alive::new(),
        })
    }
}

impl RpcTarget for Counter {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        match method {
            "increment" => {
                let by = args.first().and_then(Value::as_f64).unwrap_or(1.0);
                let mut value = self.value.lock().unwrap_or_else(|p| p.into_inner());
                *value += by;
                ready(Ok(Value::from(*value)))
            }
            _ => ready(Err(RpcError::type_error(format!("no method {method}")))),
        }
    }

    fn get(self: Arc<Self>, property: &str) -> CallFuture {
        match property {
            "value" => {
                let value = *self.value.lock().unwrap_or_else(|p| p.into_inner());
                ready(Ok(Value::from(value)))
            }
            _ => ready(Ok(Value::Undefined)),
        }
    }
}

/// The main object the session serves.
pub struct FuzzTarget {
    shared: Stub,
    /// Stubs the peer handed to `keep` (a reference cycle through the session, which its end
    /// must break).
    kept: Mutex<Vec<Value>>,
    _alive: Alive,
}

impl FuzzTarget {
    fn stub() -> Stub {
        Stub::new(FuzzTarget {
            shared: Counter::stub(0.0),
            kept: Mutex::new(Vec::new()),
            _alive: Alive::new(),
        })
    }
}

impl RpcTarget for FuzzTarget {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        match method {
            "square" => {
                let x = num(&args, 0);
                ready(Ok(Value::from(x * x)))
            }
            "add" => ready(Ok(Value::from(num(&args, 0) + num(&args, 1)))),
            "echo" => ready(Ok(arg(&args, 0))),
            "echoAll" => ready(Ok(Value::Array(args))),
            "makeCounter" => ready(Ok(Value::Stub(Counter::stub(num(&args, 0))))),
            // The same object every time: its export id is reused and its count bumped.
            "sharedCounter" => ready(Ok(Value::Stub(self.shared.clone()))),
            "incrementCounter" => {
                let Value::Stub(counter) = arg(&args, 0) else {
                    return ready(Err(RpcError::type_error("needs a counter stub")));
                };
                let by = args.get(1).and_then(Value::as_f64).unwrap_or(1.0);
                ready(Ok(Value::Promise(
                    counter.call("increment", vec![Value::from(by)]),
                )))
            }
            "callFunction" => {
                let Value::Stub(function) = arg(&args, 0) else {
                    return ready(Err(RpcError::type_error("needs a function stub")));
                };
                let x = arg(&args, 1);
                CallFuture::new(async move {
                    let result = function.call_self(vec![x]).await?;
                    let mut object = capnweb::value::Object::new();
                    object.insert("result".into(), result);
                    Ok(Value::Object(object))
                })
            }
            "callSquare" => {
                let Value::Stub(api) = arg(&args, 0) else {
                    return ready(Err(RpcError::type_error("needs a stub")));
                };
                let mut object = capnweb::value::Object::new();
                object.insert(
                    "result".into(),
                    Value::Promise(api.call("square", vec![arg(&args, 1)])),
                );
                ready(Ok(Value::Object(object)))
            }
            "keep" => {
                let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend(args);
                kept.truncate(8);
                ready(Ok(Value::from(kept.len() as f64)))
            }
            "callKept" => {
                let name = args
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let calls: Vec<RpcPromise<Value>> = kept
                    .iter()
                    .filter_map(Value::as_stub)
                    .map(|stub| stub.call(&name, vec![]))
                    .collect();
                CallFuture::new(async move {
                    let mut results = Vec::new();
                    for call in calls {
                        results.push(call.await.unwrap_or_else(|e| Value::from(e.to_rpc_error())));
                    }
                    Ok(Value::Array(results))
                })
            }
            "throwError" => ready(Err(
                RpcError::range_error("test error").with_stack("at throwErrorImpl")
            )),
            "generateFibonacci" => {
                let n = num(&args, 0).clamp(0.0, 100.0) as usize;
                let mut fib = vec![0.0, 1.0];
                while fib.len() < n {
                    let next = fib[fib.len() - 1] + fib[fib.len() - 2];
                    fib.push(next);
                }
                fib.truncate(n);
                ready(Ok(Value::Array(fib.into_iter().map(Value::from).collect())))
            }
            "returnNull" => ready(Ok(Value::Null)),
            "returnUndefined" => ready(Ok(Value::Undefined)),
            "slow" => {
                let x = arg(&args, 0);
                CallFuture::new(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(x)
                })
            }
            "sleep" => {
                let ms = num(&args, 0);
                let ms = if ms.is_nan() {
                    0.0
                } else {
                    ms.clamp(0.0, LONGEST_SLEEP_MS)
                };
                CallFuture::new(async move {
                    tokio::time::sleep(Duration::from_secs_f64(ms / 1000.0)).await;
                    Ok(Value::from(ms))
                })
            }
            _ => ready(Err(RpcError::type_error(format!(
                "'{method}' is not a method of FuzzTarget"
            )))),
        }
    }

    fn get(self: Arc<Self>, property: &str) -> CallFuture {
        match property {
            "version" => ready(Ok(Value::from("1.0"))),
            "counter" => ready(Ok(Value::Stub(self.shared.clone()))),
            _ => ready(Ok(Value::Undefined)),
        }
    }
}

/// Every id an expression introduces with `tags` (`export`/`promise`/`writable` forms, and
/// remap captures of the sender's exports).
fn introduced_ids(expr: &Expr, ids: &mut HashSet<i64>) {
    match expr {
        Expr::Export(id) | Expr::Promise(id) | Expr::Writable(id) => {
            ids.insert(*id);
        }
        Expr::Object(fields) => fields.iter().for_each(|(_, e)| introduced_ids(e, ids)),
        Expr::Array(items) => items.iter().for_each(|e| introduced_ids(e, ids)),
        Expr::Error(error) => {
            if let Some(props) = &error.props {
                props.iter().for_each(|(_, e)| introduced_ids(e, ids));
            }
        }
        Expr::Request(request) => {
            if let Some(body) = &request.init.body {
                introduced_ids(body, ids);
            }
        }
        Expr::Response(response) => introduced_ids(&response.body, ids),
        Expr::Import(reference) | Expr::Pipeline(reference) => {
            if let Some(args) = &reference.args {
                args.iter().for_each(|e| introduced_ids(e, ids));
            }
        }
        Expr::Remap(remap) => {
            for capture in &remap.captures {
                if let Capture::Export(id) = capture {
                    ids.insert(*id);
                }
            }
            remap
                .instructions
                .iter()
                .for_each(|e| introduced_ids(e, ids));
        }
        Expr::Blob { content, .. } => introduced_ids(content, ids),
        _ => {}
    }
}

fn message_expr(message: &Message) -> Option<&Expr> {
    match message {
        Message::Push(e)
        | Message::Stream(e)
        | Message::Resolve(_, e)
        | Message::Reject(_, e)
        | Message::Abort(e) => Some(e),
        _ => None,
    }
}

/// The peer's side of one run, and what it has seen.
struct Peer {
    end: Option<MemoryTransport>,
    /// The transport closed (the session's end went away or closed).
    closed: bool,
    /// The last message received was an `abort`.
    last_was_abort: bool,
    aborts: usize,
    /// `push`/`stream` messages sent by the peer that parsed (each may take an export id).
    pushes_in: usize,
    /// Ids the peer introduced (each may take an import entry).
    peer_ids: HashSet<i64>,
    /// `push`/`stream` messages the session sent (each takes an import id).
    pushes_out: usize,
    /// Ids the session introduced (each may take an export entry).
    session_ids: HashSet<i64>,
}

impl Peer {
    fn end(&mut self) -> &mut MemoryTransport {
        self.end.as_mut().expect("the peer end is open")
    }

    /// Reads what the session sends until it has been quiet for [`QUIET`] or has closed.
    async fn drain(&mut self) {
        if self.end.is_none() {
            return;
        }
        while !self.closed {
            match timeout(QUIET, self.end().recv()).await {
                Ok(Some(bytes)) => self.received(&bytes),
                Ok(None) => self.closed = true,
                Err(_) => return,
            }
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        assert!(
            !self.last_was_abort,
            "the session sent {:?} after its abort",
            String::from_utf8_lossy(bytes)
        );
        let text = std::str::from_utf8(bytes).expect("the session sends UTF-8");
        let message = Message::parse_with_limits(text, &limits())
            .unwrap_or_else(|e| panic!("the session sent {text}, which does not parse: {e}"));
        assert_eq!(
            message.to_text(),
            text,
            "the session's text is not canonical"
        );
        if let Some(expr) = message_expr(&message) {
            introduced_ids(expr, &mut self.session_ids);
        }
        match message {
            Message::Push(_) | Message::Stream(_) | Message::Pipe => self.pushes_out += 1,
            Message::Abort(_) => {
                self.aborts += 1;
                self.last_was_abort = true;
            }
            _ => {}
        }
    }

    /// The table bounds (see the module docs).
    fn check_bounds(&self, stats: SessionStats, when: &str) {
        let exports = 1 + self.pushes_in + self.session_ids.len();
        assert!(
            stats.exports <= exports.min(MAX_EXPORTS),
            "{when}: {stats:?}, but at most {exports} exports (max {MAX_EXPORTS}) are accounted for"
        );
        let imports = 1 + self.pushes_out + self.peer_ids.len();
        assert!(
            stats.imports <= imports.min(MAX_IMPORTS + 1),
            "{when}: {stats:?}, but at most {imports} imports (max {MAX_IMPORTS}) are accounted for"
        );
        assert!(stats.imports >= 1, "{when}: the main import always counts");
    }
}

/// The three ways a run ends.
#[derive(Debug, Clone, Copy)]
enum Ending {
    HangUp,
    Close,
    Abort,
}

/// Runs one input.
pub fn check(data: &[u8]) {
    let rt = runtime();
    rt.block_on(run(data));
    let alive = rt.metrics().num_alive_tasks();
    assert_eq!(alive, 0, "tasks still alive after the session ended");
}

async fn run(data: &[u8]) {
    assert_eq!(
        LIVE.load(Ordering::SeqCst),
        0,
        "targets left from an earlier run"
    );
    let mut ending = Ending::HangUp;
    let (a, end) = memory::pair();
    let session = Session::new(a, Some(FuzzTarget::stub()), options());
    let mut peer = Peer {
        end: Some(end),
        closed: false,
        last_was_abort: false,
        aborts: 0,
        pushes_in: 0,
        peer_ids: HashSet::new(),
        pushes_out: 0,
        session_ids: HashSet::new(),
    };
    let mut calls = Vec::new();
    let mut waiters = Vec::new();

    for line in data.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        if let Some(directive) = line.strip_prefix(b"#") {
            match directive {
                b"close" => ending = Ending::Close,
                b"abort" => ending = Ending::Abort,
                b"calls" if calls.is_empty() => {
                    let main = session.main();
                    let awaited = main.call("hello", vec![Value::from("fuzz")]);
                    calls.push(main.get("version"));
                    waiters.push(tokio::spawn(async move {
                        let _ = awaited.await;
                    }));
                    peer.drain().await;
                }
                _ => {}
            }
            continue;
        }
        if session.is_closed() {
            break;
        }
        let parsed = Message::parse_bytes(line, &limits());
        if let Ok(message) = &parsed {
            // `pipe` takes the next import id, as `push` and `stream` do.
            if matches!(message, Message::Push(_) | Message::Stream(_) | Message::Pipe) {
                peer.pushes_in += 1;
            }
            if let Some(expr) = message_expr(message) {
                introduced_ids(expr, &mut peer.peer_ids);
            }
        }
        let sent = timeout(QUIET, peer.end().send(line.to_vec())).await;
        assert!(
            matches!(sent, Ok(Ok(()))),
            "sending to the session failed: {sent:?}"
        );
        peer.drain().await;
        if parsed.is_err() {
            assert!(
                session.is_closed(),
                "{:?} does not parse, but the session goes on",
                String::from_utf8_lossy(line)
            );
            assert!(peer.last_was_abort, "the session ended without an abort");
        }
        check_consistency(&session, &peer, "after a message");
    }

    match ending {
        Ending::HangUp => {
            peer.end = None;
        }
        Ending::Close => {
            let was_closed = session.is_closed();
            let aborts = peer.aborts;
            let closing = session.close();
            let closed = drive(&mut peer, timeout(Duration::from_secs(30), closing)).await;
            peer.drain().await;
            if closed.is_ok() {
                assert!(session.is_closed(), "close() returned but the session runs");
                if !was_closed {
                    assert_eq!(peer.aborts, aborts, "close() sent an abort");
                    assert!(peer.closed, "close() did not close the transport");
                }
            } else {
                // A call waits on the peer, which will never answer: hang up.
                peer.end = None;
            }
        }
        Ending::Abort => {
            let was_closed = session.is_closed();
            session.abort(RpcError::error("the fuzzer aborts"));
            assert!(
                session.is_closed(),
                "abort() did not end the session at once"
            );
            peer.drain().await;
            if !was_closed {
                assert!(peer.last_was_abort, "abort() sent no abort");
                assert!(peer.closed, "abort() did not close the transport");
            }
        }
    }
    let ended = timeout(Duration::from_secs(30), session.closed()).await;
    assert!(ended.is_ok(), "the session did not end ({ending:?})");
    check_consistency(&session, &peer, "at the end");
    let at_close = session
        .stats_at_close()
        .expect("an ended session has its closing stats");
    peer.check_bounds(at_close, "at close");
    let after = session.stats();
    assert_eq!(
        (after.imports, after.exports),
        (1, 0),
        "an ended session's tables still hold entries: {after:?}"
    );
    drop(calls);
    drop(session);
    drop(peer);
    for waiter in waiters {
        let finished = timeout(Duration::from_secs(60), waiter).await;
        assert!(
            finished.is_ok(),
            "a call of ours is still pending after the end"
        );
    }
    // Let every timer run out: slow calls, the driver's closing deadline.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        LIVE.load(Ordering::SeqCst),
        0,
        "target objects outlive their session"
    );
}

/// Runs `future` while reading what the session sends meanwhile.
async fn drive<F: Future>(peer: &mut Peer, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    loop {
        if peer.closed || peer.end.is_none() {
            return future.await;
        }
        tokio::select! {
            output = &mut future => return output,
            received = peer.end.as_mut().expect("open").recv() => match received {
                Some(bytes) => peer.received(&bytes),
                None => peer.closed = true,
            },
        }
    }
}

fn check_consistency(session: &Session, peer: &Peer, when: &str) {
    if peer.closed {
        assert!(
            session.is_closed(),
            "{when}: the transport closed but the session runs"
        );
    }
    if session.is_closed() {
        assert!(
            peer.closed || peer.end.is_none(),
            "{when}: the session ended but its transport stays open"
        );
    } else {
        peer.check_bounds(session.stats(), when);
    }
}
