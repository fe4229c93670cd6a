//! The web app (`cargo run --example web`): a to-do list shared between users, the page and
//! its API served by one `Server`, over WebSocket and (a second way in) WebTransport.
//! `main.rs` runs it; `tests/tests/web_example.rs` drives it in Chromium.

pub mod api;
pub mod board;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use capnweb::webtransport::DevCertificate;
use capnweb::{Routes, ServeDir, Server};
use serde::Serialize;

use api::{Login, LoginStub};
use board::Board;

/// Where the page calls the API: `ws://<the page's host>/rpc`, or `https://HOST:UDP_PORT/rpc`
/// over WebTransport.
pub const RPC_PATH: &str = "/rpc";

/// Where the page reads how to reach the API over WebTransport ([`WebTransportInfo`]).
pub const WEBTRANSPORT_INFO_PATH: &str = "/webtransport.json";

/// What `GET /webtransport.json` answers: the WebTransport URL of the API and the SHA-256 of
/// the server's development certificate (hex), for the page's `serverCertificateHashes`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebTransportInfo {
    pub url: String,
    pub certificate_hash: String,
}

/// The page, its script and its style: `static/`, beside this file.
pub fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/static")
}

/// Serves WebTransport on `server` too: a free UDP port on its address, with a development
/// certificate made now (it lasts 13 days; a browser trusts it by its hash). The WebTransport
/// endpoint is another origin (`https://HOST:UDP_PORT`), so the page's own origins are
/// allowed there: `http://HOST:PORT` and `http://localhost:PORT` (WebTransport needs a secure
/// context, which a plain-HTTP page is only on a loopback host). These origins were already
/// the server's own for WebSocket, so nothing changes there.
pub fn with_webtransport(server: Server) -> Result<(Server, WebTransportInfo), capnweb::Error> {
    let tcp = server.local_addr();
    // A server on every interface is reached (and its page opened) on loopback.
    let ip = match tcp.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let page = SocketAddr::new(ip, tcp.port());
    let cert = DevCertificate::generate()?;
    let server = server
        .allow_origin(&format!("http://{page}"))
        .allow_origin(&format!("http://localhost:{}", tcp.port()))
        .webtransport(SocketAddr::new(tcp.ip(), 0), &cert)?;
    let udp = server
        .webtransport_addr()
        .map_or(SocketAddr::new(ip, 0), |udp| {
            SocketAddr::new(ip, udp.port())
        });
    let info = WebTransportInfo {
        url: format!("https://{udp}{RPC_PATH}"),
        certificate_hash: cert.sha256_hex(),
    };
    Ok((server, info))
}

/// The API at `/rpc` (each session starts at `Login`), and the page at every other path; with
/// `webtransport`, `GET /webtransport.json` says how to reach the API that way.
pub fn routes(board: Arc<Board>, webtransport: Option<WebTransportInfo>) -> Routes {
    let mut page = Router::new();
    if let Some(info) = webtransport {
        page = page.route(
            WEBTRANSPORT_INFO_PATH,
            get(move || std::future::ready(Json(info.clone()))),
        );
    }
    Routes::new()
        .route(RPC_PATH, move || {
            LoginStub::new(Login::new(Arc::clone(&board)))
        })
        .fallback_service(page.fallback_service(ServeDir::new(static_dir())))
}
