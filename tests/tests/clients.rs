//! The client builders of both transports: extra headers and bearer tokens reach the server,
//! the connect timeout, bad headers, refused upgrades, the client's own main object, and the
//! pooled HTTP batch client's connection reuse.
//!
//! The header tests serve with their own small servers (tokio-tungstenite's `accept_hdr_async`,
//! hyper's HTTP/1 server) that record what arrived.

// tokio-tungstenite's header callback returns its own `Result<Response, ErrorResponse>`.
#![allow(clippy::result_large_err)]

mod common;

use std::convert::Infallible;
use std::time::Duration;

use capnweb::{http_batch, websocket, Error, SessionOptions, Stub, Value};
use common::*;
use http::HeaderMap;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

fn squarer() -> Stub {
    Stub::from_fn(|args: Vec<Value>| async move {
        let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Value::from(x * x))
    })
}

/// A WebSocket server for one connection: records the upgrade request's headers, then serves
/// a session with `main`, whose server-side session is sent back too.
async fn recording_websocket_server(
    main: Stub,
) -> (
    String,
    mpsc::UnboundedReceiver<HeaderMap>,
    mpsc::UnboundedReceiver<capnweb::Session>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/rpc", listener.local_addr().unwrap());
    let (headers_tx, headers_rx) = mpsc::unbounded_channel();
    let (session_tx, session_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let record = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
            headers_tx.send(request.headers().clone()).unwrap();
            Ok(response)
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, record)
            .await
            .unwrap();
        let session = websocket::accept_stream(ws, Some(main), SessionOptions::default());
        let _ = session_tx.send(session.clone());
        session.closed().await;
    });
    (url, headers_rx, session_rx)
}

#[tokio::test]
async fn websocket_headers_and_the_bearer_token_reach_the_server() {
    let (url, mut headers, _sessions) = recording_websocket_server(squarer()).await;
    let api: Stub = within(
        "connecting",
        websocket::ClientBuilder::new(url)
            .header("x-tenant", "blue")
            .header("x-tag", "one")
            .header("x-tag", "two")
            .bearer_token("s3cr3t")
            .connect_main(),
    )
    .await
    .unwrap();
    let result = within("a call", api.call_self(vec![num(3.0)])).await;
    assert_eq!(result.unwrap(), num(9.0));
    let headers = within("the recorded headers", headers.recv())
        .await
        .unwrap();
    assert_eq!(headers["x-tenant"], "blue");
    let tags: Vec<_> = headers.get_all("x-tag").iter().collect();
    assert_eq!(tags, ["one", "two"]);
    assert_eq!(headers["authorization"], "Bearer s3cr3t");
    // The upgrade's own headers are still there.
    assert_eq!(headers["upgrade"], "websocket");
}

#[tokio::test]
async fn the_websocket_clients_main_object_is_served_to_the_server() {
    let (url, _headers, mut sessions) = recording_websocket_server(squarer()).await;
    let hello =
        Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello from the client")) });
    let client = websocket::builder(url)
        .local_main(hello)
        .connect()
        .await
        .unwrap();
    let server_side = within("the server's session", sessions.recv())
        .await
        .unwrap();
    let answer = within("a call to the client", server_side.main().call_self(vec![])).await;
    assert_eq!(answer.unwrap(), Value::from("hello from the client"));
    drop(client);
}

#[tokio::test]
async fn a_refused_upgrade_says_the_status_and_the_start_of_the_body() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let refuse = |_request: &Request, _response: Response| -> Result<Response, ErrorResponse> {
            let mut refusal = ErrorResponse::new(Some("the token has expired".to_owned()));
            *refusal.status_mut() = http::StatusCode::UNAUTHORIZED;
            Err(refusal)
        };
        let _ = tokio_tungstenite::accept_hdr_async(tcp, refuse).await;
    });
    let error = within(
        "a refused upgrade",
        websocket::builder(url.clone()).connect(),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains(
            "the server answered 401 Unauthorized instead of accepting the WebSocket upgrade"
        ),
        "{message}"
    );
    assert!(message.contains("the token has expired"), "{message}");
    assert!(message.contains(&url), "{message}");
}

/// An HTTP/1 server that records each request's headers and answers it as an HTTP batch.
async fn recording_batch_server() -> (String, mpsc::UnboundedReceiver<HeaderMap>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/rpc", listener.local_addr().unwrap());
    let (headers_tx, headers_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let headers_tx = headers_tx.clone();
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                headers_tx.send(request.headers().clone()).unwrap();
                async move {
                    let answer =
                        http_batch::handle(request, squarer(), SessionOptions::default()).await;
                    Ok::<_, Infallible>(answer)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service),
            );
        }
    });
    (url, headers_rx)
}

