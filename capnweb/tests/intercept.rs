//! Interceptors, handler timeouts, client timeouts and per-session counters, over an
//! in-memory connection.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;

use capnweb::intercept::{CallInfo, CallKind, Interceptor};
use capnweb::transport::memory;
use capnweb::{rpc_target, RpcError, RpcPromise, Session, SessionOptions, Value};

#[derive(Debug)]
pub struct Api {
    secret_ran: Arc<AtomicBool>,
}

#[rpc_target]
impl Api {
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }

    pub fn counter(&self, start: i64) -> CounterStub {
        CounterStub::new(Counter(Mutex::new(start)))
    }

    pub fn secret(&self) -> String {
        self.secret_ran.store(true, Ordering::SeqCst);
        "the secret".into()
    }

    /// Calls a local object of its own: a call the peer did not make.
    pub async fn relay(&self, x: f64) -> Result<f64, RpcError> {
        let local = ApiStub::new(Api {
            secret_ran: Arc::default(),
        });
        Ok(local.square(x).await?)
    }

    pub async fn sleep(&self, millis: u64) -> String {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        "awake".into()
    }

    pub fn fail(&self) -> Result<(), RpcError> {
        Err(RpcError::range_error("failing on purpose"))
    }

    pub fn numbers(&self) -> Vec<f64> {
        vec![1.0, 2.0, 3.0]
    }

    /// A list no JavaScript peer could read: its second id is beyond 2^53.
    pub fn unsafe_ids(&self) -> Vec<u64> {
        vec![1, u64::MAX]
    }
}

#[derive(Debug)]
pub struct Counter(Mutex<i64>);

#[rpc_target]
impl Counter {
    pub fn increment(&self, by: i64) -> i64 {
        let mut value = self.0.lock().unwrap();
        *value += by;
        *value
    }
}

/// What the interceptor saw: `before` and `after` events, in order.
#[derive(Default, Clone)]
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl Interceptor for Recorder {
    fn before(&self, call: &CallInfo) -> Result<(), RpcError> {
        let kind = match call.kind() {
            CallKind::Method => "call",
            CallKind::Property => "get",
            CallKind::Function => "fn",
            _ => "other",
        };
        self.events.lock().unwrap().push(format!(
            "before {kind} {}.{}",
            call.target_type(),
            call.method()
        ));
        if call.method() == "secret" {
            return Err(RpcError::error("secret is not for you"));
        }
        Ok(())
    }

    fn after(&self, call: &CallInfo, outcome: Result<&Value, &RpcError>, _elapsed: Duration) {
        let outcome = match outcome {
            Ok(value) => match value.as_f64() {
                Some(n) => format!("ok {n}"),
                None => format!("ok {}", value.kind()),
            },
            Err(e) => format!("err {}", e.message),
        };
        self.events.lock().unwrap().push(format!(
            "after {}.{} {outcome}",
            call.target_type(),
            call.method()
        ));
    }
}

struct Pair {
    server: Session,
    client: Session,
    api: ApiStub,
    secret_ran: Arc<AtomicBool>,
}

fn pair(server_options: SessionOptions, client_options: SessionOptions) -> Pair {
    let (a, b) = memory::pair();
    let secret_ran = Arc::new(AtomicBool::new(false));
    let main = ApiStub::new(Api {
        secret_ran: Arc::clone(&secret_ran),
    });
    let server = Session::new(a, Some(main.into()), server_options);
    let client = Session::new(b, None, client_options);
    let api = client.main_as();
    Pair {
        server,
        client,
        api,
        secret_ran,
    }
}

#[tokio::test]
async fn an_interceptor_sees_every_call_the_peer_makes_nested_and_pipelined_included() {
    let recorder = Recorder::default();
    let pair = pair(
        SessionOptions::default().interceptor(recorder.clone()),
        SessionOptions::default(),
    );
    assert_eq!(pair.api.square(3.0).await.unwrap(), 9.0);
    // Pipelined: `increment` waits on the server for `counter`'s result, then runs.
    assert_eq!(pair.api.counter(10).increment(5).await.unwrap(), 15);
    // On a stub the client holds (a nested object).
    let counter = pair.api.counter(1).await.unwrap();
    assert_eq!(counter.increment(1).await.unwrap(), 2);
    assert_eq!(
        recorder.events(),
        [
            "before call Api.square",
            "after Api.square ok 9",
            "before call Api.counter",
            "after Api.counter ok stub",
            "before call Counter.increment",
            "after Counter.increment ok 15",
            "before call Api.counter",
            "after Api.counter ok stub",
            "before call Counter.increment",
            "after Counter.increment ok 2",
        ]
    );
    assert_eq!(pair.server.stats().calls, 5);
    drop(pair.client);
}

