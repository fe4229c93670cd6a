//! The origin policy on a real server: a request from a web page of another site (its
//! `Origin` header) is refused with 403 before anything runs, over WebSocket and HTTP batch,
//! unless that origin is the request's own or allowed; CORS for the allowed ones' batches; the
//! same behind a real nginx, with and without trusting its forwarded headers.
//!
//! nginx is Debian's, installed by `interop/browser-setup.sh` when missing.

mod common;
#[path = "origin/counted.rs"]
mod counted;
#[path = "origin/nginx.rs"]
mod nginx;
#[path = "origin/setup.rs"]
mod setup;

use bytes::Bytes;
use capnweb::tls::{ClientTls, ServerTls};
use capnweb::{http_batch, websocket, Refusal, RequestContext, Routes, RpcService, Stub, Value};
use common::{send, within, Answer};
use counted::CountedServer;
use http_body_util::Full;
use nginx::Nginx;

/// One batch: `square(3)` on the main object, and its answer pulled.
const SQUARE_OF_3: &str = "[\"push\",[\"pipeline\",0,[\"square\"],[3]]]\n[\"pull\",1]";

const EVIL: &str = "http://evil.example";

/// A WebSocket upgrade request as a browser sends it, with the user's cookie.
fn upgrade_request(url: &str, extra: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::get(url)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("cookie", "session=alice");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

/// A batch POST as a page's `fetch(url, { method: "POST", mode: "no-cors", body })` sends it:
/// `text/plain`, so no preflight, with the user's cookie.
fn batch_request(url: &str, extra: &[(&str, &str)]) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::post(url)
        .header("content-type", "text/plain;charset=UTF-8")
        .header("cookie", "session=alice");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request
        .body(Full::new(Bytes::from_static(SQUARE_OF_3.as_bytes())))
        .unwrap()
}

/// `square(3)` over a real WebSocket session, sending `origin` if given.
async fn websocket_square(url: &str, origin: Option<&str>) -> Result<Value, capnweb::Error> {
    websocket_square_with(websocket::builder(url), origin).await
}

async fn websocket_square_with(
    mut builder: websocket::ClientBuilder,
    origin: Option<&str>,
) -> Result<Value, capnweb::Error> {
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    let api: Stub = within("a WebSocket session", builder.connect_main()).await?;
    within("a call", api.call("square", vec![Value::from(3)])).await
}

/// `square(3)` over a real HTTP batch, sending `origin` if given.
async fn batch_square(url: &str, origin: Option<&str>) -> Result<Value, capnweb::Error> {
    let mut builder = http_batch::builder(url);
    if let Some(origin) = origin {
        builder = builder.header("origin", origin);
    }
    let client = builder.build()?;
    within(
        "a batch",
        client.main::<Stub>().call("square", vec![Value::from(3)]),
    )
    .await
}

/// Both transports serve a page of `origin`.
async fn assert_served(ws_url: &str, http_url: &str, origin: Option<&str>) {
    let nine = Value::from(9);
    let over_websocket = websocket_square(ws_url, origin).await;
    assert_eq!(
        over_websocket.unwrap_or_else(|e| panic!("WebSocket from {origin:?}: {e}")),
        nine
    );
    let over_batch = batch_square(http_url, origin).await;
    assert_eq!(
        over_batch.unwrap_or_else(|e| panic!("batch from {origin:?}: {e}")),
        nine
    );
}

/// Both transports refuse a page of `origin` with 403, naming it.
async fn assert_refused(http_url: &str, origin: &str) -> Answer {
    let upgrade = send(upgrade_request(http_url, &[("origin", origin)])).await;
    assert_eq!(
        upgrade.status, 403,
        "WebSocket from {origin}: {}",
        upgrade.body
    );
    assert!(upgrade.body.contains(origin), "{}", upgrade.body);
    let batch = send(batch_request(http_url, &[("origin", origin)])).await;
    assert_eq!(batch.status, 403, "batch from {origin}: {}", batch.body);
    assert!(batch.body.contains(origin), "{}", batch.body);
    batch
}

fn assert_no_cors_headers(answer: &Answer) {
    let cors: Vec<_> = answer
        .headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "unexpected CORS headers: {cors:?}");
}

// ---------------------------------------------------------------------------------- refused

