//! Streams in the interop matrix, over WebSocket, both ways: the reference's client (npm
//! `capnweb` 0.12.0 on Node, `interop/node/streams-client.mjs`) against our server and its own,
//! and our typed client against the reference's server (`interop/node/streams-server.mjs`) and
//! ours. The scenarios: readable streams of strings and bytes sent and returned, blobs both
//! ways, writable streams both ways, an error in the middle of a stream (either side's), early
//! cancellation (either side's), a Request with a streamed body; the tables of every session
//! back to their main entries afterwards. Over HTTP batch, a stream fails with an error that
//! says it needs a WebSocket.

#[path = "interop/peers.rs"]
#[allow(dead_code)]
mod peers;
#[path = "interop/stream_scenarios.rs"]
mod stream_scenarios;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use capnweb::{Server, Session, SessionOptions};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use peers::{run_client_script, Peer, PeerServer, Report};

struct OurServer {
    addr: SocketAddr,
    sessions: Arc<Mutex<Vec<Session>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

async fn our_server() -> OurServer {
    let sessions: Arc<Mutex<Vec<Session>>> = Arc::default();
    let seen = sessions.clone();
    let options = SessionOptions::default().on_start(move |s| seen.lock().unwrap().push(s.clone()));
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .options(options);
    let addr = server.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve_with_shutdown(
        || StreamsApiStub::new(StreamsApi::default()),
        async move {
            let _ = rx.await;
        },
    ));
    OurServer {
        addr,
        sessions,
        _shutdown: tx,
    }
}

impl OurServer {
    /// Every session that ended held only its main entries when it did.
    async fn assert_no_leaks(&self) {
        let sessions = self.sessions.lock().unwrap().clone();
        assert!(!sessions.is_empty(), "the server started no session");
        for session in &sessions {
            tokio::time::timeout(std::time::Duration::from_secs(10), session.closed())
                .await
                .expect("the session ends when the client goes");
            let stats = session.stats_at_close().expect("closed");
            assert_eq!(
                (stats.imports, stats.exports),
                (1, 1),
                "a server session ended with leftover entries: {stats:?}"
            );
        }
    }
}

fn assert_cell(title: &str, report: &Report) {
    println!("== {title}: {}", report.summary());
    println!("{}", report.output.trim_end());
    assert!(
        report.failed.is_empty(),
        "{title}: failed: {:#?}\n{}",
        report.failed,
        report.output
    );
    assert!(
        !report.passed.is_empty(),
        "{title}: no scenario ran\n{}",
        report.output
    );
    assert!(
        report.success,
        "{title}: the client failed\n{}",
        report.output
    );
}

fn assert_our_cell(title: &str, log: &[String], failures: usize) {
    println!(
        "== {title}: {} passed, {failures} failed",
        log.len() - failures
    );
    for line in log {
        println!("{line}");
    }
    assert_eq!(failures, 0, "{title}:\n{}", log.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_streams_against_our_server_over_websocket() {
    let server = our_server().await;
    let report =
        run_client_script(Peer::Node, "streams-client", "ws", &server.addr.to_string()).await;
    assert_cell("node client -> rust server (streams, websocket)", &report);
    assert_eq!(report.passed.len(), 13, "{}", report.output);
    server.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_streams_against_the_node_server_over_websocket() {
    // The baseline: the reference against itself passes the same scenarios.
    let server = PeerServer::start_script(Peer::Node, "streams-server", false).await;
    let report = run_client_script(Peer::Node, "streams-client", "ws", &server.addr).await;
    assert_cell("node client -> node server (streams, websocket)", &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_streams_against_our_server_over_http_batch_get_a_clear_error() {
    let server = our_server().await;
    let report = run_client_script(
        Peer::Node,
        "streams-client",
        "http",
        &server.addr.to_string(),
    )
    .await;
    assert_cell("node client -> rust server (streams, http batch)", &report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_streams_against_the_node_server_over_websocket() {
    let server = PeerServer::start_script(Peer::Node, "streams-server", false).await;
    let mut log = Vec::new();
    let failures = stream_scenarios::run_all(&server.addr, &mut log).await;
    assert_our_cell(
        "rust client -> node server (streams, websocket)",
        &log,
        failures,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_streams_against_our_server_over_websocket() {
    let server = our_server().await;
    let mut log = Vec::new();
    let failures = stream_scenarios::run_all(&server.addr.to_string(), &mut log).await;
    assert_our_cell(
        "rust client -> rust server (streams, websocket)",
        &log,
        failures,
    );
    server.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_gets_a_clear_error_for_a_stream_over_http_batch() {
    for addr in [
        PeerServer::start_script(Peer::Node, "streams-server", false)
            .await
            .addr,
        our_server().await.addr.to_string(),
    ] {
        let session = capnweb::http_batch::connect_with(
            &format!("http://{addr}/"),
            SessionOptions::default(),
        );
        let api = session.main_as::<StreamsApiStub>();
        let lines = capnweb::ReadableStream::new(futures::stream::iter(["a".to_owned()]));
        let error = tokio::time::timeout(std::time::Duration::from_secs(10), api.collect(lines))
            .await
            .expect("a stream over HTTP batch must fail, not hang")
            .expect_err("a stream cannot cross an HTTP batch");
        println!("== rust client -> {addr} (http batch): {error}");
        assert!(error.to_string().contains("WebSocket"), "{error}");
    }
    // And a stream the server would return: our server refuses it with the same words.
    let ours = our_server().await;
    let session = capnweb::http_batch::connect_with(
        &format!("http://{}/", ours.addr),
        SessionOptions::default(),
    );
    let api = session.main_as::<StreamsApiStub>();
    let error = tokio::time::timeout(std::time::Duration::from_secs(10), api.tail(3))
        .await
        .expect("a returned stream over HTTP batch must fail, not hang")
        .expect_err("a stream cannot cross an HTTP batch");
    println!("== rust client -> rust server tail() (http batch): {error}");
    assert!(error.to_string().contains("WebSocket"), "{error}");
}