#[tokio::test]
async fn batch_headers_and_the_bearer_token_reach_the_server_on_every_post() {
    let (url, mut headers) = recording_batch_server().await;
    let client = http_batch::ClientBuilder::new(url)
        .header("x-tenant", "blue")
        .header(http::header::CONTENT_TYPE, "text/plain")
        .bearer_token("s3cr3t")
        .build()
        .unwrap();
    for x in [2.0, 3.0] {
        let api: Stub = client.main();
        let result = within("a batch", api.call_self(vec![num(x)])).await;
        assert_eq!(result.unwrap(), num(x * x));
        let seen = within("the recorded headers", headers.recv())
            .await
            .unwrap();
        assert_eq!(seen["x-tenant"], "blue");
        assert_eq!(seen["authorization"], "Bearer s3cr3t");
        // A header given replaces the client's own of that name.
        let types: Vec<_> = seen.get_all("content-type").iter().collect();
        assert_eq!(types, ["text/plain"]);
    }
}

/// A TCP listener that accepts connections and never answers (holding them open).
async fn silent_listener() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

#[tokio::test]
async fn the_websocket_connect_timeout_covers_an_upgrade_that_never_comes() {
    let addr = silent_listener().await;
    let error = within(
        "the connect timeout",
        websocket::ClientBuilder::new(format!("ws://{addr}/"))
            .connect_timeout(Duration::from_millis(200))
            .connect(),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("did not connect within 200ms"),
        "{message}"
    );
}

#[tokio::test]
async fn the_websocket_connect_timeout_covers_a_tls_handshake_that_never_comes() {
    let addr = silent_listener().await;
    let error = within(
        "the connect timeout",
        websocket::ClientBuilder::new(format!("wss://localhost:{}/", addr.port()))
            .connect_timeout(Duration::from_millis(200))
            .connect(),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("did not connect within 200ms"),
        "{message}"
    );
}

#[tokio::test]
async fn the_batch_connect_timeout_covers_a_tls_handshake_that_never_comes() {
    let addr = silent_listener().await;
    let client = http_batch::ClientBuilder::new(format!("https://localhost:{}/", addr.port()))
        .connect_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let api: Stub = client.main();
    let error = within("the connect timeout", api.call_self(vec![num(1.0)]))
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("did not connect within 200ms"),
        "{message}"
    );
}

#[tokio::test]
async fn a_bad_header_is_reported_at_connect_and_at_build() {
    // No server at all: the header is what fails, before any connection.
    let error = websocket::ClientBuilder::new("ws://127.0.0.1:9/")
        .header("bad name", "x")
        .connect()
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("a header name is not valid"), "{message}");

    let error = websocket::ClientBuilder::new("ws://127.0.0.1:9/")
        .header("x-fine", "a\r\nb")
        .connect()
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("the value of the header x-fine is not valid"),
        "{message}"
    );

    let error = http_batch::ClientBuilder::new("http://127.0.0.1:9/")
        .header("bad name", "x")
        .build()
        .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("a header name is not valid"), "{message}");
}

#[tokio::test]
async fn the_pooled_batch_client_reuses_its_connection() {
    let server = TestServer::start().await;
    let client = http_batch::ClientBuilder::new(server.http_url())
        .build()
        .unwrap();
    for x in [2.0, 3.0, 4.0] {
        let api: Stub = client.main();
        let result = within("a batch", api.call("square", vec![num(x)])).await;
        assert_eq!(result.unwrap(), num(x * x));
    }
    assert_eq!(server.handle.accepted_connections(), 1);

    // A clone shares the pool.
    let api: Stub = client.clone().main();
    assert_eq!(
        within("a batch", api.call("square", vec![num(5.0)]))
            .await
            .unwrap(),
        num(25.0)
    );
    assert_eq!(server.handle.accepted_connections(), 1);
}

#[tokio::test]
async fn an_unusable_url_fails_the_shorthands_first_batch() {
    let api: Stub = http_batch::connect("ftp://127.0.0.1/");
    let error = within("the failed batch", api.call_self(vec![]))
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("http:// or https://"), "{message}");
}

#[test]
fn clients_are_send_sync_clone_and_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
    check::<websocket::ClientBuilder>();
    check::<http_batch::ClientBuilder>();
    check::<http_batch::Client>();
    check::<capnweb::tls::ClientTls>();
    check::<capnweb::tls::ServerTls>();
}

/// A transport error keeps what caused it: the io error of a refused connection, over both
/// transports, reachable through `source()` (as tonic's transport errors are).
#[tokio::test]
async fn a_refused_connection_keeps_the_io_error_as_its_source() {
    use std::error::Error as _;
    // A port nothing listens on: bind one, then free it.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let io_kind = |error: &Error| {
        let mut cause = error.source();
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                return Some(io.kind());
            }
            cause = e.source();
        }
        None
    };
    let error = websocket::builder(format!("ws://127.0.0.1:{port}/"))
        .connect()
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(error.to_string().contains("could not connect"), "{error}");
    assert_eq!(
        io_kind(&error),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{error:?}"
    );
    let error = http_batch::connect::<Stub>(&format!("http://127.0.0.1:{port}/"))
        .call("x", vec![])
        .await
        .unwrap_err();
    assert!(error.source().is_some(), "{error:?}");
    assert_eq!(
        io_kind(&error),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{error:?}"
    );
}
