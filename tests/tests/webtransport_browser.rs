//! A real browser over WebTransport: the reference client (npm capnweb 0.12.0) in Debian's
//! Chromium, headless, driven by playwright-core (`interop/webtransport/drive.mjs`), wrapping
//! the page's `WebTransport` session with `interop/webtransport/transport.ts` as its
//! `RpcTransport`, calls our server: a call, pipelining, `.map()`, callbacks into the page, and
//! streams both ways; and a server that does not allow the page's origin refuses it before
//! any session starts. A failed step fails the test with the page's console log.
//!
//! The page is served here on `http://127.0.0.1:PORT` (a secure context), bundled by esbuild
//! from `interop/webtransport/page.ts` after tsc checks it; the server trusts the page's
//! origin (`Server::allow_origin`), and the page trusts the server's development certificate
//! by its hash (`serverCertificateHashes`). Node, esbuild, tsc and playwright-core come from
//! `interop/setup.sh`, Chromium from `interop/browser-setup.sh`.

#[path = "origin/setup.rs"]
mod setup;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use capnweb::webtransport::DevCertificate;
use capnweb::{Routes, Server};
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// How long the page may take, Chromium's start included.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

const PAGE: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>capnweb over \
                    WebTransport</title></head><body><script type=\"module\" src=\"/page.js\">\
                    </script></body></html>";

fn webtransport_dir() -> PathBuf {
    setup::repo().join("interop/webtransport")
}

/// Runs `program` (under interop/node_modules) in interop/webtransport: its stdout, or a
/// panic with what it said.
fn node_tool(program: &str, args: &[&str]) -> String {
    setup::install_node_modules();
    let program = setup::repo().join("interop/node_modules").join(program);
    let out = Command::new(&program)
        .args(args)
        .current_dir(webtransport_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{stdout}{stderr}",
        program.display()
    );
    stdout
}

/// Serves the page and its bundle on a free loopback port.
async fn serve_page(bundle: String) -> SocketAddr {
    let bundle = Bytes::from(bundle);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let bundle = bundle.clone();
            let serve = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let bundle = bundle.clone();
                async move {
                    let (status, kind, body) = match request.uri().path() {
                        "/page" => (
                            200,
                            "text/html; charset=utf-8",
                            Bytes::from_static(PAGE.as_bytes()),
                        ),
                        "/page.js" => (200, "text/javascript", bundle),
                        "/favicon.ico" => (204, "image/x-icon", Bytes::new()),
                        _ => (404, "text/plain", Bytes::from_static(b"not here")),
                    };
                    let response = http::Response::builder()
                        .status(status)
                        .header("content-type", kind)
                        .body(Full::new(body))
                        .unwrap();
                    Ok::<_, Infallible>(response)
                }
            });
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(stream), serve).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_client_in_chromium_calls_our_server_over_webtransport() {
    setup::install_browser_tools();
    // The transport and the page type-check, then become one script.
    node_tool(".bin/tsc", &["-p", ".", "--pretty", "false"]);
    let bundle = node_tool(
        ".bin/esbuild",
        &[
            "page.ts",
            "--bundle",
            "--format=esm",
            "--target=es2022",
            "--preserve-symlinks",
        ],
    );
    let page = serve_page(bundle).await;
    let page_origin = format!("http://127.0.0.1:{}", page.port());

    let cert = DevCertificate::generate().unwrap();
    let routes = Routes::new()
        .route("/streams", || StreamsApiStub::new(StreamsApi::default()))
        .fallback(|| InteropApiStub::new(InteropApi));
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .allow_origin(&page_origin)
        .webtransport("127.0.0.1:0".parse().unwrap(), &cert)
        .unwrap();
    let udp = server.webtransport_addr().unwrap();
    tokio::spawn(server.serve(routes));

    // The same certificate on a server that does not allow the page's origin.
    let strict = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .webtransport("127.0.0.1:0".parse().unwrap(), &cert)
        .unwrap();
    let strict_udp = strict.webtransport_addr().unwrap();
    let strict_sessions = Arc::new(AtomicUsize::new(0));
    let counted = strict_sessions.clone();
    tokio::spawn(strict.serve(move || {
        counted.fetch_add(1, Ordering::Relaxed);
        InteropApiStub::new(InteropApi)
    }));

    let page_url = format!(
        "{page_origin}/page?url=https://{udp}&hash={}&refused=https://{strict_udp}",
        cert.sha256_hex()
    );
    let run = tokio::process::Command::new("node")
        .arg(webtransport_dir().join("drive.mjs"))
        .arg(&page_url)
        .arg("90000")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(BROWSER_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("Chromium did not finish within {BROWSER_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the page failed ({}); its console:\n{stdout}{stderr}",
        out.status
    );
    for step in [
        "call",
        "pipelining",
        "map",
        "callback",
        "callback.counter",
        "stream.from-server",
        "stream.to-server",
        "origin.refused",
    ] {
        assert!(
            stdout.contains(&format!("step {{\"name\":\"{step}\",\"ok\":true")),
            "step {step} did not pass; the page's console:\n{stdout}{stderr}"
        );
    }
    // The refused page made no main object there.
    assert_eq!(strict_sessions.load(Ordering::Relaxed), 0);
}
