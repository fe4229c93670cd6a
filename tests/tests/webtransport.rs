//! Rust to Rust over WebTransport (HTTP/3 over QUIC) on loopback UDP: the interop matrix's
//! scenarios and the streams scenarios over our client and server, then the bounds (a peer that
//! does not read, an over-limit message, an endless line, the idle timeout, a foreign origin,
//! an unknown path, a server that shuts down).

// Shared with the interop matrix, whose WebSocket and HTTP batch entry points are unused here.
#[allow(dead_code)]
#[path = "interop/scenarios.rs"]
mod scenarios;
#[allow(dead_code)]
#[path = "interop/stream_scenarios.rs"]
mod stream_scenarios;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capnweb::webtransport::DevCertificate;
use capnweb::{Error, Limits, Routes, Server, ServerHandle, Session, SessionOptions, Stub, Value};
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};

/// Our server, serving WebTransport on a free UDP port (and HTTP on a free TCP one).
struct WtServer {
    udp: SocketAddr,
    cert: DevCertificate,
    handle: ServerHandle,
    sessions: Arc<Mutex<Vec<Session>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<Result<(), Error>>>,
}

async fn wt_server(
    routes: impl Into<Routes>,
    configure: impl FnOnce(Server) -> Server,
) -> WtServer {
    wt_server_with(routes, SessionOptions::default(), configure).await
}

/// [`wt_server`] with these session options (each session it starts is recorded too).
async fn wt_server_with(
    routes: impl Into<Routes>,
    options: SessionOptions,
    configure: impl FnOnce(Server) -> Server,
) -> WtServer {
    let sessions: Arc<Mutex<Vec<Session>>> = Arc::default();
    let seen = sessions.clone();
    let options = options.on_start(move |s| seen.lock().unwrap().push(s.clone()));
    let cert = DevCertificate::generate().expect("a development certificate");
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .options(options);
    let server = configure(server)
        .webtransport("127.0.0.1:0".parse().unwrap(), &cert)
        .expect("bind UDP");
    let udp = server.webtransport_addr().expect("bound");
    let handle = server.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let routes: Routes = routes.into();
    let serving = tokio::spawn(server.serve_with_shutdown(routes, async move {
        let _ = stopped.await;
    }));
    WtServer {
        udp,
        cert,
        handle,
        sessions,
        stop: Some(stop),
        serving: Some(serving),
    }
}

impl WtServer {
    fn client(&self, path: &str) -> capnweb::webtransport::ClientBuilder {
        capnweb::webtransport::builder(format!("https://{}{path}", self.udp))
            .certificate_hash(self.cert.sha256())
            .connect_timeout(Duration::from_secs(10))
    }

    /// Every session the server started ended with only its main entries.
    async fn assert_no_leaks(&self) {
        let sessions = self.sessions.lock().unwrap().clone();
        assert!(!sessions.is_empty(), "the server started no session");
        for session in &sessions {
            tokio::time::timeout(Duration::from_secs(10), session.closed())
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

    /// Shuts the server down and waits (bounded) until it has.
    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            tokio::time::timeout(Duration::from_secs(20), serving)
                .await
                .expect("the server shuts down in time")
                .expect("the server task")
                .expect("the server");
        }
    }
}

fn interop_api() -> InteropApiStub {
    InteropApiStub::new(InteropApi)
}

