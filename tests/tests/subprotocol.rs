//! WebSocket subprotocols on a real `Server`: the factory sees those offered and accepts one,
//! which the 101 names; a bearer token offered as a subprotocol (`capnweb.bearer`, token), as a
//! browser can send it; and our client offering them.

mod common;

use std::net::SocketAddr;

use capnweb::{Refusal, RequestContext, Routes, RpcService, SessionOptions, Stub, Value};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const TOKEN: &str = "eyJ1c2VyIjoiYWxpY2UifQ_alice-1";

/// `/api`: a token (as a subprotocol or an `Authorization` header) is required, and
/// `capnweb.bearer` accepted; `/open`: nothing required, nothing accepted; `/versioned`: the
/// subprotocol `notes.v1` accepted when offered.
async fn start() -> SocketAddr {
    let api = RpcService::with_context(|request: &RequestContext| {
        let token = request.bearer_subprotocol().or(request.bearer_token());
        if token != Some(TOKEN) {
            return Err(Refusal::unauthorized("send a valid token"));
        }
        request.accept_subprotocol(RequestContext::BEARER_SUBPROTOCOL);
        Ok(Stub::from_fn(|_args: Vec<Value>| async {
            Ok(Value::from("hello, alice"))
        }))
    });
    let versioned = RpcService::with_context(|request: &RequestContext| {
        request.accept_subprotocol("notes.v1");
        Ok(Stub::from_fn(|_args: Vec<Value>| async {
            Ok(Value::from("v1"))
        }))
    });
    let open = || Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("open")) });
    let routes = Routes::new()
        .route("/api", api)
        .route("/versioned", versioned)
        .route("/open", open);
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(routes));
    addr
}

/// A raw upgrade request at `path` offering `subprotocols` (one header line): the status and
/// the head of the answer, lower-cased.
async fn raw_upgrade(addr: SocketAddr, path: &str, subprotocols: &str) -> (u16, String) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: {addr}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
         sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         sec-websocket-protocol: {subprotocols}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    within("the answer's head", async {
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = tcp.read(&mut byte).await.unwrap();
            assert_eq!(n, 1, "the connection closed before the head ended");
            head.push(byte[0]);
        }
    })
    .await;
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    (status, head)
}

/// The values of `name` in a lower-cased head.
fn header_values<'a>(head: &'a str, name: &str) -> Vec<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
        .collect()
}

#[tokio::test]
async fn a_token_offered_as_a_subprotocol_is_accepted_and_only_capnweb_bearer_is_echoed() {
    let addr = start().await;
    let mut request = format!("ws://{addr}/api").into_client_request().unwrap();
    let offer = format!("capnweb.bearer, {TOKEN}");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", offer.parse().unwrap());
    let (ws, response) = within("a handshake", tokio_tungstenite::connect_async(request))
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    let echoed: Vec<_> = response
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .collect();
    assert_eq!(echoed, ["capnweb.bearer"], "the token must not be echoed");
    let session = capnweb::websocket::accept_stream(ws, None, SessionOptions::default());
    let answer = session.main().call_self(vec![]).await.unwrap();
    assert_eq!(answer, Value::from("hello, alice"));
}

#[tokio::test]
async fn a_wrong_token_is_refused_before_the_upgrade() {
    let addr = start().await;
    for offer in [
        "capnweb.bearer, wrong-token".to_owned(),
        // The token before `capnweb.bearer` is not read as one.
        format!("{TOKEN}, capnweb.bearer"),
        "capnweb.bearer".to_owned(),
    ] {
        let (status, head) = raw_upgrade(addr, "/api", &offer).await;
        assert_eq!(status, 401, "{offer}: {head}");
        assert!(header_values(&head, "sec-websocket-protocol").is_empty());
    }
}

#[tokio::test]
async fn subprotocols_nobody_accepts_get_a_101_that_names_none() {
    let addr = start().await;
    let (status, head) = raw_upgrade(addr, "/open", "chat.v2, chat.v1").await;
    assert_eq!(status, 101, "{head}");
    assert!(
        header_values(&head, "sec-websocket-protocol").is_empty(),
        "{head}"
    );
}

#[tokio::test]
async fn the_factory_accepts_one_of_several_offered_and_only_an_offered_one() {
    let addr = start().await;
    let (status, head) = raw_upgrade(addr, "/versioned", "notes.v2, notes.v1").await;
    assert_eq!(status, 101, "{head}");
    assert_eq!(header_values(&head, "sec-websocket-protocol"), ["notes.v1"]);
    // Not offered: not named, whatever the factory asked for.
    let (status, head) = raw_upgrade(addr, "/versioned", "notes.v2").await;
    assert_eq!(status, 101, "{head}");
    assert!(header_values(&head, "sec-websocket-protocol").is_empty());
}

#[tokio::test]
async fn our_client_offers_a_bearer_subprotocol_and_checks_the_echo() {
    let addr = start().await;
    let api: Stub = within(
        "a session",
        capnweb::websocket::builder(format!("ws://{addr}/api"))
            .bearer_subprotocol(TOKEN)
            .connect_main(),
    )
    .await
    .unwrap();
    assert_eq!(
        api.call_self(vec![]).await.unwrap(),
        Value::from("hello, alice")
    );
    // An offered subprotocol the server does not accept: the client fails the connection, as
    // a browser does, and says why.
    let error = capnweb::websocket::builder(format!("ws://{addr}/open"))
        .subprotocol("chat.v1")
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("accepted none of the subprotocols"),
        "{error}"
    );
    let versioned: Stub = capnweb::websocket::builder(format!("ws://{addr}/versioned"))
        .subprotocol("notes.v2")
        .subprotocol("notes.v1")
        .connect_main()
        .await
        .unwrap();
    assert_eq!(
        versioned.call_self(vec![]).await.unwrap(),
        Value::from("v1")
    );
    // A wrong token: the refusal's status.
    let refused = capnweb::websocket::builder(format!("ws://{addr}/api"))
        .bearer_subprotocol("wrong")
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("401"), "{refused}");
    // A token that cannot be a subprotocol: said before anything is sent, without the token.
    let bad = capnweb::websocket::builder(format!("ws://{addr}/api"))
        .bearer_subprotocol("c2VjcmV0/dG9rZW4=")
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("HTTP token"), "{bad}");
    assert!(!bad.contains("c2VjcmV0"), "{bad}");
}

#[tokio::test]
async fn the_same_factory_reads_an_authorization_header_over_http_batch() {
    let addr = start().await;
    let client = capnweb::http_batch::builder(format!("http://{addr}/api"))
        .bearer_token(TOKEN)
        .build()
        .unwrap();
    let answer = client.session().main().call_self(vec![]).await.unwrap();
    assert_eq!(answer, Value::from("hello, alice"));
}