#[tokio::test]
async fn a_websocket_from_a_foreign_origin_is_refused_before_the_upgrade() {
    let server = CountedServer::start(|server| server).await;
    let answer = send(upgrade_request(&server.http_url(), &[("origin", EVIL)])).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(!answer.headers.contains_key("upgrade"));
    assert!(
        answer
            .body
            .contains("the origin http://evil.example is not allowed to call this service"),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains("RpcService::allow_origin(\"http://evil.example\")"),
        "{}",
        answer.body
    );
    assert_no_cors_headers(&answer);
    // Our own client sees the same refusal, with the server's words.
    let error = websocket_square(&server.ws_url(), Some(EVIL))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    server.assert_nothing_ran("a foreign WebSocket");
}

#[tokio::test]
async fn a_batch_from_a_foreign_origin_is_refused_before_any_call() {
    let server = CountedServer::start(|server| server).await;
    let answer = send(batch_request(&server.http_url(), &[("origin", EVIL)])).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(
        answer
            .body
            .contains("RpcService::allow_origin(\"http://evil.example\")"),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains("resolve"), "{}", answer.body);
    assert_no_cors_headers(&answer);
    let error = batch_square(&server.http_url(), Some(EVIL))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    server.assert_nothing_ran("a foreign batch");
}

#[tokio::test]
async fn a_null_origin_is_foreign() {
    let server = CountedServer::start(|server| server.allow_origin("http://app.example")).await;
    let answer = assert_refused(&server.http_url(), "null").await;
    assert!(
        answer.body.contains("allow_any_origin()"),
        "{}",
        answer.body
    );
    server.assert_nothing_ran("a null origin");
}

#[tokio::test]
async fn origins_that_only_look_allowed_are_refused() {
    let server = CountedServer::start(|server| {
        server
            .allow_origin("https://app.example.com")
            .allow_origin("https://*.example.com")
    })
    .await;
    for origin in [
        "https://example.com.evil.net",
        "https://evilexample.com",
        "https://example.com",
        "http://app.example.com",
        "https://app.example.com:8443",
    ] {
        assert_refused(&server.http_url(), origin).await;
    }
    server.assert_nothing_ran("look-alike origins");
}

// ----------------------------------------------------------------------------------- served

