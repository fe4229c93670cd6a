//! TLS end to end: a `Server` with `.tls(...)` on loopback, `wss://` and `https://` clients
//! trusting a certificate made at test time, and the ways it fails (a certificate nobody
//! vouched for, plain text against TLS and TLS against plain text, a client that never shakes
//! hands).

mod common;

use std::time::Duration;

use capnweb::tls::{ClientTls, ServerTls};
use capnweb::{http_batch, websocket, SessionOptions, Stub};
use common::*;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// A self-signed certificate for `localhost` and `127.0.0.1`, and its key, as PEM.
struct Identity {
    cert_pem: String,
    key_pem: String,
}

fn identity() -> Identity {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).unwrap();
    Identity {
        cert_pem: generated.cert.pem(),
        key_pem: generated.signing_key.serialize_pem(),
    }
}

impl Identity {
    fn server(&self) -> ServerTls {
        ServerTls::from_pem(&self.cert_pem, &self.key_pem).unwrap()
    }

    /// A client that trusts this certificate and nothing else.
    fn client(&self) -> ClientTls {
        ClientTls::without_built_in_roots()
            .add_root_pem(&self.cert_pem)
            .unwrap()
    }
}

/// A TLS test server (with `configure` for its other settings).
async fn tls_server(
    id: &Identity,
    configure: impl FnOnce(capnweb::Server) -> capnweb::Server,
) -> TestServer {
    let tls = id.server();
    TestServer::start_configured(move |server| configure(server.tls(tls))).await
}

fn wss_url(server: &TestServer) -> String {
    format!("wss://localhost:{}/", server.addr.port())
}

fn https_url(server: &TestServer) -> String {
    format!("https://localhost:{}/", server.addr.port())
}

#[tokio::test]
async fn a_wss_client_trusting_the_servers_certificate_gets_answers() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let api: Stub = within(
        "a wss:// connection",
        websocket::ClientBuilder::new(wss_url(&server))
            .tls(id.client())
            .connect_main(),
    )
    .await
    .unwrap();
    let result = within("square(3)", api.call("square", vec![num(3.0)])).await;
    assert_eq!(result.unwrap(), num(9.0));
    // Pipelined over TLS too.
    let counter = api.call("makeCounter", vec![num(1.0)]);
    let incremented = within("increment", counter.call("increment", vec![num(2.0)])).await;
    assert_eq!(incremented.unwrap(), num(3.0));
}

#[tokio::test]
async fn past_the_connection_limit_a_tls_client_reads_the_503_after_the_handshake() {
    let id = identity();
    let server = tls_server(&id, |s| s.max_connections(1)).await;
    let held: Stub = within(
        "a wss:// connection",
        websocket::ClientBuilder::new(wss_url(&server))
            .tls(id.client())
            .connect_main(),
    )
    .await
    .unwrap();
    until("the session to be counted", || {
        server.handle.open_connections() == 1
    })
    .await;
    let client = http_batch::ClientBuilder::new(https_url(&server))
        .tls(id.client())
        .build()
        .unwrap();
    let api: Stub = client.main();
    let error = within("a refused batch", api.call("square", vec![num(2.0)]))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("503"), "{error}");
    assert!(error.contains("connection limit"), "{error}");
    assert_eq!(server.handle.refused_connections(), 1);
    drop(held);
}

#[tokio::test]
async fn the_server_calls_back_a_client_over_wss() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let api: Stub = websocket::ClientBuilder::new(wss_url(&server))
        .tls(id.client())
        .connect_main()
        .await
        .unwrap();
    let cube = Stub::from_fn(|args: Vec<capnweb::Value>| async move {
        let x = args.first().and_then(capnweb::Value::as_f64).unwrap_or(0.0);
        Ok(capnweb::Value::from(x * x * x))
    });
    let result = api.call("callFunction", vec![capnweb::Value::Stub(cube), num(3.0)]);
    assert_eq!(within("callFunction", result).await.unwrap(), num(27.0));
}

