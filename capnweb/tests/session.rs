//! Two sessions over the in-memory transport: the reference's scenarios, the texts on the wire,
//! and the tables back to the main entries after each one.

mod common;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use capnweb::transport::memory;
use capnweb::{BigInt, Error, Limits, RpcError, Session, SessionOptions, Stub, Value};
use common::*;

fn v(n: f64) -> Value {
    Value::from(n)
}

fn wire(pair: &Pair) -> Vec<String> {
    pair.messages()
        .into_iter()
        .map(|(d, m)| format!("{}{m}", if d == Dir::C2S { ">" } else { "<" }))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_call_and_its_wire_texts() {
    let pair = test_pair();
    let result = pair.api.call("square", vec![v(3.0)]).await.unwrap();
    assert_eq!(result, v(9.0));
    pair.assert_settled().await;
    assert_eq!(
        wire(&pair),
        [
            r#">["push",["pipeline",0,["square"],[3]]]"#,
            r#">["pull",1]"#,
            r#"<["resolve",1,9]"#,
            r#">["release",1,1]"#,
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_read() {
    let pair = test_pair();
    let counter = pair.api.call("makeCounter", vec![v(4.0)]);
    assert_eq!(counter.get("value").await.unwrap(), v(4.0));
    drop(counter);
    pair.assert_settled().await;
    let texts = wire(&pair);
    assert!(
        texts.contains(&r#">["push",["pipeline",1,["value"]]]"#.to_string()),
        "{texts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_call_on_a_returned_stub_is_one_round_trip() {
    let pair = test_pair();
    let counter = pair.api.call("makeCounter", vec![v(1.0)]);
    let incremented = counter.call("increment", vec![v(2.0)]).await.unwrap();
    assert_eq!(incremented, v(3.0));
    drop(counter);
    pair.assert_settled().await;
    let texts = wire(&pair);
    // Both pushes leave before any answer comes back.
    assert_eq!(texts[0], r#">["push",["pipeline",0,["makeCounter"],[1]]]"#);
    assert_eq!(texts[1], r#">["push",["pipeline",1,["increment"],[2]]]"#);
    assert_eq!(texts[2], r#">["pull",2]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promise_as_an_argument() {
    let pair = test_pair();
    let inner = pair.api.call("square", vec![v(2.0)]);
    let outer = pair.api.call("square", vec![inner.clone().into()]);
    drop(inner);
    assert_eq!(outer.await.unwrap(), v(16.0));
    pair.assert_settled().await;
    let texts = wire(&pair);
    assert_eq!(
        texts[1],
        r#">["push",["pipeline",0,["square"],[["pipeline",1]]]]"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_from_the_server_into_a_client_stub() {
    let pair = test_pair();
    let calls = Arc::new(Mutex::new(0));
    let seen = calls.clone();
    let func = Stub::from_fn(move |args: Vec<Value>| {
        *seen.lock().unwrap() += 1;
        let x = args[0].as_f64().unwrap();
        async move { Ok(Value::from(x * 10.0)) }
    });
    let result = pair
        .api
        .call("callFunction", vec![Value::Stub(func.clone()), v(3.0)])
        .await
        .unwrap();
    assert_eq!(result.as_object().unwrap()["result"], v(30.0));
    assert_eq!(*calls.lock().unwrap(), 1);
    drop(func);
    pair.assert_settled().await;
    let texts = wire(&pair);
    assert_eq!(
        texts[0],
        r#">["push",["pipeline",0,["callFunction"],[["export",-1],3]]]"#
    );
    assert!(
        texts.contains(&r#"<["push",["pipeline",-1,[],[3]]]"#.to_string()),
        "{texts:#?}"
    );
    assert!(
        texts.contains(&r#"<["release",-1,1]"#.to_string()),
        "{texts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stub_passed_back_to_the_server() {
    let pair = test_pair();
    let counter = Stub::new(Counter::new(10));
    let result = pair
        .api
        .call(
            "incrementCounter",
            vec![Value::Stub(counter.clone()), v(5.0)],
        )
        .await
        .unwrap();
    assert_eq!(result, v(15.0));
    // The same object exported twice reuses its id.
    let again = pair
        .api
        .call(
            "incrementCounter",
            vec![Value::Stub(counter.clone()), v(1.0)],
        )
        .await
        .unwrap();
    assert_eq!(again, v(16.0));
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_name_and_message_and_no_stack_by_default() {
    let pair = test_pair();
    let err = pair.api.call("throwError", vec![]).await.unwrap_err();
    let Error::Remote(e) = err else {
        panic!("expected a remote error, got {err:?}")
    };
    assert_eq!(
        (e.name.as_str(), e.message.as_str(), e.stack.as_deref()),
        ("RangeError", "test error", None)
    );
    pair.assert_settled().await;
    assert!(
        wire(&pair).contains(&r#"<["reject",1,["error","RangeError","test error"]]"#.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_send_error_can_reveal_the_stack() {
    let options = SessionOptions::default().on_send_error(|e: &RpcError| Some(e.clone()));
    let pair = connect_with(
        Stub::new(TestTarget::default()),
        options,
        SessionOptions::default(),
    );
    let err = pair.api.call("throwError", vec![]).await.unwrap_err();
    assert_eq!(
        err.as_remote().unwrap().stack.as_deref(),
        Some("at throwErrorImpl")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_props_round_trip() {
    let pair = test_pair();
    let error = RpcError::type_error("bad")
        .with_prop("code", 42)
        .with_cause(RpcError::error("root"));
    let echoed = pair
        .api
        .call("echo", vec![Value::from(error.clone())])
        .await
        .unwrap();
    assert_eq!(echoed, Value::from(error));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_pipelined_on_a_rejected_promise_rejects() {
    let pair = test_pair();
    let failing = pair.api.call("throwError", vec![]);
    let dependent = failing.call("foo", vec![]);
    drop(failing);
    let err = dependent.await.unwrap_err();
    assert_eq!(err.as_remote().map(|e| e.name.as_str()), Some("RangeError"));
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_over_an_array() {
    let pair = test_pair();
    let api = pair.api.clone();
    let squares = pair
        .api
        .call("generateFibonacci", vec![v(6.0)])
        .map(|x| api.call("square", vec![x.into()]));
    assert_eq!(
        squares.await.unwrap(),
        Value::Array([0.0, 1.0, 1.0, 4.0, 9.0, 25.0].map(v).to_vec())
    );
    drop(api);
    pair.assert_settled().await;
    let texts = wire(&pair);
    assert_eq!(
        texts[1],
        r#">["push",["remap",1,[],[["import",0]],[["pipeline",-1,["square"],[["pipeline",0]]],["pipeline",1]]]]"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_over_null_and_over_a_single_value() {
    let pair = test_pair();
    let api = pair.api.clone();
    let none = pair
        .api
        .call("returnNull", vec![])
        .map(|x| api.call("square", vec![x.into()]));
    assert_eq!(none.await.unwrap(), Value::Null);
    let one = pair
        .api
        .call("returnNumber", vec![v(7.0)])
        .map(|x| api.call("square", vec![x.into()]));
    assert_eq!(one.await.unwrap(), v(49.0));
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_with_a_captured_client_stub() {
    let pair = test_pair();
    let counter = Stub::new(Counter::new(0));
    let results = pair
        .api
        .call("generateFibonacci", vec![v(4.0)])
        .map(|x| counter.call("increment", vec![x.into()]));
    // Increments by 0, 1, 1, 2, in order.
    assert_eq!(
        results.await.unwrap(),
        Value::Array([0.0, 1.0, 2.0, 4.0].map(v).to_vec())
    );
    drop(counter);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_map() {
    let pair = test_pair();
    let api = pair.api.clone();
    let nested = pair.api.call("generateFibonacci", vec![v(4.0)]).map(|x| {
        api.call("generateFibonacci", vec![x.into()])
            .map(|y| api.call("square", vec![y.into()]))
    });
    let expected = Value::Array(vec![
        Value::Array(vec![]),
        Value::Array(vec![v(0.0)]),
        Value::Array(vec![v(0.0)]),
        Value::Array(vec![v(0.0), v(1.0)]),
    ]);
    assert_eq!(nested.await.unwrap(), expected);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promise_dropped_unawaited_is_released_without_a_pull() {
    let pair = test_pair();
    let p = pair.api.call("square", vec![v(5.0)]);
    drop(p);
    assert_eq!(pair.api.call("square", vec![v(2.0)]).await.unwrap(), v(4.0));
    pair.assert_settled().await;
    let texts = wire(&pair);
    assert_eq!(texts[1], r#">["release",1,1]"#, "{texts:#?}");
    assert!(!texts.contains(&r#">["pull",1]"#.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_rejects_every_pending_call_and_fires_on_broken() {
    let pair = test_pair();
    let pending = pair.api.call("never", vec![]);
    let broken = Arc::new(AtomicBool::new(false));
    let flag = broken.clone();
    pair.api
        .on_broken(move |_| flag.store(true, Ordering::SeqCst));
    pair.server.abort(RpcError::error("server going away"));
    let err = pending.await.unwrap_err();
    match &err {
        Error::Disconnected {
            peer_error: Some(e),
            ..
        } => assert_eq!(e.message, "server going away"),
        other => panic!("expected a disconnection carrying the peer's error, got {other:?}"),
    }
    assert!(broken.load(Ordering::SeqCst));
    // Later calls fail at once with the same reason.
    assert!(pair
        .api
        .call("square", vec![v(1.0)])
        .await
        .unwrap_err()
        .is_disconnected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_are_released_when_the_session_ends() {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut target = TestTarget::default();
    target.dropped = Some(dropped.clone());
    let pair = connect(Stub::new(target));
    assert_eq!(pair.api.call("square", vec![v(2.0)]).await.unwrap(), v(4.0));
    let Pair {
        client,
        server,
        api,
        ..
    } = pair;
    let client_ended = Arc::new(AtomicBool::new(false));
    let flag = client_ended.clone();
    client.on_broken(move |_| flag.store(true, Ordering::SeqCst));
    // Nothing from the client session is held any more: it ends, the server sees the
    // connection go.
    drop((api, client));
    let why = server.closed().await;
    assert!(why.is_disconnected(), "{why:?}");
    assert!(client_ended.load(Ordering::SeqCst));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the server's main object must be dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_object_is_dropped_when_its_last_stub_is_released() {
    let pair = test_pair();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut counter = Counter::new(0);
    counter.dropped = Some(dropped.clone());
    let stub = Stub::new(counter);
    assert_eq!(
        pair.api
            .call("incrementCounter", vec![Value::Stub(stub.clone()), v(1.0)])
            .await
            .unwrap(),
        v(1.0)
    );
    pair.assert_settled().await;
    assert!(!dropped.load(Ordering::SeqCst), "still referenced locally");
    drop(stub);
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_one_target_start_in_arrival_order() {
    let target = TestTarget::default();
    let log = target.log.clone();
    let pair = connect(Stub::new(target));
    let calls: Vec<_> = (0..20)
        .map(|i| {
            pair.api.call(
                if i % 2 == 0 { "slow" } else { "square" },
                vec![v(i as f64)],
            )
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let expected = if i % 2 == 0 { i as f64 } else { (i * i) as f64 };
        assert_eq!(call.await.unwrap(), v(expected));
    }
    let started: Vec<String> = log.lock().unwrap().clone();
    let expected: Vec<String> = (0..20)
        .map(|i| format!("{}({})", if i % 2 == 0 { "slow" } else { "square" }, i))
        .collect();
    assert_eq!(started, expected);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_of_every_type_round_trip() {
    let pair = test_pair();
    let values = vec![
        Value::Undefined,
        Value::Null,
        Value::Bool(true),
        v(1.5),
        v(f64::NAN),
        v(f64::INFINITY),
        v(f64::NEG_INFINITY),
        Value::from("text"),
        Value::BigInt(BigInt::parse("-123456789012345678901234567890").unwrap()),
        Value::Date(capnweb::Date::from_millis(1_749_342_170_815.0)),
        Value::Bytes(capnweb::Bytes::from(vec![0u8, 1, 2, 255])),
        Value::Bytes(capnweb::Bytes::with_kind(
            vec![1, 0, 2, 0],
            Some(capnweb::wire::BytesKind::Int16Array),
        )),
        Value::Url("https://example.com/path?q=1".into()),
        Value::Headers(vec![("content-type".into(), "text/plain".into())]),
        Value::Request(Box::new(capnweb::value::Fetch {
            url: "https://example.com/upload".into(),
            headers: vec![("x-id".into(), "7".into())],
            body: Some(Value::from("payload")),
            other: serde_json::from_str(r#"{"method":"POST"}"#).unwrap(),
        })),
        Value::Response(Box::new(capnweb::value::Fetch {
            body: Some(Value::Bytes(capnweb::Bytes::from(vec![1, 2, 3]))),
            other: serde_json::from_str(r#"{"status":404}"#).unwrap(),
            ..Default::default()
        })),
        Value::Array(vec![
            Value::Array(vec![v(1.0), Value::Array(vec![v(2.0)])]),
            Value::Array(vec![]),
        ]),
    ];
    for value in values {
        let echoed = pair.api.call("echo", vec![value.clone()]).await.unwrap();
        assert_eq!(echoed, value);
    }
    pair.assert_settled().await;
}

/// A raw peer: the test writes texts and reads what the session answers.
struct RawPeer {
    end: memory::MemoryTransport,
}

impl RawPeer {
    fn serve(main: Stub, options: SessionOptions) -> (Session, RawPeer) {
        let (a, end) = memory::pair();
        let session = Session::new(a, Some(main), options);
        (session, RawPeer { end })
    }

    async fn send(&mut self, text: &str) {
        self.end.send(text.to_string()).await.unwrap();
    }

    async fn recv(&mut self) -> Option<String> {
        let message = self.end.recv().await?;
        Some(String::from_utf8(message.to_vec()).unwrap())
    }
}

async fn expect_abort(peer: &mut RawPeer, fragment: &str) {
    let text = peer
        .recv()
        .await
        .expect("the session should answer with an abort");
    assert!(text.starts_with(r#"["abort",["error","#), "{text}");
    assert!(
        text.contains(fragment),
        "abort message {text} should mention {fragment:?}"
    );
    assert_eq!(
        peer.recv().await,
        None,
        "the connection should close after the abort"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_aborts_only_its_own_session() {
    let main = Stub::new(TestTarget::default());
    let (bad_session, mut bad) = RawPeer::serve(main.clone(), SessionOptions::default());
    let (_good_session, mut good) = RawPeer::serve(main, SessionOptions::default());
    bad.send(r#"["push",["pipeline",0,["square"],[2]]"#).await; // missing bracket
    expect_abort(&mut bad, "").await;
    assert!(bad_session.is_closed());
    good.send(r#"["push",["pipeline",0,["square"],[2]]]"#).await;
    good.send(r#"["pull",1]"#).await;
    assert_eq!(good.recv().await.unwrap(), r#"["resolve",1,4]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ids_and_unknown_tags_abort_with_a_clear_error() {
    for (input, fragment) in [
        (r#"["push",["pipeline",7,["square"],[2]]]"#, "export 7"),
        (r#"["pull",99]"#, "export 99"),
        (r#"["release",0,5]"#, "only 1 references"),
        (r#"["frobnicate",1]"#, "frobnicate"),
        (r#"["push",["nope",1]]"#, "nope"),
        (r#"{"not":"an array"}"#, ""),
        (
            r#"["push",["pipeline",0,["echo"],[["export",3]]]]"#,
            "must be negative",
        ),
    ] {
        let (_session, mut peer) =
            RawPeer::serve(Stub::new(TestTarget::default()), SessionOptions::default());
        peer.send(input).await;
        expect_abort(&mut peer, fragment).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_limit_exceeded_aborts_the_session_naming_the_limit() {
    let limits = Limits::default()
        .max_bigint_digits(10)
        .max_depth(8)
        .max_message_size(200);
    // What the peer reads speaks of the protocol; our own side's error also names the setting.
    let cases = [
        (
            r#"["push",["pipeline",0,["echo"],[["bigint","12345678901"]]]]"#.to_string(),
            "a bigint of 11 characters is longer than the limit of 10",
            "Limits::max_bigint_digits",
        ),
        (
            format!(
                r#"["push",["pipeline",0,["echo"],[{}1{}]]]"#,
                "[[".repeat(10),
                "]]".repeat(10)
            ),
            "the message is nested deeper than the limit of 8 levels",
            "Limits::max_depth",
        ),
        (
            format!(
                r#"["push",["pipeline",0,["echo"],["{}"]]]"#,
                "x".repeat(300)
            ),
            "UTF-16 code units long, more than the limit of 200",
            "Limits::max_message_size",
        ),
    ];
    for (input, peer_reads, setting) in cases {
        let (session, mut peer) = RawPeer::serve(
            Stub::new(TestTarget::default()),
            SessionOptions::default().limits(limits),
        );
        peer.send(&input).await;
        let text = peer.recv().await.expect("an abort");
        assert!(text.contains(peer_reads), "{text}");
        assert!(!text.contains("Limits::"), "{text}");
        let local = session.closed().await;
        assert!(
            matches!(&local, Error::LimitExceeded(m) if m.message().contains(peer_reads) && m.to_string().ends_with(&format!("({setting})"))),
            "{local:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_result_from_the_peer_rejects_pending_calls_on_the_client() {
    let limits = Limits::default().max_message_size(200);
    let pair = connect_with(
        Stub::new(TestTarget::default()),
        SessionOptions::default(),
        SessionOptions::default().limits(limits),
    );
    let err = pair
        .api
        .call("generateFibonacci", vec![v(60.0)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded(ref m) if m.to_string().contains("max_message_size")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_argument_over_our_own_limits_is_refused_before_it_is_sent() {
    let limits = Limits::default().max_bigint_digits(5);
    let pair = connect_with(
        Stub::new(TestTarget::default()),
        SessionOptions::default(),
        SessionOptions::default().limits(limits),
    );
    let big = Value::BigInt(BigInt::from(12345678901234567890u64));
    let err = pair.api.call("echo", vec![big]).await.unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded(ref m) if m.message().contains("longer than the limit of 5")),
        "{err:?}"
    );
    // Nothing of it went out, and the session goes on.
    assert!(
        !pair.transcript().contains("bigint"),
        "{}",
        pair.transcript()
    );
    assert_eq!(pair.api.call("square", vec![v(3.0)]).await.unwrap(), v(9.0));
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn property_paths_walk_objects_and_arrays() {
    let pair = test_pair();
    let value = capnweb::to_value(&serde_json::json!({"a": [10, 20, {"deep": "yes"}]})).unwrap();
    let echoed = pair.api.call("echo", vec![value]);
    assert_eq!(echoed.get("a").get("1").await.unwrap(), v(20.0));
    assert_eq!(
        echoed.get("a").get("2").get("deep").await.unwrap(),
        Value::from("yes")
    );
    assert_eq!(echoed.get("missing").await.unwrap(), Value::Undefined);
    let err = echoed.get("missing").get("x").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read properties of undefined (reading 'x')"),
        "{err}"
    );
    drop(echoed);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_pulled_results_and_fails_once_the_session_ended() {
    let pair = test_pair();
    let slow = tokio::spawn(pair.api.call("slow", vec![v(1.0)]).into_future());
    pair.server.drain().await.unwrap();
    assert_eq!(slow.await.unwrap().unwrap(), v(1.0));
    pair.server.abort(RpcError::error("done"));
    assert!(pair.server.drain().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_inside_map_instructions_are_refused() {
    let (_session, mut peer) =
        RawPeer::serve(Stub::new(TestTarget::default()), SessionOptions::default());
    peer.send(r#"["push",["remap",0,[],[],[["export",-1]]]]"#)
        .await;
    peer.send(r#"["pull",1]"#).await;
    let answer = peer.recv().await.unwrap();
    assert!(
        answer.starts_with(r#"["reject",1,["error","TypeError""#),
        "{answer}"
    );
    assert!(answer.contains("mappers cannot"), "{answer}");
}

struct Panicky;

impl capnweb::RpcTarget for Panicky {
    fn call(self: Arc<Self>, method: &str, _args: Vec<Value>) -> capnweb::CallFuture {
        match method {
            "now" => panic!("boom now"),
            "later" => capnweb::CallFuture::new(async {
                tokio::task::yield_now().await;
                panic!("boom later")
            }),
            _ => capnweb::CallFuture::new(async { Ok(Value::from("fine")) }),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_method_fails_its_call_and_the_session_goes_on() {
    let pair = connect(Stub::new(Panicky));
    for method in ["now", "later"] {
        let err = pair.api.call(method, vec![]).await.unwrap_err();
        assert!(err.to_string().contains("the method panicked"), "{err}");
    }
    assert_eq!(
        pair.api.call("ok", vec![]).await.unwrap(),
        Value::from("fine")
    );
    pair.assert_settled().await;
}

#[test]
fn public_handles_and_futures_are_send() {
    fn send<T: Send>() {}
    send::<Stub>();
    send::<Session>();
    send::<capnweb::RpcPromise<Value>>();
    send::<capnweb::RpcPromise<String>>();
    send::<capnweb::RpcFuture<Value>>();
    send::<capnweb::Error>();
    send::<Value>();
}

/// Mutations of every message the reference sent in its transcripts, each fed to a fresh
/// session: each must leave the session answering, or aborted with an `abort` message.
/// Never a panic, never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_messages_never_hang_or_panic_a_session() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/golden/transcripts.json"
    ))
    .unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seeds: Vec<String> = Vec::new();
    for scenario in all.as_object().unwrap().values() {
        for m in scenario["messages"].as_array().into_iter().flatten() {
            seeds.push(m[1].as_str().unwrap().to_string());
        }
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    let alphabet: &[u8] = br#"[]{}",:-0123456789.eE truefalsnul\"#;
    let rounds: usize = std::env::var("FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(400);
    for round in 0..rounds {
        let seed = seeds[next() % seeds.len()].as_bytes().to_vec();
        let mut bytes = seed.clone();
        for _ in 0..(1 + next() % 3) {
            if bytes.is_empty() {
                break;
            }
            let at = next() % bytes.len();
            match next() % 3 {
                0 => bytes[at] = alphabet[next() % alphabet.len()],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, alphabet[next() % alphabet.len()]),
            }
        }
        let input = String::from_utf8_lossy(&bytes).into_owned();
        if std::env::var("FUZZ_TRACE").is_ok() {
            eprintln!("round {round}: {input}");
        }
        let (session, mut peer) =
            RawPeer::serve(Stub::new(TestTarget::default()), SessionOptions::default());
        peer.send(&input).await;
        peer.send(r#"["pull",0]"#).await;
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Some(text) = peer.recv().await {
                if text.starts_with(r#"["abort","#) || text.starts_with(r#"["resolve",0,"#) {
                    return text;
                }
            }
            "closed".to_string()
        })
        .await;
        let outcome = outcome.unwrap_or_else(|_| {
            panic!("round {round}: the session neither answered nor aborted after {input}")
        });
        if outcome.starts_with(r#"["abort","#) {
            assert!(
                session.is_closed(),
                "round {round}: aborted but not closed after {input}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deepest_values_the_limits_allow_do_not_overflow_the_stack() {
    // Nested arrays and nested remaps, as deep as the default depth limit lets a peer send.
    let (_session, mut peer) =
        RawPeer::serve(Stub::new(TestTarget::default()), SessionOptions::default());
    let depth: usize = std::env::var("DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(250);
    let nested = format!("{}1{}", "[[".repeat(depth), "]]".repeat(depth));
    peer.send(&format!(r#"["push",["pipeline",0,["echo"],[{nested}]]]"#))
        .await;
    peer.send(r#"["pull",1]"#).await;
    let answer = peer.recv().await.unwrap();
    assert!(
        answer.starts_with(r#"["resolve",1,"#),
        "{}",
        &answer[..80.min(answer.len())]
    );
    let mut remap = r#"["pipeline",0]"#.to_string();
    let remaps: usize = std::env::var("REMAPS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(120);
    for _ in 0..remaps {
        remap = format!(r#"["remap",0,[],[],[{remap}]]"#);
    }
    peer.send(&format!(r#"["push",{remap}]"#)).await;
    peer.send(r#"["pull",2]"#).await;
    let answer = peer.recv().await.unwrap();
    assert!(
        answer.starts_with(r#"["resolve",2,"#)
            || answer.starts_with(r#"["reject",2,"#)
            || answer.starts_with(r#"["abort","#),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_message_is_resolved_without_a_pull_and_released_by_the_resolve() {
    let (session, mut peer) =
        RawPeer::serve(Stub::new(TestTarget::default()), SessionOptions::default());
    peer.send(r#"["stream",["pipeline",0,["square"],[3]]]"#)
        .await;
    assert_eq!(peer.recv().await.unwrap(), r#"["resolve",1,9]"#);
    assert_eq!(
        session.stats().exports,
        1,
        "the stream result is released with its resolve"
    );
    // The next push takes the next id: the stream used id 1.
    peer.send(r#"["push",["pipeline",0,["square"],[4]]]"#).await;
    peer.send(r#"["pull",2]"#).await;
    assert_eq!(peer.recv().await.unwrap(), r#"["resolve",2,16]"#);
}

/// `["import", id, path?, args?]` and `["pipeline", …]` at every length, as the reference
/// evaluates them: with arguments a call, with a path alone a read, with neither the export
/// itself; `import` only coerces the result to a stub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_pipeline_forms_at_every_length() {
    let cases = [
        (r#"["import",0,["square"],[3]]"#, r#"["resolve",1,9]"#),
        (r#"["pipeline",0,["square"],[3]]"#, r#"["resolve",1,9]"#),
        (
            r#"["import",0,["noSuchProperty"]]"#,
            r#"["resolve",1,["undefined"]]"#,
        ),
        (
            r#"["pipeline",0,["noSuchProperty"]]"#,
            r#"["resolve",1,["undefined"]]"#,
        ),
        (r#"["import",0]"#, r#"["resolve",1,["export",-1]]"#),
        (r#"["pipeline",0]"#, r#"["resolve",1,["export",-1]]"#),
    ];
    for (expr, answer) in cases {
        let (_session, mut peer) =
            RawPeer::serve(Stub::new(TestTarget::default()), SessionOptions::default());
        peer.send(&format!(r#"["push",{expr}]"#)).await;
        peer.send(r#"["pull",1]"#).await;
        assert_eq!(peer.recv().await.unwrap(), answer, "for {expr}");
    }
}

/// Found by fuzzing (fuzz/, the serde_bridge target): a result the peer's reader refuses (bytes
/// that are not a whole number of typed-array elements) was sent anyway, and the peer aborted
/// the whole session on it. Now only the call fails, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_that_cannot_be_encoded_fails_only_its_call() {
    let odd = Stub::from_fn(|_args: Vec<Value>| async {
        let kind = Some(capnweb::wire::BytesKind::Float32Array);
        Ok(Value::Bytes(capnweb::Bytes::with_kind(vec![1, 2, 3], kind)))
    });
    let pair = connect(odd);
    let err = pair.api.call_self(vec![]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("3 bytes is not a whole number of Float32Array elements"),
        "{err}"
    );
    assert!(!pair.client.is_closed() && !pair.server.is_closed());
    pair.assert_settled().await;
}