#[tokio::test]
async fn requests_without_an_origin_are_served_as_before() {
    let server = CountedServer::start(|server| server).await;
    assert_served(&server.ws_url(), &server.http_url(), None).await;
    let answer = send(batch_request(&server.http_url(), &[])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_no_cors_headers(&answer);
    assert_eq!(server.counts.sessions(), 3);
}

#[tokio::test]
async fn a_page_of_the_servers_own_origin_is_served_without_cors_headers() {
    let server = CountedServer::start(|server| server).await;
    let own = server.origin();
    assert_served(&server.ws_url(), &server.http_url(), Some(&own)).await;
    let answer = send(batch_request(&server.http_url(), &[("origin", &own)])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("[\"resolve\",1,9]"), "{}", answer.body);
    assert_no_cors_headers(&answer);
    // The default port of the scheme is the same origin, written or not.
    let host_80 = [("host", "api.example:80"), ("origin", "http://api.example")];
    let answer = send(batch_request(&server.http_url(), &host_80)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn allowed_exact_and_wildcard_origins_are_served() {
    let server = CountedServer::start(|server| {
        server
            .allow_origin("http://app.example")
            .allow_origin("https://*.example.com")
    })
    .await;
    for origin in [
        "http://app.example",
        "https://eu.example.com",
        "https://a.b.example.com",
    ] {
        assert_served(&server.ws_url(), &server.http_url(), Some(origin)).await;
    }
    assert_eq!(server.counts.calls(), 6);
}

#[tokio::test]
async fn any_origin_is_served_when_allowed() {
    let server = CountedServer::start(|server| server.allow_any_origin()).await;
    for origin in ["http://anyone.example", "null"] {
        assert_served(&server.ws_url(), &server.http_url(), Some(origin)).await;
    }
}

#[tokio::test]
async fn a_tls_servers_own_origin_is_https() {
    let names = vec!["localhost".to_owned()];
    let generated = rcgen::generate_simple_self_signed(names).unwrap();
    let cert_pem = generated.cert.pem();
    let tls = ServerTls::from_pem(&cert_pem, generated.signing_key.serialize_pem()).unwrap();
    let server = CountedServer::start(move |server| server.tls(tls)).await;
    let url = format!("wss://localhost:{}/", server.addr.port());
    let client = || {
        let roots = ClientTls::without_built_in_roots().add_root_pem(&cert_pem);
        websocket::builder(url.as_str()).tls(roots.unwrap())
    };
    let https_origin = format!("https://localhost:{}", server.addr.port());
    let served = websocket_square_with(client(), Some(&https_origin)).await;
    assert_eq!(served.unwrap(), Value::from(9));
    let http_origin = format!("http://localhost:{}", server.addr.port());
    let refused = websocket_square_with(client(), Some(&http_origin)).await;
    assert!(refused.unwrap_err().to_string().contains("403"));
}

// ------------------------------------------------------------------------------ the settings

#[tokio::test]
async fn services_take_the_servers_origin_settings_unless_they_set_their_own() {
    let server = CountedServer::start_routes(
        |server| server.allow_origin("http://app.example"),
        |counts| {
            Routes::new()
                .route("/app", counts.service())
                .route("/public", counts.service().allow_any_origin())
                .route(
                    "/partner",
                    counts.service().allow_origin("http://partner.example"),
                )
        },
    )
    .await;
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let ws = |path: &str| format!("ws://{}{path}", server.addr);
    assert_served(&ws("/app"), &url("/app"), Some("http://app.example")).await;
    assert_refused(&url("/app"), "http://partner.example").await;
    assert_served(
        &ws("/public"),
        &url("/public"),
        Some("http://anyone.example"),
    )
    .await;
    assert_served(
        &ws("/partner"),
        &url("/partner"),
        Some("http://partner.example"),
    )
    .await;
    assert_refused(&url("/partner"), "http://app.example").await;
}

#[tokio::test]
async fn forwarded_headers_are_ignored_unless_trusted() {
    let server = CountedServer::start(|server| server).await;
    for proxy_headers in [
        &[
            ("x-forwarded-host", "app.example"),
            ("x-forwarded-proto", "https"),
        ][..],
        &[("forwarded", "for=192.0.2.1;host=app.example;proto=https")][..],
    ] {
        let mut headers = proxy_headers.to_vec();
        headers.push(("origin", "https://app.example"));
        let upgrade = send(upgrade_request(&server.http_url(), &headers)).await;
        assert_eq!(upgrade.status, 403, "{}", upgrade.body);
        let batch = send(batch_request(&server.http_url(), &headers)).await;
        assert_eq!(batch.status, 403, "{}", batch.body);
        assert!(
            batch.body.contains("trust_forwarded_headers(true)"),
            "{}",
            batch.body
        );
    }
    server.assert_nothing_ran("forwarded headers nobody trusts");
}

#[tokio::test]
async fn forwarded_headers_are_honoured_when_trusted() {
    let server = CountedServer::start(|server| server.trust_forwarded_headers(true)).await;
    for proxy_headers in [
        &[
            ("x-forwarded-host", "app.example"),
            ("x-forwarded-proto", "https"),
        ][..],
        &[("forwarded", "for=192.0.2.1;host=app.example;proto=https")][..],
    ] {
        let mut headers = proxy_headers.to_vec();
        headers.push(("origin", "https://app.example"));
        let batch = send(batch_request(&server.http_url(), &headers)).await;
        assert_eq!(batch.status, 200, "{}", batch.body);
        assert_no_cors_headers(&batch);
        // The public origin is the proxy's now: the address behind it is another origin.
        let mut direct = proxy_headers.to_vec();
        let own = server.origin();
        direct.push(("origin", own.as_str()));
        let batch = send(batch_request(&server.http_url(), &direct)).await;
        assert_eq!(batch.status, 403, "{}", batch.body);
    }
    assert_eq!(server.counts.calls(), 2);
}

// ------------------------------------------------------------------------------------- CORS

fn preflight(
    url: &str,
    origin: &str,
    requested_headers: Option<&str>,
) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::options(url)
        .header("origin", origin)
        .header("access-control-request-method", "POST");
    if let Some(headers) = requested_headers {
        request = request.header("access-control-request-headers", headers);
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered() {
    let server = CountedServer::start(|server| server.allow_origin("http://app.example")).await;
    let asked = "content-type, authorization, x-trace";
    let answer = send(preflight(
        &server.http_url(),
        "http://app.example",
        Some(asked),
    ))
    .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let headers = &answer.headers;
    assert_eq!(headers["access-control-allow-origin"], "http://app.example");
    assert_eq!(headers["access-control-allow-methods"], "POST");
    assert_eq!(headers["access-control-allow-headers"], asked);
    assert!(headers.contains_key("access-control-max-age"));
    assert_eq!(headers["vary"], "origin");
    assert!(!headers.contains_key("access-control-allow-credentials"));
    // Without a list of its own, the usual headers are allowed.
    let answer = send(preflight(&server.http_url(), "http://app.example", None)).await;
    let allowed = answer.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("content-type") && allowed.contains("authorization"));
    server.assert_nothing_ran("a preflight");
}

#[tokio::test]
async fn a_preflight_from_a_refused_origin_gets_403_without_cors_headers() {
    let server = CountedServer::start(|server| server.allow_origin("http://app.example")).await;
    let answer = send(preflight(&server.http_url(), EVIL, Some("content-type"))).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains(EVIL), "{}", answer.body);
    assert_no_cors_headers(&answer);
    server.assert_nothing_ran("a refused preflight");
}

#[tokio::test]
async fn an_allowed_origins_batch_names_it_in_cors_headers() {
    let server = CountedServer::start(|server| server.allow_origin("http://app.example")).await;
    let answer = send(batch_request(
        &server.http_url(),
        &[("origin", "http://app.example")],
    ))
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("[\"resolve\",1,9]"), "{}", answer.body);
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://app.example"
    );
    assert_eq!(answer.headers["vary"], "origin");
    assert!(!answer
        .headers
        .contains_key("access-control-allow-credentials"));
}

