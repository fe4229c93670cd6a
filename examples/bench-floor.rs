//! The floor for `bench/compare.sh`: the transport stack our interop server runs on, answering
//! `interop/node/load.mjs`'s load with no RPC engine behind it, so its CPU per call is what the
//! stack alone costs (kernel, tokio, hyper, tungstenite) — what our server cannot go below.
//!
//! `cargo run --release --example bench-floor -- 127.0.0.1:0` — the first line on stdout is
//! `listening on HOST:PORT`, as for `interop-server`; runs until killed.
//!
//! The same stack as `examples/interop-server.rs` (capnweb's `Server`): `#[tokio::main]` (the
//! multi-thread runtime, one worker per core), a `TcpListener`, `set_nodelay(true)` on every
//! accepted socket, one task per connection served by hyper-util's `auto::Builder` (HTTP/1 with
//! `half_close`, upgrades on), a WebSocket upgrade answered with 101 by the service and run on
//! its own task as a tokio-tungstenite `WebSocketStream::from_raw_socket` over hyper's upgraded
//! connection; the same crate versions (the workspace's `Cargo.lock`).
//!
//! What it does, per WebSocket session: reads each text frame; for a `["push", …]` it takes the
//! method name and the one integer argument by scanning the bytes (no JSON parser) and computes
//! the result load.mjs expects: `square(x)` → x², `makeCounter(k)` sets the session's one
//! counter to k, `increment(n)` adds n to it and gives the new value; the result is queued under
//! the push's import id (1, 2, 3, … in push order). For a `["pull", id]` it sends
//! `["resolve", id, <that number>]`. `["release", …]` and anything else get nothing. Answers to
//! the frames that arrived together are written together: each answer is fed to the sink, and
//! the sink is flushed once no further frame is ready (one write for a burst of pulls). Over
//! HTTP (a POST, load.mjs's `http.batch` phase) the same for each line of the body, the
//! answers joined by `\n` as the response body.
//!
//! What it does not do: no protocol engine (no message parse into a tree, no import/export
//! tables, no stubs, no promises, no value encoding), no checks (a frame it cannot read is
//! skipped), no describe, no limits or timeouts, no keep-alive pings, no subprotocol, no
//! graceful shutdown. Its only state per session is the counter and a queue of
//! (import id, number) for pushes not pulled yet; the counter stands for "the counter the last
//! `makeCounter` made", which is right for load.mjs's load only.
//!
//! Buffers: tungstenite zero-fills its whole read buffer before every read (`FrameCodec::read_in`),
//! so its default 128 KiB read buffer costs a 128 KiB memset per `recv` — a first version of
//! this floor with the defaults spent more CPU per call than our server in ws.sequential. Here
//! tungstenite's read buffer is 2 KiB, as in our server, and the socket is read through a tokio
//! `BufReader` of 64 KiB (zeroed once), so a burst of frames still takes one `recv` (our server
//! gets the same from its `ReadAhead`). The write buffer is tungstenite's default (128 KiB:
//! every answer of a flush leaves in one write; our server's is 16 KiB).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::poll_fn;
use std::io::Write as _;
use std::pin::Pin;

use capnweb::http::{header, Method, Request, Response, StatusCode};
use capnweb::hyper::body::{Body as _, Incoming};
use capnweb::hyper::{self, service::service_fn};
use capnweb::tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use capnweb::tokio_tungstenite::tungstenite::protocol::Role;
use capnweb::tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use capnweb::tokio_tungstenite::tungstenite::Message;
use capnweb::tokio_tungstenite::WebSocketStream;
use futures::{FutureExt, SinkExt, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpListener;

/// tungstenite's read buffer, zero-filled before each read (see the module docs).
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// What one `recv` may take from the socket.
const READ_AHEAD_BYTES: usize = 64 * 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!("listening on {}", listener.local_addr()?);
    let _ = std::io::stdout().flush();
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().half_close(true);
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service_fn(handle))
                .await;
        });
    }
}

