//! The combined server: both transports on one port, a fresh main object per session, and a
//! graceful shutdown.

mod common;

use std::future::IntoFuture;

use bytes::Bytes;
use capnweb::{http_batch, websocket, SessionOptions, Stub, Value};
use common::*;
use http_body_util::Full;

#[tokio::test]
async fn websocket_and_http_batch_share_one_port() {
    let server = TestServer::start().await;
    let over_websocket: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    let over_http: Stub = http_batch::connect(&server.http_url());
    let (a, b) = within("both calls", async {
        tokio::join!(
            over_websocket.call("square", vec![num(5.0)]),
            over_http.call("square", vec![num(6.0)])
        )
    })
    .await;
    assert_eq!(a.unwrap(), num(25.0));
    assert_eq!(b.unwrap(), num(36.0));
}

#[tokio::test]
async fn each_session_gets_a_fresh_main_object() {
    let mut server = TestServer::start().await;
    let first: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    let second: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    within("a call", first.call("square", vec![num(1.0)]))
        .await
        .unwrap();
    within("a call", second.call("square", vec![num(1.0)]))
        .await
        .unwrap();
    // Ending one session drops its main object only: the other still answers.
    drop(first);
    server.events.main_dropped().await;
    let still = within("a call", second.call("square", vec![num(3.0)])).await;
    assert_eq!(still.unwrap(), num(9.0));
}

#[tokio::test]
async fn a_websocket_handshake_without_a_key_is_refused() {
    let server = TestServer::start().await;
    let answer = send(
        http::Request::get(server.http_url())
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("Sec-WebSocket-Key"), "{}", answer.body);
}

#[tokio::test]
async fn a_failing_session_does_not_take_the_server_down() {
    let server = TestServer::start().await;
    let answer = post(&server.http_url(), "[\"pull\"").await;
    assert_eq!(answer.status, 400);
    let api: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    let result = within("a call", api.call("square", vec![num(4.0)])).await;
    assert_eq!(result.unwrap(), num(16.0));
}

#[tokio::test]
async fn shutdown_lets_an_open_batch_request_finish() {
    let mut server = TestServer::start().await;
    let api: Stub = http_batch::connect(&server.http_url());
    let pending = tokio::spawn(api.call("hang", vec![]).into_future());
    server.events.hang_started().await;

    let gate = server.gate.clone();
    let addr = server.addr;
    let stopping = server.begin_shutdown();
    // Once new connections are refused, the server is shutting down...
    within("the listener to close", async {
        while let Ok(tcp) = tokio::net::TcpStream::connect(addr).await {
            drop(tcp);
            tokio::task::yield_now().await;
        }
    })
    .await;
    // ...but it cannot finish while the request is open: let the request finish now.
    assert!(!stopping.is_finished());
    gate.notify_one();
    within("the server to shut down", stopping)
        .await
        .unwrap()
        .unwrap();

    let result = within("the batch", pending).await.unwrap();
    assert_eq!(result.unwrap(), Value::from("released"));
}

#[tokio::test]
async fn shutdown_closes_websockets_with_going_away() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::Message;

    let mut server = TestServer::start().await;
    let (mut ws, _) = within(
        "the WebSocket handshake",
        tokio_tungstenite::connect_async(server.ws_url()),
    )
    .await
    .unwrap();
    let stopping = server.begin_shutdown();
    let close = loop {
        match within("a close frame", ws.next()).await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));
    // Reading on sends tungstenite's answering close; then the server is done.
    while let Some(Ok(_)) = within("the end of the socket", ws.next()).await {}
    within("the server to shut down", stopping)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_lets_websocket_calls_in_flight_finish_then_says_why() {
    let mut server = TestServer::start().await;
    let session = within(
        "connecting",
        capnweb::websocket::connect_with(&server.ws_url(), None, SessionOptions::default()),
    )
    .await
    .unwrap();
    let api = session.main();
    let pending = tokio::spawn(api.call("hang", vec![]).into_future());
    server.events.hang_started().await;

    let gate = server.gate.clone();
    let stopping = server.begin_shutdown();
    // While it drains, the session takes no new calls...
    within("a call to be refused", async {
        loop {
            match api.call("square", vec![num(2.0)]).await {
                Ok(_) => tokio::task::yield_now().await,
                Err(e) => {
                    assert!(e.to_string().contains("closing"), "{e}");
                    break;
                }
            }
        }
    })
    .await;
    // ...but the call in flight finishes,
    gate.notify_one();
    let result = within("the call in flight", pending).await.unwrap();
    assert_eq!(result.unwrap(), Value::from("released"));
    // and then the client learns why the session ended.
    let why = within("the session to end", session.closed()).await;
    let text = why.to_string();
    assert!(
        text.contains("1001") && text.contains("shutting down"),
        "{text}"
    );
    within("the server to shut down", stopping)
        .await
        .unwrap()
        .unwrap();
}