#[tokio::test]
async fn an_https_batch_client_trusting_the_servers_certificate_gets_answers() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let client = http_batch::ClientBuilder::new(https_url(&server))
        .tls(id.client())
        .build()
        .unwrap();
    let api: Stub = client.main();
    let counter = api.call("makeCounter", vec![num(10.0)]);
    let (a, b) = within("one batch", async {
        tokio::join!(
            api.call("square", vec![num(6.0)]),
            counter.call("increment", vec![num(5.0)])
        )
    })
    .await;
    assert_eq!(a.unwrap(), num(36.0));
    assert_eq!(b.unwrap(), num(15.0));
}

#[tokio::test]
async fn an_ip_address_is_checked_against_the_certificates_ip_names() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let port = server.addr.port();
    let api: Stub = websocket::ClientBuilder::new(format!("wss://127.0.0.1:{port}/"))
        .tls(id.client())
        .connect_main()
        .await
        .unwrap();
    assert_eq!(
        within("square", api.call("square", vec![num(2.0)]))
            .await
            .unwrap(),
        num(4.0)
    );
    let batch: Stub = http_batch::ClientBuilder::new(format!("https://127.0.0.1:{port}/"))
        .tls(id.client())
        .build()
        .unwrap()
        .main();
    assert_eq!(
        within("square", batch.call("square", vec![num(5.0)]))
            .await
            .unwrap(),
        num(25.0)
    );
}

#[tokio::test]
async fn a_certificate_from_another_authority_is_not_trusted_over_wss() {
    let (id, stranger) = (identity(), identity());
    let server = tls_server(&id, |s| s).await;
    let error = within(
        "a refused wss:// connection",
        websocket::ClientBuilder::new(wss_url(&server))
            .tls(stranger.client())
            .connect(),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("the server's certificate is not trusted"),
        "{message}"
    );
    assert!(
        message.contains(&wss_url(&server)),
        "names the URL: {message}"
    );
}

#[tokio::test]
async fn a_self_signed_certificate_is_not_trusted_by_the_built_in_roots() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    // The shorthand uses the built-in (Mozilla) roots.
    let error = within(
        "a refused wss:// connection",
        websocket::connect::<Stub>(&wss_url(&server)),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("the server's certificate is not trusted"),
        "{message}"
    );
}

#[tokio::test]
async fn a_certificate_from_another_authority_is_not_trusted_over_https() {
    let (id, stranger) = (identity(), identity());
    let server = tls_server(&id, |s| s).await;
    let api: Stub = http_batch::ClientBuilder::new(https_url(&server))
        .tls(stranger.client())
        .build()
        .unwrap()
        .main();
    let error = within("a refused batch", api.call("square", vec![num(2.0)]))
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("the server's certificate is not trusted"),
        "{message}"
    );

    // And with the built-in roots only, through the shorthand.
    let api: Stub = http_batch::connect(&https_url(&server));
    let error = within("a refused batch", api.call("square", vec![num(2.0)]))
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(
        message.contains("the server's certificate is not trusted"),
        "{message}"
    );
}

#[tokio::test]
async fn a_plain_websocket_client_fails_cleanly_against_a_tls_server() {
    let id = identity();
    let server = tls_server(&id, |s| s.header_read_timeout(Duration::from_millis(500))).await;
    let url = format!("ws://localhost:{}/", server.addr.port());
    let error = within(
        "a plain ws:// client to fail",
        websocket::ClientBuilder::new(url)
            .connect_timeout(Duration::from_secs(5))
            .connect(),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(
        !message.contains("did not connect within"),
        "failed, not timed out: {message}"
    );
}

#[tokio::test]
async fn a_plain_http_batch_fails_cleanly_against_a_tls_server() {
    let id = identity();
    let server = tls_server(&id, |s| s.header_read_timeout(Duration::from_millis(500))).await;
    let url = format!("http://localhost:{}/", server.addr.port());
    let api: Stub = http_batch::connect(&url);
    let error = within(
        "a plain http:// batch to fail",
        api.call("square", vec![num(2.0)]),
    )
    .await
    .unwrap_err();
    transport_message(error);
}

#[tokio::test]
async fn a_tls_client_against_a_plain_server_is_told_it_is_not_tls() {
    let id = identity();
    let server = TestServer::start().await;
    let port = server.addr.port();
    let error = within(
        "a wss:// client to fail",
        websocket::ClientBuilder::new(format!("wss://localhost:{port}/"))
            .tls(id.client())
            .connect(),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("not TLS"), "{message}");

    let api: Stub = http_batch::ClientBuilder::new(format!("https://localhost:{port}/"))
        .tls(id.client())
        .build()
        .unwrap()
        .main();
    let error = within(
        "an https:// batch to fail",
        api.call("square", vec![num(2.0)]),
    )
    .await
    .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("not TLS"), "{message}");
}