#[tokio::test]
async fn a_denied_call_never_runs_and_the_caller_gets_the_interceptors_error() {
    let recorder = Recorder::default();
    let pair = pair(
        SessionOptions::default().interceptor(recorder.clone()),
        SessionOptions::default(),
    );
    let denied = pair.api.secret().await.unwrap_err();
    assert_eq!(denied.as_remote().unwrap().message, "secret is not for you");
    assert!(!pair.secret_ran.load(Ordering::SeqCst));
    assert_eq!(
        recorder.events(),
        [
            "before call Api.secret",
            "after Api.secret err secret is not for you"
        ]
    );
    let stats = pair.server.stats();
    assert_eq!((stats.calls, stats.errors), (1, 1));
}

#[tokio::test]
async fn calls_a_method_makes_on_its_own_objects_are_not_the_peers() {
    let recorder = Recorder::default();
    let pair = pair(
        SessionOptions::default().interceptor(recorder.clone()),
        SessionOptions::default(),
    );
    assert_eq!(pair.api.relay(4.0).await.unwrap(), 16.0);
    assert_eq!(
        recorder.events(),
        ["before call Api.relay", "after Api.relay ok 16"]
    );
}

#[tokio::test]
async fn calls_inside_a_map_are_intercepted() {
    let recorder = Recorder::default();
    let pair = pair(
        SessionOptions::default().interceptor(recorder.clone()),
        SessionOptions::default(),
    );
    let api = pair.api.clone();
    let squares = pair.api.numbers().map(|n| api.square(n)).await.unwrap();
    assert_eq!(squares, [1.0, 4.0, 9.0]);
    let events = recorder.events();
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "before call Api.square")
            .count(),
        3,
        "{events:?}"
    );
}

#[tokio::test]
async fn a_call_past_the_handler_timeout_is_cancelled_and_the_caller_learns_why() {
    let pair = pair(
        SessionOptions::default().handler_timeout(Duration::from_millis(50)),
        SessionOptions::default(),
    );
    let error = pair.api.sleep(60_000).await.unwrap_err();
    let remote = error.as_remote().expect("a remote error");
    assert!(
        remote
            .message
            .contains("Api.sleep did not finish within 50ms"),
        "{remote:?}"
    );
    assert_eq!(remote.prop("code"), Some(&Value::from("DEADLINE_EXCEEDED")));
    // A quick call is not affected.
    assert_eq!(pair.api.sleep(1).await.unwrap(), "awake");
    let stats = pair.server.stats();
    assert_eq!((stats.calls, stats.errors), (2, 1));
}

