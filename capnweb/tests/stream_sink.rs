//! `transport::from_stream_sink`: sessions over newline-delimited JSON on an in-memory pipe
//! (`tokio::io::duplex` + `LinesCodec`): calls, a callback, a peer that closes, a line over
//! the length limit, and backpressure against a peer that does not read.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capnweb::transport::{from_stream_sink, Capabilities, StreamSink, Transport};
use capnweb::{rpc_target, Error, RpcError, Session, SessionOptions};
use futures::{SinkExt, StreamExt};
use tokio::io::DuplexStream;
use tokio_util::codec::{Framed, LinesCodec, LinesCodecError};

/// Fails the test if `future` takes longer than a few seconds.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("timed out")
}

fn lines(io: DuplexStream, max: usize) -> Framed<DuplexStream, LinesCodec> {
    Framed::new(io, LinesCodec::new_with_max_length(max))
}

fn transport(io: DuplexStream) -> StreamSink<Framed<DuplexStream, LinesCodec>> {
    from_stream_sink(lines(io, 1 << 20))
}

#[rpc_target]
pub trait Tally {
    async fn add(&self, n: u32);
}

struct Counter(Arc<AtomicU32>);

impl Tally for Counter {
    async fn add(&self, n: u32) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub struct Api;

#[rpc_target]
impl Api {
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }

    /// Calls `tally.add(1)` `times` times.
    pub async fn count_to(&self, times: u32, tally: TallyStub) -> Result<u32, RpcError> {
        for _ in 0..times {
            tally.add(1).await?;
        }
        Ok(times)
    }

    /// A string of `size` bytes.
    pub fn big(&self, size: u32) -> String {
        "x".repeat(size as usize)
    }
}

#[test]
fn a_stream_sink_is_a_lasting_transport_unless_told_otherwise() {
    let (a, _b) = tokio::io::duplex(64);
    let lasting = transport(a);
    assert_eq!(lasting.capabilities(), Capabilities::lasting());
    let one = lasting.with_capabilities(Capabilities::one_exchange());
    assert_eq!(one.capabilities(), Capabilities::one_exchange());
}

#[tokio::test]
async fn calls_pipelining_and_a_callback() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = Session::new(
        transport(a),
        Some(ApiStub::new(Api).into()),
        SessionOptions::default(),
    );
    let client = Session::new(transport(b), None, SessionOptions::default());
    let api: ApiStub = client.main_as();

    assert_eq!(within(api.square(4.0).into_future()).await.unwrap(), 16.0);
    assert_eq!(
        within(api.square(api.square(2.0)).into_future())
            .await
            .unwrap(),
        16.0
    );

    let seen = Arc::new(AtomicU32::new(0));
    let tally = TallyStub::new(Counter(Arc::clone(&seen)));
    assert_eq!(
        within(api.count_to(5, tally).into_future()).await.unwrap(),
        5
    );
    assert_eq!(seen.load(Ordering::Relaxed), 5);

    drop(api);
    within(client.close()).await;
    let why = within(server.closed()).await;
    assert!(why.is_disconnected(), "{why}");
}

#[tokio::test]
async fn a_peer_that_closes_ends_the_session_and_rejects_its_calls() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let mut peer = lines(a, 1 << 20);
    let client = Session::new(transport(b), None, SessionOptions::default());
    let api: ApiStub = client.main_as();
    let call = tokio::spawn(async move { api.square(3.0).await });

    // The call arrives (push, pull), and the peer hangs up without answering.
    let push = within(peer.next()).await.unwrap().unwrap();
    assert!(push.starts_with(r#"["push""#), "{push}");
    drop(peer);

    let rejected = within(call).await.unwrap().unwrap_err();
    assert!(rejected.is_disconnected(), "{rejected}");
    let why = within(client.closed()).await;
    assert!(why.is_disconnected(), "{why}");
    assert!(why.to_string().contains("the peer closed"), "{why}");
}

#[tokio::test]
async fn a_line_over_the_length_limit_ends_the_session_with_an_error_saying_so() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = Session::new(
        from_stream_sink(lines(a, 1024)),
        Some(ApiStub::new(Api).into()),
        SessionOptions::default(),
    );
    let mut peer = lines(b, 1 << 20);
    let long = format!(
        r#"["push",["pipeline",0,["big"],["{}"]]]"#,
        "y".repeat(2000)
    );
    within(peer.send(long)).await.unwrap();

    let why = within(server.closed()).await;
    assert!(matches!(why, Error::Transport(_)), "{why:?}");
    let text = why.to_string();
    assert!(
        text.contains("receiving from the peer failed") && text.contains("max line length"),
        "{text}"
    );
}