#[tokio::test]
async fn a_client_that_never_shakes_hands_does_not_hold_up_others() {
    let id = identity();
    // A long header read timeout: if the handshake ran in the accept loop, the next client
    // would wait all of it.
    let server = tls_server(&id, |s| s.header_read_timeout(Duration::from_secs(60))).await;
    let _silent = TcpStream::connect(server.addr).await.unwrap();
    until("the silent connection to be accepted", || {
        server.handle.accepted_connections() == 1
    })
    .await;
    let api: Stub = within(
        "a second client while the first one is silent",
        websocket::ClientBuilder::new(wss_url(&server))
            .tls(id.client())
            .connect_main(),
    )
    .await
    .unwrap();
    let result = within("square", api.call("square", vec![num(7.0)])).await;
    assert_eq!(result.unwrap(), num(49.0));
}

#[tokio::test]
async fn a_handshake_that_never_comes_is_dropped_after_the_header_read_timeout() {
    let id = identity();
    let server = tls_server(&id, |s| s.header_read_timeout(Duration::from_millis(200))).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut buffer = [0u8; 64];
    // The server closes its end: the read sees the end of the stream (or a reset).
    let read = within(
        "the server to drop the connection",
        silent.read(&mut buffer),
    )
    .await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    until("the connection to be closed", || {
        server.handle.open_connections() == 0
    })
    .await;
}

#[tokio::test]
async fn a_garbled_handshake_is_dropped_and_the_server_goes_on() {
    use tokio::io::AsyncWriteExt;
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage
        .write_all(b"\x16\x03\x01\x00\x05hello")
        .await
        .unwrap();
    let mut buffer = Vec::new();
    // The server answers with an alert at most, and closes (a reset is a close too).
    let _ = within(
        "the server to drop the connection",
        garbage.read_to_end(&mut buffer),
    )
    .await;
    let api: Stub = websocket::ClientBuilder::new(wss_url(&server))
        .tls(id.client())
        .connect_main()
        .await
        .unwrap();
    let result = within("square", api.call("square", vec![num(8.0)])).await;
    assert_eq!(result.unwrap(), num(64.0));
}

#[tokio::test]
async fn the_pooled_https_client_reuses_its_connection() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let client = http_batch::ClientBuilder::new(https_url(&server))
        .tls(id.client())
        .build()
        .unwrap();
    for x in [2.0, 3.0, 4.0] {
        let api: Stub = client.main();
        let result = within("a batch", api.call("square", vec![num(x)])).await;
        assert_eq!(result.unwrap(), num(x * x));
    }
    assert_eq!(server.handle.accepted_connections(), 1);
}

#[tokio::test]
async fn a_tls_server_shuts_down_its_websocket_sessions() {
    let id = identity();
    let server = tls_server(&id, |s| s).await;
    let session = websocket::ClientBuilder::new(wss_url(&server))
        .tls(id.client())
        .options(SessionOptions::default())
        .connect()
        .await
        .unwrap();
    within("a call", session.main().call("square", vec![num(1.0)]))
        .await
        .unwrap();
    server.shutdown().await;
    let why = within("the session to end", session.closed()).await;
    assert!(why.is_disconnected(), "{why:?}");
}

#[tokio::test]
async fn a_client_that_trusts_no_root_is_refused_before_connecting() {
    // Port 9 (discard) has no server: the configuration is what fails.
    let error = websocket::ClientBuilder::new("wss://localhost:9/")
        .tls(ClientTls::without_built_in_roots())
        .connect()
        .await
        .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("trusts no root certificate"), "{message}");
    let error = http_batch::ClientBuilder::new("https://localhost:9/")
        .tls(ClientTls::without_built_in_roots())
        .build()
        .unwrap_err();
    let message = transport_message(error);
    assert!(message.contains("trusts no root certificate"), "{message}");
}
