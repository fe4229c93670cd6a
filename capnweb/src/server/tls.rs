//! TLS for [`Server`](super::Server): the handshake runs in the connection's own task (a slow
//! client never holds up the accept loop), bounded by the header read timeout; then HTTP is
//! served over the TLS stream exactly as over a plain connection, WebSocket upgrades included.

use std::net::SocketAddr;

use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use super::activity::ConnectionTimeouts;
use super::connection;
use super::routes::Endpoint;
use super::shutdown_requested;

/// Shakes hands on `stream`, then serves HTTP on it; a handshake that fails or takes longer
/// than the header read timeout drops the connection (logged at debug level).
pub(super) async fn serve(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    service: Endpoint,
    timeouts: ConnectionTimeouts,
) {
    let mut lifecycle = service.lifecycle().cloned();
    let handshake = tokio::time::timeout(timeouts.header_read, acceptor.accept(stream));
    let stream = tokio::select! {
        shaken = handshake => match shaken {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "closing a connection: the TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(
                    %peer,
                    "closing a connection: the TLS handshake did not finish within the header read timeout"
                );
                return;
            }
        },
        // Shutting down: a connection that has not finished its handshake has no request to
        // finish.
        () = shutdown_requested(lifecycle.as_mut()) => return,
    };
    connection::serve(stream, peer, service, timeouts).await;
}