#[tokio::test]
async fn a_capnweb_error_from_the_stream_passes_through_as_it_is() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    // The stream's errors made into the session's own, to choose their kind and words.
    let framed = lines(a, 16).map(|line| {
        line.map_err(|e| match e {
            LinesCodecError::MaxLineLengthExceeded => {
                Error::disconnected("the peer sent a line over 16 bytes")
            }
            LinesCodecError::Io(e) => Error::disconnected(format!("the pipe failed: {e}")),
        })
    });
    let server = Session::new(from_stream_sink(framed), None, SessionOptions::default());
    let mut peer = lines(b, 1 << 20);
    within(peer.send(r#"["pull",123456789012345]"#.to_owned()))
        .await
        .unwrap();
    let why = within(server.closed()).await;
    assert_eq!(
        why,
        Error::disconnected("the peer sent a line over 16 bytes")
    );
}

/// The server answers calls with 16 KiB each to a peer that sends 200 calls and reads
/// nothing: once `max_queued_bytes` wait, the session stops reading, so what it holds stays
/// bounded, and once the peer reads, every call is answered.
#[tokio::test(start_paused = true)]
async fn a_peer_that_does_not_read_stops_the_session_reading() {
    const CALLS: usize = 200;
    const SIZE: u32 = 16 * 1024;
    const MAX_QUEUED: usize = 64 * 1024;
    let (a, b) = tokio::io::duplex(64 * 1024);
    let options = SessionOptions::default()
        .max_queued_bytes(MAX_QUEUED)
        .send_timeout(Duration::from_secs(3600));
    let server = Session::new(transport(a), Some(ApiStub::new(Api).into()), options);
    let mut peer = lines(b, 1 << 20);
    let mut sent = 0;
    for id in 1..=CALLS {
        let push = format!(r#"["push",["pipeline",0,["big"],[{SIZE}]]]"#);
        let pull = format!(r#"["pull",{id}]"#);
        sent += push.len() + pull.len();
        peer.feed(push).await.unwrap();
        peer.feed(pull).await.unwrap();
    }
    // Every request fits in the pipe: the peer's writes never wait for the server.
    within(SinkExt::<String>::flush(&mut peer)).await.unwrap();

    // With the clock paused, this returns once every task is idle: the server has done all it
    // will do without the peer reading.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = server.stats();
    assert!(
        stats.queued_bytes >= MAX_QUEUED,
        "the server should hold answers the peer does not read: {stats:?}"
    );
    assert!(
        stats.queued_bytes <= MAX_QUEUED + 2 * SIZE as usize,
        "the session read on past max_queued_bytes: {stats:?}"
    );
    assert!(
        (stats.calls as usize) < CALLS / 4 && (stats.bytes_in as usize) < sent / 4,
        "the session read on past max_queued_bytes: {stats:?}"
    );

    // The peer reads: everything is answered.
    let mut answered = 0;
    while answered < CALLS {
        let line = within(peer.next()).await.unwrap().unwrap();
        assert!(
            line.starts_with(r#"["resolve","#),
            "{}",
            &line[..40.min(line.len())]
        );
        answered += 1;
    }
    assert_eq!(server.stats().calls as usize, CALLS);
}
