//! Sessions over a real WebSocket on loopback: calls, pipelining, callbacks, errors, tables,
//! the end of a session from either side, close frames, binary frames of `\n`-separated
//! messages (py-capnweb's framing), and write coalescing.

mod common;

use std::future::IntoFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use capnweb::transport::{CloseReason, Transport};
use capnweb::websocket::{self, WebSocketTransport};
use capnweb::{Error, RpcError, Session, SessionOptions, Stub, Value};
use common::*;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_call_returns_its_result() {
    let server = TestServer::start().await;
    let api: Stub = within("connecting", websocket::connect(&server.ws_url()))
        .await
        .unwrap();
    let result = within("square(3)", api.call("square", vec![num(3.0)])).await;
    assert_eq!(result.unwrap(), num(9.0));
}

#[tokio::test]
async fn a_call_on_a_returned_stub_is_pipelined() {
    let server = TestServer::start().await;
    let api: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    // Not awaited: the increment is sent at once, on the counter the server has not returned.
    let counter = api.call("makeCounter", vec![num(1.0)]);
    let incremented = counter.call("increment", vec![num(2.0)]);
    assert_eq!(within("increment", incremented).await.unwrap(), num(3.0));
    let again = counter.call("increment", vec![num(4.0)]);
    assert_eq!(within("increment", again).await.unwrap(), num(7.0));
}

#[tokio::test]
async fn the_server_calls_back_a_client_function() {
    let server = TestServer::start().await;
    let api: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    let cube = Stub::from_fn(|args: Vec<Value>| async move {
        let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Value::from(x * x * x))
    });
    let result = api.call("callFunction", vec![Value::Stub(cube), num(3.0)]);
    assert_eq!(within("callFunction", result).await.unwrap(), num(27.0));
}

#[tokio::test]
async fn a_thrown_error_reaches_the_caller() {
    let server = TestServer::start().await;
    let api: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    let error = within("throwError", api.call("throwError", vec![]))
        .await
        .unwrap_err();
    let remote = error.as_remote().expect("a remote error");
    assert_eq!(remote.name, "RangeError");
    assert_eq!(remote.message, "test error");
    // The session survives a failed call.
    let result = within("square", api.call("square", vec![num(2.0)])).await;
    assert_eq!(result.unwrap(), num(4.0));
}

#[tokio::test]
async fn the_tables_go_back_to_the_main_entries_after_the_calls() {
    let server = TestServer::start().await;
    let session = websocket::connect_with(&server.ws_url(), None, SessionOptions::default())
        .await
        .unwrap();
    let api = session.main();
    let counter = api.call("makeCounter", vec![num(5.0)]);
    within("increment", counter.call("increment", vec![num(1.0)]))
        .await
        .unwrap();
    drop(counter);
    let identity =
        Stub::from_fn(
            |args: Vec<Value>| async move { Ok(args.into_iter().next().unwrap_or_default()) },
        );
    within(
        "callFunction",
        api.call("callFunction", vec![Value::Stub(identity), num(1.0)]),
    )
    .await
    .unwrap();
    within("throwError", api.call("throwError", vec![]))
        .await
        .unwrap_err();
    until("the client's tables to hold only the main entries", || {
        let stats = session.stats();
        (stats.imports, stats.exports) == (1, 1)
    })
    .await;
}

#[tokio::test]
async fn shutting_the_server_down_rejects_pending_calls_and_fires_on_broken() {
    let mut server = TestServer::start().await;
    let api: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    let (broken_tx, broken) = oneshot::channel::<Error>();
    api.on_broken(move |e| {
        let _ = broken_tx.send(e.clone());
    });
    let pending = tokio::spawn(api.call("hang", vec![]).into_future());
    server.events.hang_started().await;

    server.shutdown().await;

    let outcome = within("the pending call to settle", pending).await.unwrap();
    let error = outcome.unwrap_err();
    assert!(error.is_disconnected(), "{error:?}");
    let error = within("on_broken", broken).await.unwrap();
    assert!(error.is_disconnected(), "{error:?}");
}

#[tokio::test]
async fn dropping_the_main_stub_ends_the_server_side_session() {
    let mut server = TestServer::start().await;
    let api: Stub = websocket::connect(&server.ws_url()).await.unwrap();
    within("square", api.call("square", vec![num(2.0)]))
        .await
        .unwrap();
    drop(api);
    // The server's session ended, and with it the main object it served.
    server.events.main_dropped().await;
}

/// A WebSocket server in the test itself, to see the frames a client session sends.
async fn raw_peer() -> (
    String,
    tokio::task::JoinHandle<tokio_tungstenite::WebSocketStream<TcpStream>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepted = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio_tungstenite::accept_async(tcp).await.unwrap()
    });
    (url, accepted)
}

