//! What a request asks for, read the same way by every part of the server (an upgrade to a
//! WebSocket, a token in a header), and the time limits it is served under.

use std::time::Duration;

use http::header::UPGRADE;
use http::{HeaderMap, Request};

/// The time limits of one request or session.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestLimits {
    /// Reading a request's body.
    pub(crate) body: Duration,
    /// An HTTP batch, from its body read to its answer.
    pub(crate) batch: Duration,
    /// A WebSocket session pings a peer silent for this long...
    pub(crate) ping_interval: Duration,
    /// ...and gives it up if the silence lasts this much longer.
    pub(crate) ping_timeout: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            body: Duration::from_secs(30),
            batch: Duration::from_secs(30),
            ping_interval: Duration::from_secs(30),
            ping_timeout: Duration::from_secs(30),
        }
    }
}

/// Whether the request asks for a WebSocket (`Upgrade: websocket`).
pub(crate) fn is_websocket_request<B>(request: &Request<B>) -> bool {
    has_token(request.headers(), UPGRADE, "websocket")
}

/// Whether a comma-separated header holds `token` (case-insensitive), in any of its lines.
pub(crate) fn has_token(headers: &HeaderMap, name: http::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}