#[tokio::test]
async fn credentials_are_allowed_only_when_configured() {
    let server = CountedServer::start(|server| {
        server
            .allow_origin("http://app.example")
            .allow_credentials(true)
    })
    .await;
    let answer = send(preflight(&server.http_url(), "http://app.example", None)).await;
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
    let answer = send(batch_request(
        &server.http_url(),
        &[("origin", "http://app.example")],
    ))
    .await;
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://app.example"
    );
}

#[tokio::test]
async fn an_allowed_page_can_read_the_factorys_refusal() {
    let service = RpcService::with_context(|_: &RequestContext| -> Result<Stub, Refusal> {
        Err(Refusal::unauthorized("log in first"))
    })
    .allow_origin("http://app.example");
    let server = CountedServer::start_routes(|server| server, move |_| Routes::from(service)).await;
    let answer = send(batch_request(
        &server.http_url(),
        &[("origin", "http://app.example")],
    ))
    .await;
    assert_eq!(answer.status, 401, "{}", answer.body);
    assert_eq!(answer.body, "log in first");
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "http://app.example"
    );
}

// ---------------------------------------------------------------------------- behind nginx

#[tokio::test]
async fn behind_nginx_the_public_origin_is_own_only_when_forwarded_headers_are_trusted() {
    let untrusting = CountedServer::start(|server| server).await;
    let proxy = Nginx::start(untrusting.addr);
    let public = proxy.origin();
    let answer = assert_refused(&proxy.http_url(), &public).await;
    assert!(
        answer.body.contains("trust_forwarded_headers(true)"),
        "{}",
        answer.body
    );
    untrusting.assert_nothing_ran("the proxy's origin, untrusted");
    drop(proxy);

    let trusting = CountedServer::start(|server| server.trust_forwarded_headers(true)).await;
    let proxy = Nginx::start(trusting.addr);
    let public = proxy.origin();
    assert_served(&proxy.ws_url(), &proxy.http_url(), Some(&public)).await;
    assert_eq!(trusting.counts.calls(), 2, "nginx log:\n{}", proxy.log());
}

#[tokio::test]
async fn behind_nginx_a_foreign_origin_is_refused_on_both_transports() {
    let server = CountedServer::start(|server| server.trust_forwarded_headers(true)).await;
    let proxy = Nginx::start(server.addr);
    assert_refused(&proxy.http_url(), EVIL).await;
    let error = websocket_square(&proxy.ws_url(), Some(EVIL))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    let error = batch_square(&proxy.http_url(), Some(EVIL))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("403"), "{error}");
    server.assert_nothing_ran("a foreign origin through nginx");
}

#[tokio::test]
async fn behind_nginx_websocket_and_batch_calls_succeed() {
    let server = CountedServer::start(|server| server.trust_forwarded_headers(true)).await;
    let proxy = Nginx::start(server.addr);
    // A session of several calls over one proxied WebSocket.
    let api: Stub = within(
        "a WebSocket through nginx",
        websocket::connect(&proxy.ws_url()),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nnginx log:\n{}", proxy.log()));
    for x in 1..=3 {
        let squared = within("a call", api.call("square", vec![Value::from(x)])).await;
        assert_eq!(squared.unwrap(), Value::from(x * x));
    }
    let who = within("a call", api.call("whoami", vec![])).await.unwrap();
    assert_eq!(who, Value::from("nobody"));
    // Batches: our client's, and one as a page would send it (no Origin here: a program).
    let batch = batch_square(&proxy.http_url(), None).await;
    assert_eq!(
        batch.unwrap_or_else(|e| panic!("{e}\nnginx log:\n{}", proxy.log())),
        Value::from(9)
    );
    let answer = send(batch_request(&proxy.http_url(), &[])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("[\"resolve\",1,9]"), "{}", answer.body);
    assert_eq!(server.counts.calls(), 6);
}