/// Reads frames until a close frame; returns the texts before it and the close frame.
async fn read_until_close(
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
) -> (Vec<String>, Option<(CloseCode, String)>) {
    let mut texts = Vec::new();
    while let Some(frame) = within("a frame", ws.next()).await {
        match frame.unwrap() {
            Message::Text(text) => texts.push(text.as_str().to_owned()),
            Message::Close(frame) => {
                return (texts, frame.map(|f| (f.code, f.reason.as_str().to_owned())))
            }
            _ => {}
        }
    }
    (texts, None)
}

#[tokio::test]
async fn a_clean_end_closes_with_code_1000() {
    let (url, accepted) = raw_peer().await;
    let api: Stub = websocket::connect(&url).await.unwrap();
    let mut ws = within("the raw server's accept", accepted).await.unwrap();
    drop(api);
    let (_, close) = read_until_close(&mut ws).await;
    assert_eq!(close.map(|(code, _)| code), Some(CloseCode::Normal));
}

#[tokio::test]
async fn an_abort_closes_with_code_3000_and_a_truncated_reason() {
    let (url, accepted) = raw_peer().await;
    let session = websocket::connect_with(&url, None, SessionOptions::default())
        .await
        .unwrap();
    let mut ws = within("the raw server's accept", accepted).await.unwrap();
    session.abort(RpcError::error("é".repeat(100)));
    let (texts, close) = read_until_close(&mut ws).await;
    assert_eq!(texts.len(), 1, "the abort message: {texts:?}");
    let (code, reason) = close.expect("a close frame");
    assert_eq!(code, CloseCode::from(3000));
    // 61 two-byte characters: the most that fit in 123 bytes.
    assert_eq!(reason, "é".repeat(61));
}

/// A raw WebSocket client of `server`, to send it frames by hand.
async fn raw_client(server: &TestServer) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (ws, _) = within(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(server.ws_url(), tcp),
    )
    .await
    .unwrap();
    ws
}

