//! The page, its assets and the API on one `Server`: a directory of static files (tower-http's
//! `ServeDir`) or any tower service as the routes' fallback, the Cap'n Web endpoint still
//! answering on its path over both transports, with the origin policy.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use capnweb::{Routes, ServeDir, Stub, Value};
use common::*;
use http_body_util::Full;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

const INDEX: &str = "<!doctype html><title>notes</title><script src=\"app.js\"></script>";
const APP: &str = "console.log('hello from app.js');";
const SECRET: &str = "this file is outside the served directory";

/// A fresh directory with `web/index.html`, `web/app.js`, `web/style.css`, and
/// `secret.txt` beside `web/` (which must never be served): the path of `web/`.
fn site() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "static_files-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let web = root.join("web");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), INDEX).unwrap();
    std::fs::write(web.join("app.js"), APP).unwrap();
    std::fs::write(web.join("style.css"), "body { margin: 0 }").unwrap();
    std::fs::write(root.join("secret.txt"), SECRET).unwrap();
    web
}

/// The API: `ping()` answers "pong".
fn api() -> Stub {
    Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("pong")) })
}

async fn serve(routes: Routes) -> SocketAddr {
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(routes));
    addr
}

/// A server with the API at `/rpc` and the site's files at every other path.
async fn start() -> SocketAddr {
    serve(
        Routes::new()
            .route("/rpc", api)
            .fallback_service(ServeDir::new(site())),
    )
    .await
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_their_content_types() {
    let addr = start().await;
    let page = raw_get(addr, "/", &[]).await;
    assert_eq!(page.status, 200, "{}", page.head);
    assert_eq!(header(&page.head, "content-type"), Some("text/html"));
    assert_eq!(page.body, INDEX);
    let index = raw_get(addr, "/index.html", &[]).await;
    assert_eq!((index.status, index.body.as_str()), (200, INDEX));
    let script = raw_get(addr, "/app.js", &[]).await;
    assert_eq!(script.status, 200, "{}", script.head);
    assert_eq!(
        header(&script.head, "content-type"),
        Some("text/javascript")
    );
    assert_eq!(script.body, APP);
    let style = raw_get(addr, "/style.css", &[]).await;
    assert_eq!(header(&style.head, "content-type"), Some("text/css"));
}

#[tokio::test]
async fn a_missing_file_is_404() {
    let addr = start().await;
    for target in ["/missing.js", "/nested/missing.html", "/app.js/extra"] {
        let answer = raw_get(addr, target, &[]).await;
        assert_eq!(answer.status, 404, "{target}: {}", answer.head);
    }
}

#[tokio::test]
async fn no_path_leads_out_of_the_directory() {
    let addr = start().await;
    for target in [
        "/../Cargo.toml",
        "/../secret.txt",
        "/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        "/web/../../secret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
    ] {
        let answer = raw_get(addr, target, &[]).await;
        assert_ne!(answer.status, 200, "{target} was served: {}", answer.body);
        assert!(!answer.body.contains(SECRET), "{target}: {}", answer.body);
        assert!(!answer.body.contains("root:"), "{target}: {}", answer.body);
    }
}

#[tokio::test]
async fn the_api_answers_on_its_path_over_both_transports() {
    let addr = start().await;
    let api: Stub = within(
        "a WebSocket session",
        capnweb::websocket::connect(&format!("ws://{addr}/rpc")),
    )
    .await
    .unwrap();
    assert_eq!(api.call_self(vec![]).await.unwrap(), Value::from("pong"));
    let batch = post(
        &format!("http://{addr}/rpc"),
        "[\"push\",[\"pipeline\",0,[],[]]]\n[\"pull\",1]",
    )
    .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    assert_eq!(batch.body, "[\"resolve\",1,\"pong\"]");
    // A plain GET of the API's path is not Cap'n Web's: the files answer (there is no `rpc`).
    assert_eq!(raw_get(addr, "/rpc", &[]).await.status, 404);
}

#[tokio::test]
async fn without_a_fallback_service_a_plain_get_is_still_405() {
    let addr = serve(Routes::new().route("/rpc", api)).await;
    let answer = raw_get(addr, "/rpc", &[]).await;
    assert_eq!(answer.status, 405, "{}", answer.body);
    assert_eq!(raw_get(addr, "/", &[]).await.status, 404);
    let everywhere = serve(Routes::from(api)).await;
    assert_eq!(raw_get(everywhere, "/", &[]).await.status, 405);
}

/// Opens a WebSocket to `url` from a page at `origin`: the HTTP status of the answer.
async fn upgrade_from(url: &str, origin: &str) -> u16 {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    match within("a handshake", tokio_tungstenite::connect_async(request)).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("no HTTP answer: {e}"),
    }
}

