//! Shared fixtures for the transport tests: a small hand-written target, a server on a free
//! loopback port, bounded waits and plain HTTP requests.
#![allow(dead_code)]

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capnweb::{CallFuture, Error, RpcError, RpcTarget, Server, SessionOptions, Stub, Value};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

/// Fails the test if `future` takes longer than a few seconds.
pub async fn within<F: IntoFuture>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `condition` (bounded) until it holds.
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    within(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
}

pub fn num(v: f64) -> Value {
    Value::from(v)
}

fn ready(result: Result<Value, RpcError>) -> CallFuture {
    CallFuture::ready(result)
}

fn number_arg(args: &[Value], i: usize) -> f64 {
    args.get(i).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// What the server's objects report to the test.
#[derive(Clone)]
pub struct Probe {
    /// A `hang()` call started.
    hang_started: mpsc::UnboundedSender<()>,
    /// Lets every `hang()` call return.
    pub gate: Arc<Notify>,
    /// A session's main object was dropped (its session ended).
    main_dropped: mpsc::UnboundedSender<()>,
}

/// The test's end of a [`Probe`].
pub struct Events {
    hang_started: mpsc::UnboundedReceiver<()>,
    main_dropped: mpsc::UnboundedReceiver<()>,
}

impl Events {
    pub async fn hang_started(&mut self) {
        within("a hang() call to start", self.hang_started.recv()).await;
    }

    pub async fn main_dropped(&mut self) {
        within(
            "a session's main object to be dropped",
            self.main_dropped.recv(),
        )
        .await;
    }
}

pub fn probe() -> (Probe, Events) {
    let (hang_tx, hang_rx) = mpsc::unbounded_channel();
    let (dropped_tx, dropped_rx) = mpsc::unbounded_channel();
    (
        Probe {
            hang_started: hang_tx,
            gate: Arc::new(Notify::new()),
            main_dropped: dropped_tx,
        },
        Events {
            hang_started: hang_rx,
            main_dropped: dropped_rx,
        },
    )
}

/// The main object the test server serves.
pub struct TestApi {
    probe: Probe,
}

impl TestApi {
    pub fn new(probe: Probe) -> TestApi {
        TestApi { probe }
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        let _ = self.probe.main_dropped.send(());
    }
}

impl RpcTarget for TestApi {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        match method {
            "square" => {
                let x = number_arg(&args, 0);
                ready(Ok(num(x * x)))
            }
            "makeCounter" => {
                let counter = Counter(AtomicI64::new(number_arg(&args, 0) as i64));
                ready(Ok(Value::Stub(Stub::new(counter))))
            }
            "callFunction" => {
                let Some(Value::Stub(func)) = args.first().cloned() else {
                    return ready(Err(RpcError::type_error(
                        "callFunction(func, x) needs a function",
                    )));
                };
                let x = args.get(1).cloned().unwrap_or_default();
                CallFuture::new(async move { Ok(func.call_self(vec![x]).await?) })
            }
            "throwError" => ready(Err(RpcError::range_error("test error"))),
            "range" => {
                let n = number_arg(&args, 0) as i32;
                ready(Ok(Value::Array((0..n).map(Value::from).collect())))
            }
            "slow" => {
                let x = args.first().cloned().unwrap_or_default();
                CallFuture::new(async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    Ok(x)
                })
            }
            "hang" => {
                let _ = self.probe.hang_started.send(());
                let gate = Arc::clone(&self.probe.gate);
                CallFuture::new(async move {
                    gate.notified().await;
                    Ok(Value::from("released"))
                })
            }
            _ => ready(Err(RpcError::type_error(format!(
                "'{method}' is not a method of TestApi"
            )))),
        }
    }
}

/// What `makeCounter` returns.
struct Counter(AtomicI64);

impl RpcTarget for Counter {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        match method {
            "increment" => {
                let by = args.first().and_then(Value::as_f64).unwrap_or(1.0) as i64;
                let value = self.0.fetch_add(by, Ordering::SeqCst) + by;
                ready(Ok(num(value as f64)))
            }
            _ => ready(Err(RpcError::type_error(format!(
                "'{method}' is not a method of Counter"
            )))),
        }
    }
}

/// A [`Server`] serving a fresh [`TestApi`] per session on a free loopback port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub events: Events,
    pub gate: Arc<Notify>,
    pub handle: capnweb::ServerHandle,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), Error>>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(SessionOptions::default()).await
    }

    pub async fn start_with(options: SessionOptions) -> TestServer {
        TestServer::start_configured(|server| server.options(options)).await
    }

    /// A test server with its [`Server`] settings chosen by `configure`.
    pub async fn start_configured(configure: impl FnOnce(Server) -> Server) -> TestServer {
        let (probe, events) = probe();
        let gate = Arc::clone(&probe.gate);
        let server = configure(Server::bind("127.0.0.1:0").await.unwrap());
        let handle = server.handle();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_with_shutdown(
            move || Stub::new(TestApi::new(probe.clone())),
            async {
                stopped.await.ok();
            },
        ));
        TestServer {
            addr,
            events,
            gate,
            handle,
            stop: Some(stop),
            task,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Asks the server to shut down; returns a task that completes when it has.
    pub fn begin_shutdown(&mut self) -> &mut JoinHandle<Result<(), Error>> {
        if let Some(stop) = self.stop.take() {
            stop.send(()).unwrap();
        }
        &mut self.task
    }

    /// Shuts the server down and waits (bounded) until it has.
    pub async fn shutdown(mut self) {
        let task = self.begin_shutdown();
        within("the server to shut down", task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// A plain HTTP response, for the status-code tests.
pub struct Answer {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: String,
}

/// Sends `request` with a plain HTTP client.
pub async fn send<B>(request: http::Request<B>) -> Answer
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let client = Client::builder(TokioExecutor::new()).build_http::<B>();
    let response = within("an HTTP response", client.request(request))
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = within("an HTTP body", response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// POSTs `body` to `url`.
pub async fn post(url: &str, body: impl Into<Bytes>) -> Answer {
    send(
        http::Request::post(url)
            .body(Full::new(body.into()))
            .unwrap(),
    )
    .await
}

/// What a transport failure says; any other error fails the test.
pub fn transport_message(error: Error) -> String {
    match error {
        Error::Transport(failure) => failure.message().to_owned(),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

/// What a raw HTTP/1.1 exchange returned: the status, the head (lower-cased) and the body.
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `GET <target>` exactly as written (no client normalizes the path), with `headers`
/// (each `name: value`), and reads the whole answer.
pub async fn raw_get(addr: SocketAddr, target: &str, headers: &[&str]) -> Raw {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    within("an HTTP answer", tcp.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    Raw {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// The value of header `name` in a lower-cased head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}
