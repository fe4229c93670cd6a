//! Streams in the interop matrix, over WebSocket, both ways: the reference's client (npm
//! `capnweb` 0.12.0 on Node, `interop/node/streams-client.mjs`) against our server and its own,
//! and our typed client against the reference's server (`interop/node/streams-server.mjs`) and
//! ours. The scenarios: readable streams of strings and bytes sent and returned, blobs both
//! ways, writable streams both ways, an error in the middle of a stream (either side's), early
//! cancellation (either side's), a Request with a streamed body; the tables of every session
//! back to their main entries afterwards. Over HTTP batch, a stream fails with an error that
//! says it needs a WebSocket.

#[path = "interop/our_server.rs"]
mod our_server;
#[path = "interop/peers.rs"]
#[allow(dead_code)]
mod peers;
#[path = "interop/stream_scenarios.rs"]
mod stream_scenarios;

use capnweb::SessionOptions;
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use our_server::our_server;
use peers::{assert_cell, assert_our_cell, run_client_script, Peer, PeerServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_streams_against_our_server_over_websocket() {
    let server = our_server(|| StreamsApiStub::new(StreamsApi::default())).await;
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
    let server = our_server(|| StreamsApiStub::new(StreamsApi::default())).await;
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
    let server = our_server(|| StreamsApiStub::new(StreamsApi::default())).await;
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
        our_server(|| StreamsApiStub::new(StreamsApi::default()))
            .await
            .addr
            .to_string(),
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
    let ours = our_server(|| StreamsApiStub::new(StreamsApi::default())).await;
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