/// The next frame, which must be a binary one; its text.
async fn next_binary(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> String {
    match within("a frame", ws.next()).await {
        Some(Ok(Message::Binary(data))) => String::from_utf8(data.to_vec()).unwrap(),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

/// py-capnweb's client sends a binary frame of `\n`-separated messages; each is handled in
/// order, and the answers come back the same way, one binary frame per flush.
#[tokio::test]
async fn a_binary_frame_of_lines_is_answered_with_one_binary_frame() {
    let server = TestServer::start().await;
    let mut ws = raw_client(&server).await;
    // A `\r\n` ending and a trailing newline, as tolerated.
    let batch = concat!(
        r#"["push",["pipeline",0,["square"],[3]]]"#,
        "\r\n",
        r#"["push",["pipeline",0,["square"],[4]]]"#,
        "\n",
        r#"["pull",1]"#,
        "\n",
        r#"["pull",2]"#,
        "\n",
    );
    ws.send(Message::binary(batch.as_bytes().to_vec()))
        .await
        .unwrap();
    assert_eq!(
        next_binary(&mut ws).await,
        "[\"resolve\",1,9]\n[\"resolve\",2,16]"
    );
}

#[tokio::test]
async fn a_peer_that_sends_text_frames_gets_one_text_frame_per_message() {
    let server = TestServer::start().await;
    let mut ws = raw_client(&server).await;
    for message in [
        r#"["push",["pipeline",0,["square"],[3]]]"#,
        r#"["push",["pipeline",0,["square"],[4]]]"#,
        r#"["pull",1]"#,
        r#"["pull",2]"#,
    ] {
        ws.feed(Message::text(message)).await.unwrap();
    }
    ws.flush().await.unwrap();
    for expected in [r#"["resolve",1,9]"#, r#"["resolve",2,16]"#] {
        match within("a frame", ws.next()).await {
            Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), expected),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Our client, too, takes binary frames of lines, and then answers in kind.
#[tokio::test]
async fn a_client_answered_in_a_binary_frame_answers_in_binary_frames() {
    let (url, accepted) = raw_peer().await;
    let api: Stub = websocket::connect(&url).await.unwrap();
    let mut ws = within("the raw server's accept", accepted).await.unwrap();
    let pending = tokio::spawn(api.call("square", vec![num(3.0)]).into_future());
    let mut sent = Vec::new();
    while sent.len() < 2 {
        match within("the push and the pull", ws.next()).await {
            Some(Ok(Message::Text(text))) => sent.push(text.as_str().to_owned()),
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
    assert_eq!(sent[1], r#"["pull",1]"#);
    ws.send(Message::binary(&b"[\"resolve\",1,9]\n"[..]))
        .await
        .unwrap();
    let result = within("the call", pending).await.unwrap();
    assert_eq!(result.unwrap(), num(9.0));
    assert_eq!(next_binary(&mut ws).await, r#"["release",1,1]"#);
}

#[tokio::test]
async fn a_binary_frame_that_is_not_utf8_closes_with_1007() {
    let (url, accepted) = raw_peer().await;
    let api: Stub = websocket::connect(&url).await.unwrap();
    let mut ws = within("the raw server's accept", accepted).await.unwrap();
    let pending = tokio::spawn(api.call("square", vec![num(2.0)]).into_future());
    within("the push", ws.next()).await.unwrap().unwrap();
    ws.send(Message::binary(vec![b'[', 0xff, b']']))
        .await
        .unwrap();
    let error = within("the call to fail", pending)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Protocol(m) if m.message().contains("not UTF-8")),
        "{error:?}"
    );
    let (_, close) = read_until_close(&mut ws).await;
    let (code, reason) = close.expect("a close frame");
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::Invalid, "a binary frame is not valid UTF-8")
    );
}

/// A stream that counts its flushes.
struct CountingIo {
    inner: TcpStream,
    flushes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let flushed = Pin::new(&mut self.inner).poll_flush(cx);
        if flushed.is_ready() {
            self.flushes.fetch_add(1, Ordering::SeqCst);
        }
        flushed
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// For each flush of the transport: how many messages it carried, and how many flushes of
/// the socket it made.
type SendLog = Arc<Mutex<Vec<(usize, usize)>>>;

/// The WebSocket transport, with its sends recorded.
struct Recorded {
    inner: WebSocketTransport<CountingIo>,
    flushes: Arc<AtomicUsize>,
    log: SendLog,
    /// Messages since the last flush, and the socket's flush count then.
    pending: Option<(usize, usize)>,
}

impl Transport for Recorded {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        self.inner.poll_recv(cx)
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        let before = self.flushes.load(Ordering::SeqCst);
        self.pending.get_or_insert((0, before)).0 += 1;
        self.inner.start_send(message)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let flushed = self.inner.poll_flush(cx);
        if flushed.is_ready() {
            if let Some((count, before)) = self.pending.take() {
                let flushes = self.flushes.load(Ordering::SeqCst) - before;
                self.log.lock().unwrap().push((count, flushes));
            }
        }
        flushed
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()> {
        self.inner.poll_close(cx, reason)
    }
}

#[tokio::test]
async fn calls_made_in_one_tick_leave_in_one_send_and_one_flush() {
    const CALLS: usize = 10;
    let server = TestServer::start().await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let flushes = Arc::new(AtomicUsize::new(0));
    let io = CountingIo {
        inner: tcp,
        flushes: Arc::clone(&flushes),
    };
    let (ws, _) = within(
        "the WebSocket handshake",
        tokio_tungstenite::client_async(server.ws_url(), io),
    )
    .await
    .unwrap();
    let log = SendLog::default();
    let transport = Recorded {
        inner: WebSocketTransport::new(ws),
        flushes,
        log: Arc::clone(&log),
        pending: None,
    };
    let session = Session::new(transport, None, SessionOptions::default());
    let api = session.main();

    let calls: Vec<_> = (0..CALLS)
        .map(|i| api.call("square", vec![num(i as f64)]).into_future())
        .collect();
    let results = within("the calls", futures::future::join_all(calls)).await;
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap(), num((i * i) as f64));
    }

    // The first send held every push and every pull, written with a single flush.
    let first = log.lock().unwrap()[0];
    assert_eq!(first, (2 * CALLS, 1), "sends: {:?}", log.lock().unwrap());
}

#[tokio::test]
async fn connecting_to_nothing_is_a_transport_error_naming_the_url() {
    // A port that was free a moment ago: nothing listens there now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("ws://{addr}/");
    let error = within("connecting", websocket::connect::<Stub>(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transport(m) if m.contains(&url)),
        "{error:?}"
    );
}

#[test]
fn the_public_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&websocket::connect::<Stub>("ws://127.0.0.1:1/"));
    assert_send(&websocket::connect_with(
        "ws://127.0.0.1:1/",
        None,
        SessionOptions::default(),
    ));
    let request = http::Request::post("/").body(String::new()).unwrap();
    let main = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::Null) });
    assert_send(&capnweb::http_batch::handle(
        request,
        main,
        SessionOptions::default(),
    ));
}
