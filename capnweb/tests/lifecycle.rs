//! How sessions end: gracefully (`close`), at once (`abort`), and when nothing from them is
//! held any more; and that nothing runs once a session has ended.

mod common;

use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use capnweb::transport::memory;
use capnweb::{RpcError, RpcPromise, Session, SessionOptions, Stub, Value};
use common::*;

fn v(n: f64) -> Value {
    Value::from(n)
}

/// Waits (bounded) until `condition` holds.
async fn until(what: &str, condition: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(5), async {
        while !condition() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_lets_calls_in_flight_settle_refuses_new_ones_then_ends_cleanly() {
    let pair = test_pair();
    // `join!` polls the call first (which sends it and its pull), then starts closing.
    let slow = pair.api.call("slow", vec![v(7.0)]).into_future();
    let closing = tokio::time::timeout(Duration::from_secs(5), pair.client.close());
    let (answer, closed) = tokio::join!(slow, closing);
    assert_eq!(answer.unwrap(), v(7.0));
    closed.expect("close() should finish once the call settled");
    let refused = pair.api.call("square", vec![v(2.0)]).await.unwrap_err();
    assert!(refused.is_disconnected(), "{refused:?}");
    // The server saw a clean end, with nothing left on its tables.
    let why = pair.server.closed().await;
    assert!(why.is_disconnected(), "{why:?}");
    assert!(pair.server.stats_at_close().unwrap().only_main());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_closing_the_peers_new_calls_are_refused() {
    let pair = test_pair();
    let slow = pair.api.call("slow", vec![v(1.0)]);
    let answer = tokio::spawn(async move { slow.await });
    until("the call reached the server", || {
        pair.server.stats().exports == 2
    })
    .await;
    // The server closes (marked at once, as `join!` polls it first): the client's new call is
    // refused, its call in flight settles.
    let (_, refused) = tokio::join!(pair.server.close(), async {
        pair.api.call("square", vec![v(2.0)]).await.unwrap_err()
    });
    assert!(refused.to_string().contains("closing"), "{refused}");
    assert_eq!(answer.await.unwrap().unwrap(), v(1.0));
}

#[tokio::test(flavor = "current_thread")]
async fn nothing_runs_after_an_abort_and_no_false_protocol_error_is_logged() {
    let logs = common::Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let session: Arc<OnceLock<Session>> = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let main = {
        let (session, calls) = (session.clone(), calls.clone());
        Stub::from_fn(move |_args: Vec<Value>| {
            calls.fetch_add(1, Ordering::SeqCst);
            if let Some(session) = session.get() {
                session.abort(RpcError::error("enough"));
            }
            async { Ok(Value::Null) }
        })
    };
    let (a, mut peer) = memory::pair();
    let _ = session.set(Session::new(a, Some(main), SessionOptions::default()));
    // The first call aborts the session; all that follows is already in the transport.
    peer.send(r#"["push",["pipeline",0,[],[]]]"#).await.unwrap();
    for _ in 0..20 {
        peer.send(r#"["release",1,1]"#).await.unwrap();
        peer.send(r#"["push",["pipeline",0,[],[]]]"#).await.unwrap();
    }
    let why = session.get().unwrap().closed().await;
    assert!(why.to_string().contains("enough"), "{why}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let abort = peer.recv().await.unwrap();
    assert!(abort.starts_with(br#"["abort",["error","Error","enough"]]"#));
    assert_eq!(peer.recv().await, None);
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(!logged.contains("bad input"), "{logged}");
}

/// What a helper such as `async fn open(url) -> NotebookStub` does: the main stub and the
/// session handle go, a stub obtained through them stays.
fn counter_from(pair: Pair) -> (Stub, Session) {
    let counter = pair.api.call("makeCounter", vec![v(5.0)]);
    (RpcPromise::as_stub(&counter), pair.server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stub_keeps_its_session_alive_after_the_main_stub_is_dropped() {
    let (counter, server) = counter_from(test_pair());
    assert_eq!(
        counter.call("increment", vec![v(1.0)]).await.unwrap(),
        v(6.0)
    );
    assert!(!server.is_closed());
    // Once nothing from the client session is held, it ends, and the server sees it go.
    drop(counter);
    let why = tokio::time::timeout(Duration::from_secs(5), server.closed())
        .await
        .expect("the session should end once nothing from it is held");
    assert!(why.is_disconnected(), "{why:?}");
    assert!(server.stats_at_close().unwrap().only_main());
}
