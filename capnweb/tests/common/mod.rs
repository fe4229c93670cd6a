//! Shared fixtures for the session tests: the reference test suite's target surface, written
//! against the dynamic `RpcTarget` trait, and a tapped in-memory connection.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::task::{Context, Poll};

use bytes::Bytes;
use capnweb::transport::memory::{self, MemoryTransport};
use capnweb::transport::{CloseReason, Transport};
use capnweb::{CallFuture, Error, RpcError, RpcTarget, Session, SessionOptions, Stub, Value};

/// A number, as a `Value` (the same helper as in `tests/tests/common`).
pub fn num(v: f64) -> Value {
    Value::Number(v)
}

/// The number a `Value` holds (NaN if it holds none).
pub fn as_num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn ready(result: Result<Value, RpcError>) -> CallFuture {
    CallFuture::ready(result)
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or_default()
}

/// The reference's `Counter`.
pub struct Counter {
    value: AtomicI64,
    pub dropped: Option<Arc<AtomicBool>>,
}

impl Counter {
    pub fn new(initial: i64) -> Counter {
        Counter {
            value: AtomicI64::new(initial),
            dropped: None,
        }
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if let Some(flag) = &self.dropped {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

impl RpcTarget for Counter {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        match method {
            "increment" => {
                let by = args.first().and_then(Value::as_f64).unwrap_or(1.0) as i64;
                let v = self.value.fetch_add(by, Ordering::SeqCst) + by;
                ready(Ok(Value::from(v as f64)))
            }
            _ => ready(Err(RpcError::type_error(format!("no method {method}")))),
        }
    }

    fn get(self: Arc<Self>, property: &str) -> CallFuture {
        match property {
            "value" => ready(Ok(Value::from(self.value.load(Ordering::SeqCst) as f64))),
            _ => ready(Ok(Value::Undefined)),
        }
    }
}

/// The reference test suite's `TestTarget`.
#[derive(Default)]
pub struct TestTarget {
    /// Set when the target is dropped.
    pub dropped: Option<Arc<AtomicBool>>,
    /// Calls in the order they started (for E-order tests).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for TestTarget {
    fn drop(&mut self) {
        if let Some(flag) = &self.dropped {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

impl RpcTarget for TestTarget {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        self.log.lock().unwrap().push(format!(
            "{method}({})",
            args.first().map(as_num).unwrap_or(f64::NAN)
        ));
        match method {
            "square" => {
                let x = as_num(&arg(&args, 0));
                ready(Ok(Value::from(x * x)))
            }
            "makeCounter" => {
                let c = Counter::new(as_num(&arg(&args, 0)) as i64);
                ready(Ok(Value::Stub(Stub::new(c))))
            }
            "incrementCounter" => {
                let Value::Stub(counter) = arg(&args, 0) else {
                    return ready(Err(RpcError::type_error(
                        "incrementCounter needs a counter stub",
                    )));
                };
                let by = args.get(1).map(as_num).unwrap_or(1.0);
                // Returns the promise, as the reference's surface does: the argument (and with
                // it the counter stub) is released as soon as the call returns.
                ready(Ok(Value::Promise(
                    counter.call("increment", vec![Value::from(by)]),
                )))
            }
            "callFunction" => {
                let Value::Stub(func) = arg(&args, 0) else {
                    return ready(Err(RpcError::type_error(
                        "callFunction needs a function stub",
                    )));
                };
                let x = arg(&args, 1);
                CallFuture::new(async move {
                    let result = func.call_self(vec![x]).await?;
                    let mut object = capnweb::value::Object::new();
                    object.insert("result".into(), result);
                    Ok(Value::Object(object))
                })
            }
            "callSquare" => {
                let Value::Stub(api) = arg(&args, 0) else {
                    return ready(Err(RpcError::type_error("callSquare needs a stub")));
                };
                let mut object = capnweb::value::Object::new();
                object.insert(
                    "result".into(),
                    Value::Promise(api.call("square", vec![arg(&args, 1)])),
                );
                ready(Ok(Value::Object(object)))
            }
            "throwError" => ready(Err(
                RpcError::range_error("test error").with_stack("at throwErrorImpl")
            )),
            "generateFibonacci" => {
                let n = as_num(&arg(&args, 0)) as usize;
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
            "returnNumber" | "echo" => ready(Ok(arg(&args, 0))),
            "slow" => {
                let x = arg(&args, 0);
                CallFuture::new(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(x)
                })
            }
            "never" => CallFuture::new(futures::future::pending()),
            _ => ready(Err(RpcError::type_error(format!(
                "'{method}' is not a method of TestTarget"
            )))),
        }
    }
}

/// Who sent a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    C2S,
    S2C,
}

pub type Log = Arc<Mutex<Vec<(Dir, String)>>>;

/// A memory transport end that records what it sends.
pub struct Tapped {
    inner: MemoryTransport,
    log: Log,
    dir: Dir,
}

impl Transport for Tapped {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        self.inner.poll_recv(cx)
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        let text = String::from_utf8(message.to_vec()).expect("the session sends UTF-8");
        self.log.lock().unwrap().push((self.dir, text));
        self.inner.start_send(message)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()> {
        self.inner.poll_close(cx, reason)
    }
}

/// Two sessions over a tapped memory connection: the server serves `main`.
pub struct Pair {
    pub client: Session,
    pub server: Session,
    pub api: Stub,
    pub log: Log,
}

pub fn connect(main: Stub) -> Pair {
    connect_with(main, SessionOptions::default(), SessionOptions::default())
}

pub fn connect_with(
    main: Stub,
    server_options: SessionOptions,
    client_options: SessionOptions,
) -> Pair {
    let (a, b) = memory::pair();
    let log: Log = Arc::default();
    let server = Session::new(
        Tapped {
            inner: a,
            log: log.clone(),
            dir: Dir::S2C,
        },
        Some(main),
        server_options,
    );
    let client = Session::new(
        Tapped {
            inner: b,
            log: log.clone(),
            dir: Dir::C2S,
        },
        None,
        client_options,
    );
    let api = client.main();
    Pair {
        client,
        server,
        api,
        log,
    }
}

pub fn test_pair() -> Pair {
    connect(Stub::new(TestTarget::default()))
}

impl Pair {
    /// Waits (bounded) until both sides hold only their main entries, then asserts it.
    pub async fn assert_settled(&self) {
        let settled = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let (c, s) = (self.client.stats(), self.server.stats());
                if (c.imports, c.exports, s.imports, s.exports) == (1, 1, 1, 1) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert!(
            settled.is_ok(),
            "tables did not settle to the main entries: client {:?}, server {:?}\nwire:\n{}",
            self.client.stats(),
            self.server.stats(),
            self.transcript()
        );
    }

    /// The messages so far, one per line, `>` client to server, `<` server to client.
    pub fn transcript(&self) -> String {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|(d, m)| format!("{} {m}", if *d == Dir::C2S { ">" } else { "<" }))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The messages so far, as (direction, text).
    /// How many client pushes went out before the server said anything: the calls of one
    /// round trip.
    pub fn pushes_before_any_answer(&self) -> usize {
        let messages = self.messages();
        let first_answer = messages
            .iter()
            .position(|(d, _)| *d == Dir::S2C)
            .unwrap_or(messages.len());
        messages[..first_answer]
            .iter()
            .filter(|(_, m)| m.starts_with(r#"["push""#))
            .count()
    }

    pub fn messages(&self) -> Vec<(Dir, String)> {
        self.log.lock().unwrap().clone()
    }
}

/// A writer for `tracing_subscriber` that keeps what is logged, for tests that read it.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