/// A WebSocket upgrade (answered with 101, the session on a task of its own) or a batch POST.
async fn handle(mut request: Request<Incoming>) -> Result<Response<String>, Infallible> {
    if let Some(key) = request.headers().get(header::SEC_WEBSOCKET_KEY) {
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let io = BufReader::with_capacity(READ_AHEAD_BYTES, TokioIo::new(upgraded));
                let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
                let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                serve_websocket(ws).await;
            }
        });
        return Ok(response(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "Upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, accept)
            .body(String::new())
            .expect("a valid response"));
    }
    if request.method() != Method::POST {
        return Ok(response(StatusCode::NOT_FOUND)
            .body(String::new())
            .expect("a valid response"));
    }
    let mut body = request.into_body();
    let mut text = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(frame) = frame else {
            return Ok(response(StatusCode::BAD_REQUEST)
                .body(String::new())
                .expect("a valid response"));
        };
        if let Ok(data) = frame.into_data() {
            text.extend_from_slice(&data);
        }
    }
    let mut calls = Calls::default();
    let mut answers = String::new();
    let mut answer = String::new();
    for line in text.split(|&b| b == b'\n') {
        if calls.answer(line, &mut answer) {
            if !answers.is_empty() {
                answers.push('\n');
            }
            answers.push_str(&answer);
        }
    }
    Ok(response(StatusCode::OK)
        .body(answers)
        .expect("a valid response"))
}

fn response(status: StatusCode) -> capnweb::http::response::Builder {
    Response::builder().status(status)
}

/// Answers each pull of one session; the answers to frames that arrived together leave in one
/// flush.
async fn serve_websocket<S>(mut ws: WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut calls = Calls::default();
    let mut answer = String::new();
    'session: while let Some(Ok(mut message)) = ws.next().await {
        loop {
            if let Message::Text(text) = &message {
                if calls.answer(text.as_bytes(), &mut answer)
                    && ws.feed(Message::text(answer.as_str())).await.is_err()
                {
                    break 'session;
                }
            }
            // Another frame already here (buffered, or readable without waiting)?
            match ws.next().now_or_never() {
                Some(Some(Ok(next))) => message = next,
                Some(_) => break 'session,
                None => break,
            }
        }
        if ws.flush().await.is_err() {
            break;
        }
    }
}

/// The one session's state: the counter and the results of pushes not pulled yet.
#[derive(Debug)]
struct Calls {
    next_import: i64,
    counter: i64,
    unpulled: VecDeque<(i64, i64)>,
}

impl Default for Calls {
    fn default() -> Self {
        Self {
            next_import: 1,
            counter: 0,
            unpulled: VecDeque::new(),
        }
    }
}

impl Calls {
    /// Takes in one message; for a pull of a known id, writes its answer to `out` and says so.
    fn answer(&mut self, message: &[u8], out: &mut String) -> bool {
        if let Some(rest) = message.strip_prefix(b"[\"push\",") {
            let id = self.next_import;
            self.next_import += 1;
            let value = self.call(rest);
            self.unpulled.push_back((id, value));
            return false;
        }
        let Some(rest) = message.strip_prefix(b"[\"pull\",") else {
            return false;
        };
        let Some(id) = integer(rest) else {
            return false;
        };
        // Pulls come in push order here; pushes never pulled (makeCounter) are dropped on the way.
        let value = loop {
            match self.unpulled.front() {
                Some(&(first, _)) if first < id => {
                    self.unpulled.pop_front();
                }
                Some(&(first, value)) if first == id => {
                    self.unpulled.pop_front();
                    break value;
                }
                _ => match self.unpulled.iter().position(|&(i, _)| i == id) {
                    Some(at) => break self.unpulled.remove(at).map_or(0, |(_, v)| v),
                    None => return false,
                },
            }
        };
        out.clear();
        let _ = write!(out, "[\"resolve\",{id},{value}]");
        true
    }

    /// The result of `["pipeline",TARGET,["METHOD"],[ARG]]` (after `["push",`), by scanning.
    fn call(&mut self, push: &[u8]) -> i64 {
        let Some(at) = find(push, b",[\"") else {
            return 0;
        };
        let method_and_args = &push[at + 3..];
        let Some(end) = method_and_args.iter().position(|&b| b == b'"') else {
            return 0;
        };
        let method = &method_and_args[..end];
        let argument = method_and_args[end..]
            .strip_prefix(b"\"],[")
            .and_then(integer);
        match method {
            b"square" => argument.map_or(0, |x| x * x),
            b"makeCounter" => {
                self.counter = argument.unwrap_or(0);
                0
            }
            b"increment" => {
                self.counter += argument.unwrap_or(1);
                self.counter
            }
            _ => 0,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The integer at the start of `bytes` (an optional `-`, then digits).
fn integer(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let mut value: i64 = 0;
    let mut any = false;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        any = true;
    }
    any.then_some(if negative { -value } else { value })
}