#[tokio::test]
async fn the_origin_policy_still_applies_to_the_api() {
    let addr = start().await;
    let url = format!("ws://{addr}/rpc");
    assert_eq!(upgrade_from(&url, "https://evil.example").await, 403);
    // The page served from this server is of its own origin.
    assert_eq!(upgrade_from(&url, &format!("http://{addr}")).await, 101);
    let batch = send(
        http::Request::post(format!("http://{addr}/rpc"))
            .header("origin", "https://evil.example")
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(
                "[\"push\",[\"pipeline\",0,[],[]]]\n[\"pull\",1]",
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(batch.status, 403, "{}", batch.body);
}

#[tokio::test]
async fn any_tower_service_can_be_the_fallback() {
    // An axum router, answering what it routes and 404 for the rest.
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hello from axum" }))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { format!("echo: {body}") }),
        )
        // The server hands the client's address on.
        .route(
            "/peer",
            axum::routing::get(
                |axum::Extension(peer): axum::Extension<SocketAddr>| async move {
                    peer.ip().to_string()
                },
            ),
        );
    let addr = serve(Routes::new().route("/rpc", api).fallback_service(app)).await;
    let hello = raw_get(addr, "/hello", &[]).await;
    assert_eq!(
        (hello.status, hello.body.as_str()),
        (200, "hello from axum")
    );
    assert_eq!(raw_get(addr, "/nowhere", &[]).await.status, 404);
    assert_eq!(raw_get(addr, "/peer", &[]).await.body, "127.0.0.1");
    // The request's body reaches the service.
    let echo = post(&format!("http://{addr}/echo"), "a body").await;
    assert_eq!(
        (echo.status.as_u16(), echo.body.as_str()),
        (200, "echo: a body")
    );
    let api: Stub = capnweb::websocket::connect(&format!("ws://{addr}/rpc"))
        .await
        .unwrap();
    assert_eq!(api.call_self(vec![]).await.unwrap(), Value::from("pong"));
}

/// A fallback service that fails every request.
#[derive(Clone)]
struct Failing;

impl tower_service::Service<http::Request<capnweb::Body>> for Failing {
    type Response = http::Response<String>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<http::Response<String>, std::io::Error>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::io::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: http::Request<capnweb::Body>) -> Self::Future {
        std::future::ready(Err(std::io::Error::other("the disk is gone")))
    }
}

#[tokio::test]
async fn a_failing_fallback_is_a_500_that_does_not_leak_the_error() {
    let addr = serve(Routes::new().route("/rpc", api).fallback_service(Failing)).await;
    let answer = raw_get(addr, "/page", &[]).await;
    assert_eq!(answer.status, 500, "{}", answer.head);
    assert!(!answer.body.contains("disk"), "{}", answer.body);
    // The server goes on.
    let api: Stub = capnweb::websocket::connect(&format!("ws://{addr}/rpc"))
        .await
        .unwrap();
    assert_eq!(api.call_self(vec![]).await.unwrap(), Value::from("pong"));
}

#[tokio::test]
async fn a_server_with_a_fallback_still_shuts_down_gracefully() {
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let routes = Routes::new()
        .route("/rpc", api)
        .fallback_service(ServeDir::new(site()));
    let serving = tokio::spawn(server.serve_with_shutdown(routes, async {
        let _ = stopped.await;
    }));
    let session = within(
        "a WebSocket session",
        capnweb::websocket::builder(format!("ws://{addr}/rpc")).connect(),
    )
    .await
    .unwrap();
    assert_eq!(raw_get(addr, "/app.js", &[]).await.body, APP);
    stop.send(()).unwrap();
    // The session is told the server is going away, and the server's future ends.
    within("the session's end", session.closed()).await;
    within("the server's end", serving).await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