#[tokio::test]
async fn a_client_timeout_rejects_the_await_and_releases_the_result() {
    let pair = pair(SessionOptions::default(), SessionOptions::default());
    let slow = RpcPromise::timeout(pair.api.sleep(300), Duration::from_millis(20));
    let error = slow.await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(error.to_string().contains("20ms"), "{error}");
    // The result was released: once the call finishes on the server, nothing is left.
    tokio::time::timeout(Duration::from_secs(5), async {
        while !pair.server.stats().only_main() || !pair.client.stats().only_main() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the timed-out call should be released on both sides");
    // The session goes on.
    assert_eq!(pair.api.square(2.0).await.unwrap(), 4.0);
}

#[tokio::test]
async fn the_session_call_timeout_applies_to_every_await_unless_a_call_sets_its_own() {
    let pair = pair(
        SessionOptions::default(),
        SessionOptions::default().call_timeout(Duration::from_millis(20)),
    );
    let error = pair.api.sleep(300).await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    let longer = RpcPromise::timeout(pair.api.sleep(50), Duration::from_secs(10));
    assert_eq!(longer.await.unwrap(), "awake");
    assert_eq!(pair.api.square(5.0).into_future().await.unwrap(), 25.0);
}

#[tokio::test]
async fn the_session_counts_calls_errors_and_bytes() {
    let pair = pair(SessionOptions::default(), SessionOptions::default());
    pair.api.square(1.0).await.unwrap();
    pair.api.fail().await.unwrap_err();
    let server = pair.server.stats();
    let client = pair.client.stats();
    assert_eq!((server.calls, server.errors), (2, 1));
    assert_eq!((client.calls, client.errors), (0, 0));
    // Every byte one side sent, the other received (nothing is in flight now).
    assert!(server.bytes_in > 0);
    tokio::time::timeout(Duration::from_secs(5), async {
        while pair.server.stats().bytes_in != pair.client.stats().bytes_out {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the byte counts should agree");
    assert_eq!(server.bytes_out, client.bytes_in);
}

#[tokio::test]
async fn a_panicking_interceptor_fails_the_call_not_the_session() {
    struct Panics;
    impl Interceptor for Panics {
        fn before(&self, call: &CallInfo) -> Result<(), RpcError> {
            if call.method() == "square" {
                panic!("the interceptor broke");
            }
            Ok(())
        }
    }
    let pair = pair(
        SessionOptions::default().interceptor(Panics),
        SessionOptions::default(),
    );
    let error = pair.api.square(2.0).await.unwrap_err();
    assert!(
        error.to_string().contains("interceptor panicked"),
        "{error}"
    );
    assert_eq!(pair.api.numbers().await.unwrap(), [1.0, 2.0, 3.0]);
}

/// What a `tracing-subscriber` sees: a span per session, a child span per call handled (wire
/// name, target, id, outcome, duration), and a warning when the peer breaks the protocol.
#[tokio::test(flavor = "current_thread")]
async fn sessions_and_calls_are_spans_and_a_protocol_error_is_a_warning() {
    let logs = common::Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    // Other tests of this binary run calls on other threads meanwhile; one that reached a
    // callsite while this subscriber was being registered may have cached it as uninteresting
    // (this test saw no call spans once in ~35 runs). Ask every callsite again.
    tracing::callsite::rebuild_interest_cache();

    let pair = pair(SessionOptions::default(), SessionOptions::default());
    assert_eq!(pair.api.square(3.0).await.unwrap(), 9.0);
    pair.api.fail().await.unwrap_err();
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let closed_calls: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("call{") && line.contains("close"))
        .collect();
    assert_eq!(closed_calls.len(), 2, "{logged}");
    for (line, method, outcome) in [
        (closed_calls[0], "square", "ok"),
        (closed_calls[1], "fail", "error"),
    ] {
        for field in [
            format!("method=\"{method}\""),
            "target=\"Api\"".to_owned(),
            format!("outcome=\"{outcome}\""),
            "duration_us=".to_owned(),
            "id=".to_owned(),
        ] {
            assert!(line.contains(&field), "{field} in {line}");
        }
        // The call's span is its session's child.
        assert!(line.contains("session:call{"), "{line}");
    }

    // A peer breaking the protocol: a warning naming it, inside the session's span.
    let (a, mut raw) = memory::pair();
    let server = Session::new(a, None, SessionOptions::default());
    raw.send(r#"["pull",7]"#).await.unwrap();
    server.closed().await;
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logged.lines().any(|line| line.contains("WARN")
            && line.contains("session aborted: the peer broke the protocol")),
        "{logged}"
    );
}

#[tokio::test]
async fn an_interceptor_sees_a_list_result_and_the_error_of_one_that_cannot_be_sent() {
    let recorder = Recorder::default();
    let pair = pair(
        SessionOptions::default().interceptor(recorder.clone()),
        SessionOptions::default(),
    );
    // Lists are written straight into the message; the interceptor still sees the value, and
    // for one that cannot be written, the error the caller gets.
    assert_eq!(pair.api.numbers().await.unwrap(), [1.0, 2.0, 3.0]);
    let e = pair.api.unsafe_ids().await.unwrap_err();
    let message = &e.as_remote().expect("a remote error").message;
    assert!(message.contains("JavaScript number"), "{message}");
    let events = recorder.events();
    assert_eq!(events[1], "after Api.numbers ok array");
    assert_eq!(events[3], format!("after Api.unsafeIds err {message}"));
    drop(pair.client);
}