fn assert_cell(title: &str, log: &[String], failures: usize) {
    println!("== {title}");
    for line in log {
        println!("   {line}");
    }
    assert_eq!(
        failures,
        0,
        "{title}: {failures} scenario(s) failed:\n{}",
        log.join("\n")
    );
    assert!(!log.is_empty(), "{title}: no scenario ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_interop_scenarios_pass_over_webtransport() {
    let server = wt_server(interop_api, |s| s).await;
    let mut log = Vec::new();
    let connect = || async {
        let session = server
            .client("/")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot connect over WebTransport: {e}"));
        let api = session.main_as::<InteropApiStub>();
        (session, api)
    };
    let failures = scenarios::run_all_with(connect, true, &mut log).await;
    assert_cell("rust client -> rust server (webtransport)", &log, failures);
    server.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streams_scenarios_pass_over_webtransport() {
    let server = wt_server(|| StreamsApiStub::new(StreamsApi::default()), |s| s).await;
    let mut log = Vec::new();
    let connect = || async {
        server
            .client("/")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("cannot connect over WebTransport: {e}"))
    };
    let failures = stream_scenarios::run_all_with(connect, &mut log).await;
    assert_cell(
        "rust client -> rust server (streams, webtransport)",
        &log,
        failures,
    );
    server.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_serves_its_own_main_object_to_the_server() {
    let server = wt_server(
        || {
            Stub::from_fn(|args: Vec<Value>| async move {
                // Calls back the function it is given.
                let callback = args.first().and_then(Value::as_stub).cloned();
                match callback {
                    Some(callback) => callback
                        .call_self(vec![Value::from(20)])
                        .await
                        .map_err(|e| e.to_rpc_error()),
                    None => Ok(Value::from("no callback")),
                }
            })
        },
        |s| s,
    )
    .await;
    let double = Stub::from_fn(|args: Vec<Value>| async move {
        let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Value::from(x * 2.0))
    });
    let api: Stub = server.client("/").connect_main().await.expect("connect");
    let got = api
        .call_self(vec![Value::from(double)])
        .await
        .expect("call");
    assert_eq!(got, Value::from(40.0));
    // A clean end on both sides: the client's session closes (code 0), the server's ends as
    // the peer closing, not as a failure.
    drop(api);
    let server_session = server.sessions.lock().unwrap()[0].clone();
    let why = tokio::time::timeout(Duration::from_secs(10), server_session.closed())
        .await
        .expect("the server's session ends with the client's");
    println!("== clean end, server side: {why}");
    assert!(
        why.to_string().contains("the peer closed the connection"),
        "{why}"
    );
}

/// A raw WebTransport client (web-transport-quinn), for peers that misbehave.
async fn raw_session(server: &WtServer, origin: Option<&str>) -> web_transport_quinn::Session {
    let client = web_transport_quinn::ClientBuilder::new()
        .with_server_certificate_hashes(vec![server.cert.sha256().to_vec()])
        .expect("client");
    let url: url::Url = format!("https://{}/", server.udp).parse().unwrap();
    let mut request = web_transport_quinn::proto::ConnectRequest::new(url);
    if let Some(origin) = origin {
        request = request.with_header(
            web_transport_quinn::http::header::ORIGIN,
            web_transport_quinn::http::HeaderValue::from_str(origin).unwrap(),
        );
    }
    client.connect(request).await.expect("raw connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_makes_the_server_stop_reading_with_bounded_memory() {
    const MAX_QUEUED: usize = 256 * 1024;
    let options = SessionOptions::default()
        .max_queued_bytes(MAX_QUEUED)
        .send_timeout(Duration::from_secs(60));
    let server = wt_server_with(interop_api, options, |s| s).await;
    let session = raw_session(&server, None).await;
    let (mut send, _recv_never_read) = session.open_bi().await.expect("stream");
    // Each call's answer is ~16 KiB; the client never reads one.
    let big = "x".repeat(16 * 1024);
    let mut written = 0usize;
    let mut id = 0u64;
    let mut max_queued = 0usize;
    let stalled = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            id += 1;
            let call =
                format!("[\"push\",[\"pipeline\",0,[\"echo\"],[\"{big}\"]]]\n[\"pull\",{id}]\n");
            send.write_all(call.as_bytes()).await.expect("write");
            written += call.len();
            if let Some(server_session) = server.sessions.lock().unwrap().first() {
                max_queued = max_queued.max(server_session.stats().queued_bytes);
            }
        }
    })
    .await;
    assert!(stalled.is_err(), "the writes never stall");
    let server_session = server
        .sessions
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("a session");
    let stats = server_session.stats();
    max_queued = max_queued.max(stats.queued_bytes);
    println!(
        "== non-reading peer: the client wrote {written} bytes before stalling; the server \
         queued at most {max_queued} bytes (limit {MAX_QUEUED}); stats {stats:?}"
    );
    // The server stopped reading: the client could not write without bound (QUIC's windows
    // hold a few MiB, not what 8 s of loopback writing would be).
    assert!(
        written < 64 * 1024 * 1024,
        "the client wrote {written} bytes"
    );
    // What the session queued stayed near its limit (one message over it at most).
    assert!(
        max_queued <= MAX_QUEUED + 64 * 1024,
        "the server queued {max_queued} bytes"
    );
    session.close(0, b"done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_message_aborts_the_session_with_a_clear_error() {
    let limits = Limits::default().max_message_size(4096);
    let options = SessionOptions::default().limits(limits);
    let server = wt_server_with(interop_api, options, |s| s).await;
    let api: InteropApiStub = server.client("/").connect_main().await.expect("connect");
    let error = tokio::time::timeout(
        Duration::from_secs(10),
        api.echo(Value::from("y".repeat(10_000))),
    )
    .await
    .expect("the call ends")
    .expect_err("an over-limit message is refused");
    println!("== over-limit message: {error}");
    let text = error.to_string();
    assert!(
        text.contains("4096") || text.to_lowercase().contains("limit"),
        "the error names the limit: {text}"
    );

    // A line that never ends is cut at the limit (three bytes per character), not buffered.
    let session = raw_session(&server, None).await;
    let (mut send, _recv) = session.open_bi().await.expect("stream");
    let endless = vec![b'z'; 64 * 1024];
    let _ = tokio::time::timeout(Duration::from_secs(5), send.write_all(&endless)).await;
    let closed = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .expect("the server closes the session");
    println!("== endless line: {closed}");
    assert!(
        closed.to_string().contains("3000") && closed.to_string().contains("too large"),
        "closed with 3000 and a reason: {closed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_timeout_ends_a_gone_client_and_spares_a_quiet_one() {
    let server = wt_server(interop_api, |s| {
        s.webtransport_idle_timeout(Duration::from_millis(600))
    })
    .await;
    // Quiet (no keep-alive of its own, nothing sent): the server's pings keep it.
    let quiet = server
        .client("/")
        .keep_alive(None)
        .connect()
        .await
        .expect("connect");
    // Gone: its runtime stops (as a machine that hangs or drops off the network), so nothing
    // answers the server's pings.
    let builder = server.client("/").keep_alive(None);
    let (connected, gone) = std::sync::mpsc::channel();
    let hung = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let session = runtime.block_on(builder.connect()).expect("connect");
        let api = session.main_as::<InteropApiStub>();
        let nine = runtime.block_on(api.square(3.0).into_future());
        assert_eq!(nine.expect("a call"), 9.0);
        connected.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(session);
    });
    tokio::task::spawn_blocking(move || gone.recv())
        .await
        .unwrap()
        .expect("the second client connects");
    let hung_session = server
        .sessions
        .lock()
        .unwrap()
        .get(1)
        .cloned()
        .expect("two sessions");
    let why = tokio::time::timeout(Duration::from_secs(3), hung_session.closed())
        .await
        .expect("the server gives up a client that is gone");
    println!("== gone client: {why}");
    // The loss is reported as a timeout, or (when web-transport-quinn closes the connection
    // first, on its CONNECT stream's failure) as a lost connection.
    let text = why.to_string();
    assert!(
        why.is_disconnected() && (text.contains("timed out") || text.contains("was lost")),
        "{why}"
    );

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let api = quiet.main_as::<InteropApiStub>();
    assert_eq!(
        api.square(3.0)
            .await
            .expect("the quiet one is still served"),
        9.0
    );
    drop(api);
    drop(quiet);
    tokio::task::spawn_blocking(move || hung.join())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused_before_the_session_and_an_allowed_one_is_served() {
    let server = wt_server(interop_api, |s| s.allow_origin("http://localhost:8080")).await;
    let refused = server
        .client("/")
        .header("origin", "https://evil.example")
        .connect()
        .await
        .expect_err("a foreign origin is refused");
    println!("== foreign origin: {refused}");
    assert!(refused.to_string().contains("403"), "{refused}");
    assert!(
        server.sessions.lock().unwrap().is_empty(),
        "no session started"
    );

    for origin in ["http://localhost:8080", &format!("https://{}", server.udp)] {
        let api: InteropApiStub = server
            .client("/")
            .header("origin", origin)
            .connect_main()
            .await
            .unwrap_or_else(|e| panic!("{origin} is served: {e}"));
        assert_eq!(api.square(4.0).await.expect("call"), 16.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_apply_and_an_unknown_path_gets_404() {
    let routes = Routes::new()
        .route("/a", || {
            Stub::from_fn(|_: Vec<Value>| async { Ok(Value::from("a")) })
        })
        .route("/b", || {
            Stub::from_fn(|_: Vec<Value>| async { Ok(Value::from("b")) })
        });
    let server = wt_server(routes, |s| s).await;
    for path in ["/a", "/b"] {
        let api: Stub = server.client(path).connect_main().await.expect("connect");
        assert_eq!(
            api.call_self(vec![]).await.expect("call"),
            Value::from(&path[1..])
        );
    }
    let missing = server
        .client("/c")
        .connect()
        .await
        .expect_err("no service at /c");
    assert!(missing.to_string().contains("404"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_shuts_down_closes_its_sessions_going_away() {
    let mut server = wt_server(interop_api, |s| s).await;
    let session = server.client("/").connect().await.expect("connect");
    let api = session.main_as::<InteropApiStub>();
    assert_eq!(api.square(5.0).await.expect("call"), 25.0);
    server.shut_down().await;
    let why = tokio::time::timeout(Duration::from_secs(10), session.closed())
        .await
        .expect("the session ends");
    println!("== shutdown: {why}");
    assert!(why.to_string().contains("shutting down"), "{why}");
    // No longer served.
    let refused = server
        .client("/")
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await;
    assert!(refused.is_err(), "a stopped server serves no session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_with_its_hash() {
    let server = wt_server(interop_api, |s| s).await;
    let other = DevCertificate::generate().unwrap();
    let error = capnweb::webtransport::builder(format!("https://{}/", server.udp))
        .certificate_hash(other.sha256())
        .connect()
        .await
        .expect_err("the wrong hash");
    println!("== wrong certificate: {error}");
    assert!(
        error.to_string().contains(&server.cert.sha256_hex()),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_client_is_refused_and_a_freed_slot_serves_again() {
    let server = wt_server(interop_api, |s| s.max_connections(1)).await;
    let first = server
        .client("/")
        .connect()
        .await
        .expect("the first connects");
    let refused = server
        .client("/")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect_err("the second is refused");
    println!("== past max_connections: {refused}");
    assert_eq!(server.handle.refused_connections(), 1);
    drop(first);
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while server.handle.open_connections() != 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let api: InteropApiStub = server
        .client("/")
        .connect_main()
        .await
        .expect("served again");
    assert_eq!(api.square(6.0).await.expect("call"), 36.0);
}

/// Every public future of the transport is `Send` (it can be spawned on a multi-thread
/// runtime).
#[allow(dead_code)]
fn the_public_futures_are_send(
    builder: capnweb::webtransport::ClientBuilder,
    accepted: capnweb::web_transport_quinn::Session,
) {
    fn send<T: Send>(_: T) {}
    send(capnweb::webtransport::accept(
        accepted,
        None,
        SessionOptions::default(),
        Duration::ZERO,
    ));
    send(builder.clone().connect());
    send(builder.connect_main::<Stub>());
    send(capnweb::webtransport::connect::<Stub>(
        "https://127.0.0.1:1/",
    ));
}
