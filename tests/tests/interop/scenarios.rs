//! Our typed client's scenarios against any server with the interop surface.

use std::time::Duration;

use capnweb::value::Object;
use capnweb::wire::BytesKind;
use capnweb::{
    BigInt, Bytes, Date, Error, RpcError, Session, SessionOptions, Stub, TypedStub, Value,
};
use capnweb_examples::interop::{Counter, CounterStub, InteropApiStub, Wrapped};

/// Which transport a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    HttpBatch,
}

/// A fresh session to the server at `addr`.
pub async fn connect(transport: Transport, addr: &str) -> (Session, InteropApiStub) {
    let session = match transport {
        Transport::WebSocket => capnweb::websocket::connect_with(
            &format!("ws://{addr}/"),
            None,
            SessionOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot connect to ws://{addr}/: {e}")),
        Transport::HttpBatch => {
            capnweb::http_batch::connect_with(&format!("http://{addr}/"), SessionOptions::default())
        }
    };
    let api = session.main_as::<InteropApiStub>();
    (session, api)
}

type Outcome = Result<(), String>;

fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Outcome {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn called<T>(what: &str, result: Result<T, Error>) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: {e}"))
}

/// Waits (bounded) until a WebSocket session's tables hold only the main entries.
async fn settled(session: &Session) -> Outcome {
    let done = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let stats = session.stats();
            if (stats.imports, stats.exports) == (1, 1) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
    done.map_err(|_| {
        format!(
            "client tables did not return to the main entries: {:?}",
            session.stats()
        )
    })
}

fn all_value_types() -> Vec<(&'static str, Value)> {
    let array = Value::Array;
    let mut object = Object::new();
    object.insert(
        "date".into(),
        Value::Date(Date::from_millis(1_700_000_000_123.0)),
    );
    object.insert(
        "big".into(),
        Value::BigInt(BigInt::parse("-9007199254740993").unwrap()),
    );
    object.insert("u".into(), Value::Undefined);
    object.insert("list".into(), array(vec![Value::from(1.0), Value::Null]));
    vec![
        ("string", Value::from("héllo \u{1F600} \"quoted\"\n")),
        ("number", Value::from(-1.5e-7)),
        ("integer", Value::from(9007199254740991.0)),
        ("bool", Value::Bool(false)),
        ("null", Value::Null),
        ("undefined", Value::Undefined),
        ("nan", Value::from(f64::NAN)),
        ("infinity", Value::from(f64::INFINITY)),
        ("-infinity", Value::from(f64::NEG_INFINITY)),
        ("date", Value::Date(Date::from_millis(1_749_342_170_815.0))),
        (
            "bytes",
            Value::Bytes(Bytes::from(vec![0, 1, 2, 61, 250, 255])),
        ),
        ("bytes.empty", Value::Bytes(Bytes::from(Vec::new()))),
        (
            "bytes.int16",
            Value::Bytes(Bytes::with_kind(
                vec![255, 255, 0, 1],
                Some(BytesKind::Int16Array),
            )),
        ),
        (
            "bytes.arraybuffer",
            Value::Bytes(Bytes::with_kind(
                vec![7, 8, 9],
                Some(BytesKind::ArrayBuffer),
            )),
        ),
        ("bigint.small", Value::BigInt(BigInt::from(42))),
        (
            "bigint.40-digits",
            Value::BigInt(BigInt::parse("1234567890123456789012345678901234567890").unwrap()),
        ),
        (
            "nested-arrays",
            array(vec![
                array(vec![
                    Value::from(1.0),
                    array(vec![Value::from(2.0), array(vec![Value::from(3.0)])]),
                ]),
                array(vec![]),
            ]),
        ),
        ("object", Value::Object(object)),
        (
            "error-with-props",
            Value::from(
                RpcError::type_error("boom")
                    .with_prop("code", 42)
                    .with_prop(
                        "detail",
                        Value::Array(vec![Value::from("a"), Value::Date(Date::from_millis(5.0))]),
                    ),
            ),
        ),
        ("url", Value::Url("https://example.com/a?b=c".into())),
    ]
}

/// The scenarios, by name; over HTTP batch, those needing a call back into the client or a
/// second round trip are left out (a batch is one request and one response).
pub async fn run_all(transport: Transport, addr: &str, log: &mut Vec<String>) -> usize {
    let ws = transport == Transport::WebSocket;
    run_all_with(|| connect(transport, addr), ws, log).await
}

/// The scenarios, each on a fresh session from `connect`; `lasting` for a transport whose
/// session outlives one round trip (WebSocket, WebTransport), which runs them all and checks
/// the tables after each.
pub async fn run_all_with<F, Fut>(connect: F, lasting: bool, log: &mut Vec<String>) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (Session, InteropApiStub)>,
{
    let mut failures = 0;
    let mut record = |name: String, outcome: Outcome| match outcome {
        Ok(()) => log.push(format!("ok {name}")),
        Err(why) => {
            failures += 1;
            log.push(format!("FAIL {name}: {why}"));
        }
    };
    let ws = lasting;

    macro_rules! scenario {
        ($name:expr, |$session:ident, $api:ident| $body:expr) => {{
            let ($session, $api) = connect().await;
            let outcome: Outcome = async { $body }.await;
            let outcome = match outcome {
                Ok(()) if ws => settled(&$session).await,
                other => other,
            };
            record($name.to_string(), outcome);
        }};
    }

    scenario!("square", |s, api| check(
        "square(3)",
        called("square", api.square(3.0).await)?,
        9.0
    ));
    scenario!("makeCounter", |s, api| {
        let counter = api.make_counter(5.0);
        let (a, b, v) = tokio::join!(
            counter.increment(2.0),
            counter.increment(1.0),
            counter.value()
        );
        check(
            "increments and value",
            (
                called("increment", a)?,
                called("increment()", b)?,
                called("value", v)?,
            ),
            (7.0, 8.0, 8.0),
        )
    });
    scenario!("callSquare", |s, api| {
        let result = capnweb::RpcPromise::<Wrapped<f64>>::cast(api.call_square(&api, 5.0)).await;
        check(
            "callSquare(api, 5).result",
            called("callSquare", result)?.result,
            25.0,
        )
    });
    scenario!("throwError", |s, api| match api.throw_error().await {
        Err(Error::Remote(e)) => check(
            "error",
            (e.name.as_str(), e.message.as_str()),
            ("RangeError", "test error")
        ),
        other => Err(format!("expected a RangeError, got {other:?}")),
    });
    scenario!("generateFibonacci", |s, api| check(
        "generateFibonacci(10)",
        called("generateFibonacci", api.generate_fibonacci(10.0).await)?,
        vec![0.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0]
    ));
    scenario!("returnNull", |s, api| check(
        "returnNull",
        called("returnNull", api.return_null().await)?,
        None
    ));
    scenario!("returnUndefined", |s, api| check(
        "returnUndefined",
        called("returnUndefined", api.return_undefined().await)?,
        ()
    ));
    scenario!("returnNumber", |s, api| check(
        "returnNumber",
        called("returnNumber", api.return_number(42.5).await)?,
        42.5
    ));
    for (name, value) in all_value_types() {
        scenario!(format!("echo.{name}"), |s, api| check(
            name,
            called("echo", api.echo(value.clone()).await)?,
            value
        ));
    }
    scenario!("pipeline.one-round-trip", |s, api| {
        let counter = api.make_counter(5.0);
        drop(counter.increment(2.0));
        let squared = api.square(counter.increment(3.0));
        let squares = api.generate_fibonacci(6.0).map(|x| api.square(x));
        let (squared, squares) = tokio::join!(squared, squares);
        check("square(c.increment(3))", called("square", squared)?, 100.0)?;
        check(
            "fib(6).map(square)",
            called("map", squares)?,
            vec![0.0, 1.0, 1.0, 4.0, 9.0, 25.0],
        )
    });
    scenario!("pipeline.rejection-propagates", |s, api| {
        match capnweb::RpcPromise::as_stub(&api.throw_error())
            .call("foo", vec![])
            .await
        {
            Err(Error::Remote(e)) if e.name == "RangeError" => Ok(()),
            other => Err(format!("expected the RangeError, got {other:?}")),
        }
    });
    scenario!("map.null", |s, api| check(
        "returnNull().map",
        called("map", api.return_null().map(|x| api.square(x)).await)?,
        None
    ));
    scenario!("map.nested", |s, api| {
        let nested = api
            .generate_fibonacci(4.0)
            .map(|x| api.generate_fibonacci(x).map(|y| api.square(y)));
        check(
            "nested map",
            called("map", nested.await)?,
            vec![vec![], vec![0.0], vec![0.0], vec![0.0, 1.0]],
        )
    });
    scenario!("untyped.call", |s, api| check(
        "Stub::call(\"square\")",
        called(
            "square",
            api.as_untyped()
                .call("square", vec![Value::from(4.0)])
                .await
        )?,
        Value::from(16.0)
    ));
    if ws {
        scenario!("incrementCounter.client-counter", |s, api| {
            let counter = CounterStub::new(Counter::new(4.0));
            check(
                "incrementCounter",
                called(
                    "incrementCounter",
                    api.increment_counter(&counter, 9.0).await,
                )?,
                13.0,
            )
        });
        scenario!("callFunction", |s, api| {
            let func = Stub::from_fn(|args: Vec<Value>| async move {
                Ok(Value::from(args[0].as_f64().unwrap_or(0.0) * 10.0))
            });
            let result = api.call_function(func, Value::from(3.0)).await;
            check(
                "callFunction",
                called("callFunction", result)?.result,
                Value::from(30.0),
            )
        });
        scenario!("map.client-capture", |s, api| {
            let counter = CounterStub::new(Counter::new(0.0));
            let results = api
                .generate_fibonacci(4.0)
                .map(|x| counter.increment(x))
                .await;
            check(
                "fib(4).map(counter.increment)",
                called("map", results)?,
                vec![0.0, 1.0, 2.0, 4.0],
            )
        });
        scenario!("makeCounter.awaited-stub", |s, api| {
            let counter = called("makeCounter", api.make_counter(2.0).await)?;
            check(
                "increment",
                called("increment", counter.increment(1.0).await)?,
                3.0,
            )?;
            check("value", called("value", counter.value().await)?, 3.0)
        });
    }
    failures
}
