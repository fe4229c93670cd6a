//! WebTransport beside HTTP: a QUIC endpoint on a UDP port, serving the server's routes.
//!
//! Each connection is handled in its own task: the QUIC handshake, HTTP/3's settings and the
//! CONNECT request within the header read timeout; then the route for the request's path, the
//! origin policy and the main-object factory decide, as they do for a WebSocket upgrade (a
//! refusal is the CONNECT's status, 404 or 403, say); then the client's bidirectional stream
//! (within the idle timeout), and the session on it until it ends or the server shuts down.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Uri};
use tokio::sync::Semaphore;
use web_transport_quinn::quinn;

use super::forwarded::{ConnectionScheme, Scheme};
use super::routes::Endpoint as HttpEndpoint;
use super::{shutdown_requested, ConnectionSlot, Counters, Lifecycle};
use crate::error::{Error, TransportError};
use crate::session::Session;
use crate::transport::webtransport::{self, Certificate};

/// How long a shutting-down server waits for a session's calls to finish, and then for the
/// session to end after saying so.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// How long a refused client has to read the refusal before its connection is closed.
const REJECT_LINGER: Duration = Duration::from_secs(2);

/// A server's WebTransport endpoint, bound and waiting to serve.
pub(crate) struct WebTransportEndpoint {
    endpoint: quinn::Endpoint,
    pub(super) local_addr: SocketAddr,
}

impl std::fmt::Debug for WebTransportEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebTransportEndpoint")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

/// The QUIC settings of a server's connections.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebTransportSettings {
    /// A connection that hears nothing from its client for this long ends (the server pings
    /// it after a third of this without traffic, so only a client that is gone is silent).
    pub(crate) idle_timeout: Duration,
}

