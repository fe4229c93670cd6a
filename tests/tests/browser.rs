//! A real browser: Debian's Chromium, headless, driven by playwright-core
//! (`interop/browser/cross-origin.mjs`), on a page of one origin (`http://localhost:PAGE`,
//! served here) calling our server at another (`http://127.0.0.1:API`). By default the page's
//! WebSocket and its `no-cors` `text/plain` POST (what any page can send with its user's
//! cookies) run nothing on the server; with the page's origin allowed, the same page calls
//! over both transports and reads the answers (CORS, a preflight included).
//!
//! A page served by the server it calls (its fallback service) offers a bearer token as the
//! WebSocket subprotocols `["capnweb.bearer", token]`: accepted, refused, and not accepted.
//!
//! Chromium is installed by `interop/browser-setup.sh` and playwright-core by
//! `interop/setup.sh`, when missing. Set `CAPNWEB_BROWSER_SCREENSHOT=DIR` to keep a screenshot
//! of each scenario's page.

mod common;
#[path = "origin/counted.rs"]
mod counted;
#[path = "origin/setup.rs"]
mod setup;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use counted::CountedServer;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value as Json;
use tokio::net::TcpListener;

/// How long one scenario may take, Chromium's start included.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

/// The page's own little server: the page and the reference's browser build of npm capnweb.
struct PageServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl PageServer {
    async fn start() -> PageServer {
        // The page serves the reference's browser build out of interop/node_modules.
        setup::install_node_modules();
        let repo = setup::repo();
        let page = std::fs::read(repo.join("interop/browser/page.html")).unwrap();
        let capnweb_js = std::fs::read(repo.join("interop/node_modules/capnweb/dist/index.js"))
            .unwrap_or_else(|e| {
                panic!("the reference's browser build is missing ({e}): run interop/setup.sh")
            });
        let (page, capnweb_js) = (Bytes::from(page), Bytes::from(capnweb_js));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (page, capnweb_js) = (page.clone(), capnweb_js.clone());
                let serve = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                    let (page, capnweb_js) = (page.clone(), capnweb_js.clone());
                    async move {
                        let (status, kind, body) = match request.uri().path() {
                            "/page" => (200, "text/html; charset=utf-8", page),
                            "/capnweb.js" => (200, "text/javascript", capnweb_js),
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
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(stream), serve).await;
                });
            }
        });
        PageServer { addr, task }
    }

    /// The page's origin: `localhost`, not the API's `127.0.0.1`, so another site.
    fn origin(&self) -> String {
        format!("http://localhost:{}", self.addr.port())
    }

    fn url(&self) -> String {
        format!("{}/page", self.origin())
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `scenario` (`attack` or `use`) in Chromium on `page` against the API at `api`, and
/// returns what the page saw.
async fn run_in_chromium(page: &PageServer, scenario: &str, api: &CountedServer) -> Json {
    drive_chromium(&page.url(), scenario, &api.http_url()).await
}

/// Runs `scenario` in Chromium on the page at `page_url`, with `api_url` (see
/// `interop/browser/cross-origin.mjs`), and returns what the page saw.
async fn drive_chromium(page_url: &str, scenario: &str, api_url: &str) -> Json {
    setup::install_browser_tools();
    setup::install_node_modules();
    let mut command = tokio::process::Command::new("node");
    command
        .arg(setup::repo().join("interop/browser/cross-origin.mjs"))
        .arg(page_url)
        .arg(scenario)
        .arg(api_url)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = std::env::var_os("CAPNWEB_BROWSER_SCREENSHOT") {
        command.arg(std::path::Path::new(&dir).join(format!("{scenario}.png")));
    }
    let out = tokio::time::timeout(BROWSER_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| {
            panic!("Chromium did not finish `{scenario}` within {BROWSER_TIMEOUT:?}")
        })
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cross-origin.mjs {scenario} failed ({}):\n{stdout}{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no `result` line from cross-origin.mjs:\n{stdout}{stderr}"));
    let result: Json = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the result line is not JSON ({e}): {line}"));
    println!("{scenario}: {result:#}");
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_site_runs_nothing_by_default() {
    let page = PageServer::start().await;
    let api = CountedServer::start(|server| server).await;
    let seen = run_in_chromium(&page, "attack", &api).await;

    // The server refused all three before anything ran.
    api.assert_nothing_ran("a page of another site");
    // The WebSocket was never opened (403 instead of 101)...
    assert_eq!(seen["websocket"]["outcome"], "closed", "{seen:#}");
    assert_eq!(seen["websocket"]["code"], 1006, "{seen:#}");
    // ...the no-cors POST was sent (the browser does not stop it; the server does)...
    assert_eq!(seen["noCorsPost"]["outcome"], "sent", "{seen:#}");
    assert_eq!(seen["noCorsPost"]["type"], "opaque", "{seen:#}");
    // ...and the CORS POST failed at its preflight.
    assert_eq!(seen["corsPost"]["outcome"], "failed", "{seen:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_an_allowed_origin_calls_over_both_transports() {
    let page = PageServer::start().await;
    let origin = page.origin();
    let api =
        CountedServer::start(|server| server.allow_origin(&origin).allow_credentials(true)).await;
    let seen = run_in_chromium(&page, "use", &api).await;

    assert_eq!(seen["websocket"]["outcome"], "answered", "{seen:#}");
    assert_eq!(
        seen["websocket"]["message"], "[\"resolve\",1,9]",
        "{seen:#}"
    );
    assert_eq!(seen["corsPost"]["outcome"], "answered", "{seen:#}");
    assert_eq!(seen["corsPost"]["status"], 200, "{seen:#}");
    assert_eq!(seen["corsPost"]["body"], "[\"resolve\",1,9]", "{seen:#}");
    assert_eq!(seen["capnweb"]["outcome"], "answered", "{seen:#}");
    assert_eq!(seen["capnweb"]["websocket"], 16, "{seen:#}");
    assert_eq!(seen["capnweb"]["batch"], 25, "{seen:#}");
    assert_eq!(api.counts.calls(), 4);
}

/// The API of the same-origin page: who the token says the caller is.
struct Me {
    user: &'static str,
}

#[capnweb::rpc_target]
impl Me {
    pub fn whoami(&self) -> String {
        self.user.to_owned()
    }
}

/// An HTTP token, as a browser must offer it (base64url without padding).
const PAGE_TOKEN: &str = "YWxpY2U_page-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_served_by_the_server_offers_its_token_as_a_subprotocol() {
    use capnweb::{Refusal, RequestContext, Routes, RpcService, ServeDir};

    setup::install_node_modules();
    let repo = setup::repo();
    // The page and the reference's browser build, from the server the page calls: one origin.
    let files = axum::Router::new()
        .nest_service(
            "/capnweb",
            ServeDir::new(repo.join("interop/node_modules/capnweb/dist")),
        )
        .fallback_service(ServeDir::new(repo.join("interop/browser")));
    let api = RpcService::with_context(|request: &RequestContext| {
        if request.bearer_subprotocol() != Some(PAGE_TOKEN) {
            return Err(Refusal::unauthorized(
                "Offer capnweb.bearer and your token.",
            ));
        }
        request.accept_subprotocol(RequestContext::BEARER_SUBPROTOCOL);
        Ok(MeStub::new(Me { user: "alice" }))
    });
    let open = || MeStub::new(Me { user: "anyone" });
    let routes = Routes::new()
        .route("/api", api)
        .route("/open", open)
        .fallback_service(files);
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let served = tokio::spawn(server.serve(routes));

    let page = format!("http://{addr}/same-origin.html");
    let seen = drive_chromium(&page, "bearer", &format!("http://{addr}#{PAGE_TOKEN}")).await;
    served.abort();

    // Accepted: the 101 named capnweb.bearer (the page reads it as `ws.protocol`).
    assert_eq!(seen["good"]["outcome"], "answered", "{seen:#}");
    assert_eq!(seen["good"]["protocol"], "capnweb.bearer", "{seen:#}");
    assert_eq!(
        seen["good"]["message"], "[\"resolve\",1,\"alice\"]",
        "{seen:#}"
    );
    // Refused before the upgrade (401): the page sees only a failed connection.
    assert_eq!(seen["wrong"]["outcome"], "closed", "{seen:#}");
    assert_eq!(seen["wrong"]["code"], 1006, "{seen:#}");
    // A 101 naming none of the offered subprotocols: Chromium fails the connection.
    assert_eq!(seen["unaccepted"]["outcome"], "closed", "{seen:#}");
    assert_eq!(seen["unaccepted"]["code"], 1006, "{seen:#}");
    // Standard base64 is not an HTTP token: the browser refuses to send it.
    assert_eq!(seen["notAToken"]["outcome"], "threw", "{seen:#}");
    assert_eq!(seen["notAToken"]["error"], "SyntaxError", "{seen:#}");
    // The reference's client on the page's own WebSocket.
    assert_eq!(seen["capnweb"]["outcome"], "answered", "{seen:#}");
    assert_eq!(seen["capnweb"]["whoami"], "alice", "{seen:#}");
}
