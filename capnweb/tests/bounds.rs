//! Every resource a peer can make a session spend is bounded. Each test here counts what the
//! bound holds back (bytes queued, entries, calls), so it fails if the bound goes.

mod common;

use std::time::Duration;

use capnweb::transport::memory;
use capnweb::{Error, Limits, Session, SessionOptions, Stub, Value};
use common::*;

fn v(n: f64) -> Value {
    Value::from(n)
}

/// The peer's end of a memory connection to a session serving `main`.
fn serve(
    main: Stub,
    options: SessionOptions,
    capacity: usize,
) -> (Session, memory::MemoryTransport) {
    let (a, peer) = memory::pair_with_capacity(capacity);
    (Session::new(a, Some(main), options), peer)
}

async fn recv_text(peer: &mut memory::MemoryTransport) -> Option<String> {
    let message = peer.recv().await?;
    Some(String::from_utf8(message.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_not_read_from_and_then_given_up() {
    const BOUND: usize = 64 * 1024;
    const CALLS: usize = 2_000;
    let options = SessionOptions::default()
        .max_queued_bytes(BOUND)
        .send_timeout(Duration::from_millis(300));
    let (session, mut peer) = serve(Stub::new(TestTarget::default()), options, 16 * 1024);

    // Each call's result is about 4 KB; the peer pulls them all and reads none.
    let writer = tokio::spawn(async move {
        let mut sent = 0;
        for i in 1..=CALLS {
            let call = r#"["push",["pipeline",0,["generateFibonacci"],[300]]]"#;
            let pull = format!(r#"["pull",{i}]"#);
            if peer.send(call).await.is_err() || peer.send(pull).await.is_err() {
                break;
            }
            sent += 1;
        }
        (sent, peer)
    });

    let mut peak = 0;
    let why = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            peak = peak.max(session.stats().queued_bytes);
            if session.is_closed() {
                return session.closed().await;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the session should give up on the peer");
    assert!(
        matches!(&why, Error::LimitExceeded(m) if m.limit() == capnweb::Limit::SendTimeout && m.message().contains("stopped reading")),
        "{why:?}"
    );
    // The session stopped reading: most calls never got in.
    writer.abort();
    assert!(
        session.stats_at_close().unwrap().exports < CALLS / 10,
        "{:?}",
        session.stats_at_close()
    );
    // One result more than the bound at most is queued at any time.
    assert!(peak <= BOUND + 8 * 1024, "peak queue {peak} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_over_the_size_limit_is_refused_naming_the_limit_and_never_sent() {
    let limits = Limits::default().max_message_size(1_000);
    let pair = connect_with(
        Stub::new(TestTarget::default()),
        SessionOptions::default().limits(limits),
        SessionOptions::default(),
    );
    let err = pair
        .api
        .call("generateFibonacci", vec![v(500.0)])
        .await
        .unwrap_err();
    let remote = err.as_remote().expect("a rejection from the peer");
    assert!(
        remote.message.contains("larger than the limit of 1000"),
        "{remote:?}"
    );
    assert!(
        pair.messages().iter().all(|(_, m)| m.len() < 1_000),
        "{}",
        pair.transcript()
    );
    // The session goes on.
    assert_eq!(
        pair.api.call("square", vec![v(4.0)]).await.unwrap(),
        v(16.0)
    );
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_nested_too_deeply_is_refused_before_it_is_sent() {
    let deep = Stub::from_fn(|_args: Vec<Value>| async {
        let mut value = Value::Null;
        for _ in 0..300 {
            value = Value::Array(vec![value]);
        }
        Ok(value)
    });
    let pair = connect(deep);
    let err = pair.api.call_self(vec![]).await.unwrap_err();
    let remote = err.as_remote().expect("a rejection from the peer");
    assert!(
        remote
            .message
            .contains("nested deeper than the limit of 256"),
        "{remote:?}"
    );
    assert!(
        !pair.transcript().contains("[[[[[[[[[["),
        "{}",
        pair.transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_releases_cannot_grow_the_export_table_past_its_cap() {
    let options = SessionOptions::default().max_exports(100);
    let (session, mut peer) = serve(Stub::new(TestTarget::default()), options, 1 << 20);
    for _ in 0..150 {
        if peer.send(r#"["push",1]"#).await.is_err() {
            break;
        }
    }
    let why = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .expect("the session should abort");
    assert!(
        matches!(&why, Error::LimitExceeded(m) if m.to_string().contains("max_exports")),
        "{why:?}"
    );
    assert_eq!(session.stats_at_close().unwrap().exports, 100);
    let abort = recv_text(&mut peer).await.unwrap();
    assert!(abort.starts_with(r#"["abort",["error","#), "{abort}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peers_capabilities_held_here_are_capped() {
    let options = SessionOptions::default().max_imports(50);
    let (session, mut peer) = serve(Stub::new(TestTarget::default()), options, 1 << 20);
    // Each push hands the session a new stub of the peer's, which it keeps (the result).
    for i in 1..=80 {
        let push = format!(r#"["push",["pipeline",0,["echo"],[["export",-{i}]]]]"#);
        if peer.send(push).await.is_err() {
            break;
        }
    }
    let why = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .expect("the session should abort");
    assert!(
        matches!(&why, Error::LimitExceeded(m) if m.to_string().contains("max_imports")),
        "{why:?}"
    );
    assert!(session.stats_at_close().unwrap().imports <= 51);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_in_flight_cap_fail_and_the_session_goes_on() {
    let options = SessionOptions::default().max_calls_in_flight(10);
    let (session, mut peer) = serve(Stub::new(TestTarget::default()), options, 1 << 20);
    for i in 1..=10 {
        peer.send(r#"["push",["pipeline",0,["slow"],[1]]]"#)
            .await
            .unwrap();
        peer.send(format!(r#"["pull",{i}]"#)).await.unwrap();
    }
    // The eleventh fails at once, while the ten still run.
    peer.send(r#"["push",["pipeline",0,["slow"],[1]]]"#)
        .await
        .unwrap();
    peer.send(r#"["pull",11]"#).await.unwrap();
    let answer = recv_text(&mut peer).await.unwrap();
    assert!(
        answer.starts_with(r#"["reject",11,["error","RangeError","#),
        "{answer}"
    );
    assert!(answer.contains("already runs 10 calls"), "{answer}");
    for _ in 0..10 {
        let answer = recv_text(&mut peer).await.unwrap();
        assert!(answer.starts_with(r#"["resolve","#), "{answer}");
    }
    // Once they finished, calls are served again: the session went on.
    peer.send(r#"["push",["pipeline",0,["square"],[3]]]"#)
        .await
        .unwrap();
    peer.send(r#"["pull",12]"#).await.unwrap();
    assert_eq!(recv_text(&mut peer).await.unwrap(), r#"["resolve",12,9]"#);
    assert!(!session.is_closed());
}