impl Default for WebTransportSettings {
    fn default() -> Self {
        WebTransportSettings {
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl WebTransportEndpoint {
    /// Binds `addr` (UDP) with `certificate`.
    pub(crate) fn bind(
        addr: SocketAddr,
        certificate: Certificate,
        settings: WebTransportSettings,
    ) -> Result<WebTransportEndpoint, Error> {
        let (chain, key) = certificate.into_parts();
        let tls_error = |e: rustls::Error| {
            Error::Transport(TransportError::with_source(
                format!("the WebTransport certificate cannot be used: {e}"),
                e,
            ))
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls_error)?;
        tls.alpn_protocols = vec![web_transport_quinn::ALPN.as_bytes().to_vec()];
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| {
            Error::Transport(TransportError::with_source(
                format!("the TLS configuration cannot serve QUIC: {e}"),
                e,
            ))
        })?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
        // The server keeps each connection alive (a QUIC PING after a third of the idle
        // timeout without traffic), as a WebSocket server pings: a client that is there
        // answers, however quiet its session; one that is gone is given up at the idle
        // timeout.
        let keep_alive = settings.idle_timeout / 3;
        let mut transport = crate::transport::webtransport::transport_config(
            settings.idle_timeout,
            Some(keep_alive),
        );
        // The CONNECT request and the session's stream, and HTTP/3's three one-way streams:
        // a client gets no room to make the server buffer dozens of streams.
        transport
            .max_concurrent_bidi_streams(4u32.into())
            .max_concurrent_uni_streams(8u32.into())
            .receive_window((8u32 * 1024 * 1024).into());
        config.transport_config(Arc::new(transport));
        let endpoint = quinn::Endpoint::server(config, addr).map_err(|e| {
            let what = format!("could not bind UDP {addr} for WebTransport: {e}");
            Error::Transport(TransportError::with_source(what, e))
        })?;
        let local_addr = endpoint.local_addr().map_err(|e| {
            let what = format!("could not read the WebTransport endpoint's address: {e}");
            Error::Transport(TransportError::with_source(what, e))
        })?;
        Ok(WebTransportEndpoint {
            endpoint,
            local_addr,
        })
    }
}

/// What every connection's task needs from the server.
#[derive(Clone)]
struct Shared {
    service: HttpEndpoint,
    handshake_timeout: Duration,
    idle_timeout: Duration,
}

/// Accepts connections until the server shuts down.
pub(super) async fn serve(
    endpoint: WebTransportEndpoint,
    service: HttpEndpoint,
    slots: Arc<Semaphore>,
    stats: Arc<Counters>,
    handshake_timeout: Duration,
    settings: WebTransportSettings,
) {
    let mut lifecycle = service.lifecycle().cloned();
    let shared = Shared {
        service,
        handshake_timeout,
        idle_timeout: settings.idle_timeout,
    };
    loop {
        let incoming = tokio::select! {
            incoming = endpoint.endpoint.accept() => incoming,
            () = shutdown_requested(lifecycle.as_mut()) => break,
        };
        let Some(incoming) = incoming else { break };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            incoming.refuse();
            continue;
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        stats.open.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(ConnectionSlot {
            stats: Arc::clone(&stats),
            _permit: permit,
        });
        let peer = incoming.remote_address();
        let mut shared = shared.clone();
        shared.service = shared.service.for_connection(slot, peer);
        tokio::spawn(serve_connection(incoming, peer, shared));
    }
    // New connections are refused from now on; open ones end with their sessions (each holds
    // the server's shutdown open until then), and the socket with the last of them.
    endpoint.endpoint.set_server_config(None);
    drop((shared, lifecycle));
    let _ = tokio::time::timeout(2 * CLOSE_GRACE, endpoint.endpoint.wait_idle()).await;
}

/// One connection: the handshake, the decision, then the session.
async fn serve_connection(incoming: quinn::Incoming, peer: SocketAddr, shared: Shared) {
    let handshake = async {
        let connection = incoming.await?;
        web_transport_quinn::Request::accept(connection)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
    };
    let request = match tokio::time::timeout(shared.handshake_timeout, handshake).await {
        Ok(Ok(request)) => request,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "a WebTransport handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "a WebTransport handshake did not complete within the header read timeout");
            return;
        }
    };
    let lifecycle = shared.service.connection.lifecycle.clone();
    let uri: Uri = match request.url.as_str().parse() {
        Ok(uri) => uri,
        Err(_) => return reject(request, http::StatusCode::BAD_REQUEST).await,
    };
    let mut headers = request.headers.clone();
    if let Some(authority) = uri.authority() {
        if let Ok(host) = HeaderValue::from_str(authority.as_str()) {
            headers.entry(http::header::HOST).or_insert(host);
        }
    }
    let path = uri.path().to_owned();
    let Some(service) = shared.service.routes.webtransport_service(&path) else {
        tracing::debug!(path, "a WebTransport request for a path with no service");
        return reject(request, http::StatusCode::NOT_FOUND).await;
    };
    let scheme = ConnectionScheme::Known(Scheme::Https);
    let prepared = service.prepare_webtransport(&uri, &headers, Some(peer), scheme);
    let (main, options) = match prepared {
        Ok(prepared) => prepared,
        Err(refusal) => {
            tracing::debug!(path, status = %refusal.status(), origin = ?headers.get(http::header::ORIGIN), "a WebTransport request was refused");
            return reject(request, refusal.status()).await;
        }
    };
    let session = match request.ok().await {
        Ok(session) => session,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "accepting a WebTransport session failed");
            return;
        }
    };
    let accepted = webtransport::accept(session, Some(main), options, shared.idle_timeout);
    let session = match accepted.await {
        Ok(session) => session,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "a WebTransport session did not start");
            return;
        }
    };
    run_session(session, lifecycle).await;
}

/// Answers the CONNECT with `status`, then gives the client a moment to read it and go (a
/// connection dropped at once would lose the answer).
async fn reject(request: web_transport_quinn::Request, status: http::StatusCode) {
    let connection = request.conn().clone();
    if let Err(e) = request.reject(status).await {
        tracing::debug!(error = %e, "refusing a WebTransport request failed");
    }
    let _ = tokio::time::timeout(REJECT_LINGER, connection.closed()).await;
    connection.close(0u32.into(), b"refused");
}

/// Waits for the session to end, or ends it for a server that shuts down.
async fn run_session(session: Session, mut lifecycle: Option<Lifecycle>) {
    tokio::select! {
        why = session.closed() => {
            tracing::debug!(reason = %why, "a WebTransport session ended");
        }
        () = shutdown_requested(lifecycle.as_mut()) => {
            let why = "the server is shutting down";
            if tokio::time::timeout(CLOSE_GRACE, session.shut_down(why)).await.is_err() {
                session.go_away(why);
            }
            let _ = tokio::time::timeout(CLOSE_GRACE, session.closed()).await;
        }
    }
    drop(lifecycle);
}
