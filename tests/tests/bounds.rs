//! The server against a client that misbehaves: one that never finishes a request, sits idle,
//! answers no ping, opens too many connections (it is told so at once), asks for too much work
//! in one batch, or breaks the WebSocket protocol; and the server's closing manners (the abort
//! arrives before the close, protocol errors say what was wrong, a half-closed request is still
//! answered). Each test fails if its bound goes.

mod common;

use std::time::Duration;

use capnweb::{AtCapacity, Limits, SessionOptions};
use common::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

const SHORT: Duration = Duration::from_millis(200);

/// Reads until the server closes the connection (within 5 s, well under every default
/// timeout); returns what it sent.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the server should have closed the connection")
        .ok();
    received
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.addr).await.unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_request_whose_headers_never_complete_is_dropped() {
    let server = TestServer::start_configured(|s| s.header_read_timeout(SHORT)).await;
    for start in [
        "POST / HTTP/1.1\r\nHost: x\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
        "PRI * HTTP/2.0\r\n",
    ] {
        let mut stream = connect(&server).await;
        stream.write_all(start.as_bytes()).await.unwrap();
        let answer = until_closed(&mut stream).await;
        assert!(
            !text(&answer).contains("200"),
            "{start:?}: {}",
            text(&answer)
        );
    }
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() {
    let server = TestServer::start_configured(|s| s.body_timeout(SHORT)).await;
    let mut stream = connect(&server).await;
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[\"push\"";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = text(&until_closed(&mut stream).await);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = TestServer::start_configured(|s| s.keep_alive_timeout(SHORT)).await;
    let mut stream = connect(&server).await;
    let request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = text(&until_closed(&mut stream).await);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_websocket_peer_that_answers_no_ping_is_given_up() {
    let mut server = TestServer::start_configured(|s| s.websocket_keepalive(SHORT, SHORT)).await;
    let stream = connect(&server).await;
    let (mut ws, _) = tokio_tungstenite::client_async(server.ws_url(), stream)
        .await
        .unwrap();
    ws.send(Message::text(r#"["push",["pipeline",0,["square"],[2]]]"#))
        .await
        .unwrap();
    // The client never reads again, so it never answers the server's ping.
    server.events.main_dropped().await;
    drop(ws);
}

#[tokio::test]
async fn a_batch_that_runs_too_long_gets_503_and_its_calls_end() {
    let mut server = TestServer::start_configured(|s| s.batch_timeout(SHORT)).await;
    let batch = "[\"push\",[\"pipeline\",0,[\"hang\"],[]]]\n[\"pull\",1]";
    let answer = post(&server.http_url(), batch).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert!(
        answer.body.contains("did not finish within"),
        "{}",
        answer.body
    );
    server.events.main_dropped().await;
}

#[tokio::test]
async fn a_call_into_a_batch_client_fails_at_once_instead_of_holding_the_batch() {
    let server = TestServer::start().await;
    let batch = "[\"push\",[\"pipeline\",0,[\"callFunction\"],[[\"export\",-1],5]]]\n[\"pull\",1]";
    let answer = post(&server.http_url(), batch).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let reject = answer
        .body
        .lines()
        .find(|line| line.starts_with("[\"reject\",1,"))
        .unwrap_or_else(|| panic!("no rejection in {}", answer.body));
    assert!(
        reject.contains("cannot answer a call while its batch runs"),
        "{reject}"
    );
}

#[tokio::test]
async fn a_batch_that_makes_too_much_work_is_refused() {
    let server = TestServer::start_with(SessionOptions::default().max_exports(100)).await;
    let batch = vec!["[\"push\",1]"; 150].join("\n");
    let answer = post(&server.http_url(), batch).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("max_exports"), "{}", answer.body);
}

/// Opens `n` WebSocket sessions and waits until the server counts them all.
async fn hold_sessions(
    server: &TestServer,
    n: usize,
) -> Vec<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>> {
    let mut sessions = Vec::new();
    for _ in 0..n {
        let (ws, _) = within(
            "a WebSocket session",
            tokio_tungstenite::connect_async(server.ws_url()),
        )
        .await
        .unwrap();
        sessions.push(ws);
    }
    until("the sessions to be counted", || {
        server.handle.open_connections() == n
    })
    .await;
    sessions
}

#[tokio::test]
async fn past_the_connection_limit_a_client_gets_503_at_once_and_a_freed_slot_serves_again() {
    let server = TestServer::start_configured(|s| s.max_connections(2)).await;
    let request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
    let mut sessions = hold_sessions(&server, 2).await;

    // The third is answered and closed at once (within until_closed's 5 s), not left waiting.
    let mut third = connect(&server).await;
    third.write_all(request.as_bytes()).await.unwrap();
    let answer = text(&until_closed(&mut third).await);
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
    assert!(
        answer.ends_with("\r\n\r\nThe server is at its connection limit; try again in 1 s.\n"),
        "{answer}"
    );
    // It took no slot and is not counted as served.
    assert_eq!(server.handle.open_connections(), 2);
    assert_eq!(server.handle.accepted_connections(), 2);
    assert_eq!(server.handle.refused_connections(), 1);

    // A session ends: its slot serves the next client.
    drop(sessions.remove(0));
    until("the closed session's slot to free", || {
        server.handle.open_connections() == 1
    })
    .await;
    let mut next = connect(&server).await;
    next.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    within("the next client's answer", next.read_exact(&mut head))
        .await
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    assert_eq!(server.handle.accepted_connections(), 3);
    assert_eq!(server.handle.refused_connections(), 1);
}

#[tokio::test]
async fn past_the_connection_limit_the_close_policy_closes_at_once() {
    let server =
        TestServer::start_configured(|s| s.max_connections(1).at_capacity(AtCapacity::Close)).await;
    let _session = hold_sessions(&server, 1).await;
    let mut second = connect(&server).await;
    second
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(text(&until_closed(&mut second).await), "");
    assert_eq!(server.handle.refused_connections(), 1);
    assert_eq!(server.handle.open_connections(), 1);
}

#[tokio::test]
async fn the_abort_arrives_before_the_close_even_with_unread_input_pending() {
    let server = TestServer::start().await;
    for _ in 0..20 {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url())
            .await
            .unwrap();
        // A bad pull, then far more than the server reads before it closes (about 100 KiB):
        // unread input at the close would turn it into a reset that loses the abort.
        ws.feed(Message::text(r#"["pull",1]"#)).await.unwrap();
        let filler = format!(r#"["push",{:?}]"#, "x".repeat(1000));
        for _ in 0..100 {
            ws.feed(Message::text(filler.clone())).await.unwrap();
        }
        ws.flush().await.unwrap();
        let first = within("the abort", ws.next()).await.unwrap().unwrap();
        assert!(
            matches!(&first, Message::Text(t) if t.starts_with("[\"abort\",")),
            "{first:?}"
        );
        let second = within("the close frame", ws.next()).await.unwrap().unwrap();
        match second {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 3000),
            other => panic!("expected a close frame, got {other:?}"),
        }
        // The server read what was left before closing, so the connection ends cleanly: a
        // reset (what closing on unread input sends) can lose what was still in flight.
        let end = within("the end of the connection", ws.next()).await;
        assert!(
            end.is_none(),
            "the connection should end cleanly, got {end:?}"
        );
    }
}

/// A masked client frame: `first` is the FIN/RSV/opcode byte.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![first, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Opens a WebSocket by hand; returns the stream after the server's 101.
async fn raw_websocket(server: &TestServer) -> TcpStream {
    let mut stream = connect(server).await;
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        within("the 101", stream.read_exact(&mut byte))
            .await
            .unwrap();
        head.push(byte[0]);
    }
    assert!(text(&head).starts_with("HTTP/1.1 101"), "{}", text(&head));
    stream
}

/// The code and reason of the close frame among the server's frames (unmasked).
fn close_frame(mut bytes: &[u8]) -> Option<(u16, String)> {
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, start) = match bytes[1] & 0x7f {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => return None,
            n => (n as usize, 2),
        };
        let payload = bytes.get(start..start + len)?;
        if opcode == 8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return Some((code, text(&payload[2..])));
        }
        bytes = &bytes[start + len..];
    }
    None
}

#[tokio::test]
async fn websocket_protocol_errors_close_with_their_code_and_a_reason() {
    let server = TestServer::start().await;
    let cases: [(&str, Vec<u8>, u16); 4] = [
        (
            "RSV1 set",
            client_frame(0x80 | 0x40 | 0x1, b"[\"pull\",0]"),
            1002,
        ),
        ("an unmasked frame", vec![0x81, 2, b'[', b']'], 1002),
        (
            "invalid UTF-8",
            client_frame(0x81, &[0xff, 0xfe, 0xfd]),
            1007,
        ),
        (
            "a binary frame of invalid UTF-8",
            client_frame(0x82, &[0xff, 0xfe, 0xfd]),
            1007,
        ),
    ];
    for (what, frame, expected) in cases {
        let mut stream = raw_websocket(&server).await;
        stream.write_all(&frame).await.unwrap();
        let received = until_closed(&mut stream).await;
        let (code, reason) =
            close_frame(&received).unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(code, expected, "{what}: {reason}");
        assert!(!reason.is_empty(), "{what}: the close frame should say why");
    }
    assert_eq!(
        CloseCode::from(1007),
        CloseCode::Invalid,
        "1007 is the code for invalid data"
    );
}

/// A binary frame (py-capnweb's batch of `\n`-separated messages) is held to the size limit
/// of a text frame.
#[tokio::test]
async fn a_frame_over_the_size_limit_closes_with_1009_text_or_binary() {
    // 40 UTF-16 units: a WebSocket message may be 120 bytes.
    let options = SessionOptions::default().limits(Limits::default().max_message_size(40));
    let server = TestServer::start_with(options).await;
    let lines = "[\"pull\",1]\n".repeat(11);
    assert_eq!(lines.len(), 121);
    for (what, opcode) in [("text", 0x81), ("binary", 0x82)] {
        let mut stream = raw_websocket(&server).await;
        stream
            .write_all(&client_frame(opcode, lines.as_bytes()))
            .await
            .unwrap();
        let received = until_closed(&mut stream).await;
        let (code, reason) =
            close_frame(&received).unwrap_or_else(|| panic!("{what}: no close frame"));
        assert_eq!(code, 1009, "{what}: {reason}");
    }
}

#[tokio::test]
async fn a_half_closed_request_still_gets_its_response() {
    let server = TestServer::start().await;
    // The answer takes a moment, so the client's end of input arrives before it.
    let body = "[\"push\",[\"pipeline\",0,[\"slow\"],[3]]]\n[\"pull\",1]";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    for _ in 0..50 {
        let mut stream = connect(&server).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        let answer = text(&until_closed(&mut stream).await);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("[\"resolve\",1,3]"), "{answer}");
    }
}
