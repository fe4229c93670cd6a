//! `SessionOptions::on_message`: every whole message, in both directions, in the order it went.

use std::sync::{Arc, Mutex};

use capnweb::transport::memory;
use capnweb::{MessageDirection, Session, SessionOptions, Stub, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_sees_each_message_sent_and_received_in_order() {
    let seen: Arc<Mutex<Vec<(MessageDirection, String)>>> = Arc::default();
    let log = seen.clone();
    let options = SessionOptions::default().on_message(move |direction, text| {
        log.lock().unwrap().push((direction, text.to_owned()));
    });
    let (a, b) = memory::pair();
    let square = Stub::from_fn(|args: Vec<Value>| async move {
        let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Value::from(x * x))
    });
    let _server = Session::new(a, Some(square), SessionOptions::default());
    let client = Session::new(b, None, options);
    let api = client.main();
    // Pipelined: the second call names the first one's result; nothing waits in between.
    let first = api.call_self(vec![Value::from(3)]);
    let second = api.call_self(vec![first.into()]);
    assert_eq!(second.await.unwrap(), Value::from(81));

    let seen = seen.lock().unwrap().clone();
    let text = |(direction, text): &(MessageDirection, String)| {
        let arrow = if *direction == MessageDirection::Sent {
            ">"
        } else {
            "<"
        };
        format!("{arrow} {text}")
    };
    let lines: Vec<String> = seen.iter().map(text).collect();
    // The first result is released as soon as the second call has named it; the answer is
    // seen after the messages that asked for it. (The last release may come later.)
    assert_eq!(
        lines[..5],
        [
            r#"> ["push",["pipeline",0,[],[3]]]"#,
            r#"> ["push",["pipeline",0,[],[["pipeline",1]]]]"#,
            r#"> ["release",1,1]"#,
            r#"> ["pull",2]"#,
            r#"< ["resolve",2,81]"#,
        ],
        "{lines:#?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_session_without_the_hook_runs_as_before() {
    let (a, b) = memory::pair();
    let echo =
        Stub::from_fn(
            |args: Vec<Value>| async move { Ok(args.into_iter().next().unwrap_or_default()) },
        );
    let _server = Session::new(a, Some(echo), SessionOptions::default());
    let client = Session::new(b, None, SessionOptions::default());
    assert_eq!(
        client
            .main()
            .call_self(vec![Value::from("x")])
            .await
            .unwrap(),
        Value::from("x")
    );
}
