//! Accepting a WebSocket on an HTTP request: the handshake, then the session on the upgraded
//! connection.

use std::time::Duration;

use bytes::Bytes;
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::request::{has_token, RequestLimits};
use super::{shutdown_requested, Lifecycle};
use crate::context::RequestContext;
use crate::session::{Session, SessionOptions};
use crate::stub::Stub;
use crate::transport::read_ahead::ReadAhead;
use crate::transport::responses::text_response;
use crate::transport::websocket;

/// How long a shutting-down server waits for a WebSocket session's calls to finish, and then
/// for the session to end after saying so.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What the 101 answer names: the client's key, answered, and the subprotocol accepted.
pub(super) struct Handshake {
    pub(super) accept_key: HeaderValue,
    pub(super) subprotocol: Option<HeaderValue>,
}

/// The subprotocol the factory accepted (see [`RequestContext::accept_subprotocol`]), for the
/// 101 answer. A client that offered some and gets none fails the connection if it is a
/// browser: the log says so.
pub(super) fn subprotocol(context: &RequestContext) -> Option<HeaderValue> {
    if let Some(name) = context.accepted_subprotocol() {
        // An offered subprotocol is visible ASCII, so a header value.
        return HeaderValue::from_str(name).ok();
    }
    if context.subprotocols().next().is_some() {
        tracing::debug!(
            path = context.path(),
            "the client offered WebSocket subprotocols and the factory accepted none: the 101 \
             names none, and a browser fails such a connection (accept one with \
             RequestContext::accept_subprotocol)"
        );
    }
    None
}

/// Accepts a checked handshake: 101, and the session starts on the upgraded connection with
/// `main`; or a response saying why it cannot.
pub(super) fn accept(
    request: &mut http::request::Parts,
    handshake: Handshake,
    main: Stub,
    options: SessionOptions,
    limits: RequestLimits,
    lifecycle: Option<Lifecycle>,
) -> Response<Full<Bytes>> {
    let Some(on_upgrade) = request.extensions.remove::<OnUpgrade>() else {
        return text_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "This server cannot upgrade connections to WebSockets (serve it with HTTP upgrades \
             enabled)."
                .into(),
        );
    };
    let start = Box::new(SessionStart {
        on_upgrade,
        main,
        options,
        limits,
    });
    tokio::spawn(run_session(start, lifecycle));
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(SEC_WEBSOCKET_ACCEPT, handshake.accept_key);
    if let Some(subprotocol) = handshake.subprotocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, subprotocol);
    }
    response
}

/// Checks a handshake request (RFC 6455, 4.2.1): the `Sec-WebSocket-Accept` value, or why
/// it is refused (see [`refusal_response`]).
pub(super) fn check_handshake(request: &http::request::Parts) -> Result<HeaderValue, BadHandshake> {
    check(&request.method, &request.headers)
}

/// Why a handshake was refused: the status, and what was wrong.
pub(super) type BadHandshake = (StatusCode, &'static str);

fn check(method: &Method, headers: &HeaderMap) -> Result<HeaderValue, BadHandshake> {
    if method != Method::GET {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade must be a GET request",
        ));
    }
    if !has_token(headers, CONNECTION, "upgrade") {
        return Err((
            StatusCode::BAD_REQUEST,
            "the Connection header must include \"Upgrade\"",
        ));
    }
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err((
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        ));
    }
    let key = headers.get(SEC_WEBSOCKET_KEY).ok_or((
        StatusCode::BAD_REQUEST,
        "the Sec-WebSocket-Key header is missing",
    ))?;
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "the Sec-WebSocket-Key header is not usable",
        )
    })
}

/// The response for a refused handshake.
pub(super) fn refusal_response((status, why): BadHandshake) -> Response<Full<Bytes>> {
    let mut response = text_response(status, format!("Bad WebSocket handshake: {why}."));
    if status == StatusCode::UPGRADE_REQUIRED {
        response
            .headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
    }
    response
}

/// What a session starts from once its connection is upgraded.
struct SessionStart {
    on_upgrade: OnUpgrade,
    main: Stub,
    options: SessionOptions,
    limits: RequestLimits,
}

/// Runs a WebSocket session on the upgraded connection until it ends or the server shuts down.
///
/// The task lives as long as the session, idle ones included, so it holds only what the wait
/// needs: starting and shutting down run in futures of their own, boxed and freed when done
/// (inline, their state made every session's task 1,408 bytes instead of 640).
async fn run_session(start: Box<SessionStart>, mut lifecycle: Option<Lifecycle>) {
    let Some(session) = Box::pin(start_session(*start)).await else {
        return;
    };
    tokio::select! {
        why = session.closed() => {
            tracing::debug!(reason = %why, "a WebSocket session ended");
        }
        () = shutdown_requested(lifecycle.as_mut()) => {
            Box::pin(close_for_shutdown(&session)).await;
        }
    }
    // Only now is the session over for the server's shutdown.
    drop(lifecycle);
}

/// The session on the upgraded connection, or `None` if the upgrade did not complete.
async fn start_session(start: SessionStart) -> Option<Session> {
    let upgraded = match start.on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            tracing::debug!(error = %e, "a WebSocket upgrade did not complete");
            return None;
        }
    };
    let config = websocket::config(&start.options);
    let ws = WebSocketStream::from_raw_socket(
        ReadAhead::new(TokioIo::new(upgraded)),
        Role::Server,
        Some(config),
    )
    .await;
    let limits = start.limits;
    let transport =
        websocket::WebSocketTransport::new(ws).keepalive(limits.ping_interval, limits.ping_timeout);
    Some(Session::new(transport, Some(start.main), start.options))
}

/// Ends `session` for a server that shuts down: calls in flight get a while to finish (no new
/// ones are taken), then the client is told why the session ends (close code 1001).
async fn close_for_shutdown(session: &Session) {
    let why = "the server is shutting down";
    if tokio::time::timeout(CLOSE_GRACE, session.shut_down(why))
        .await
        .is_err()
    {
        session.go_away(why);
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, session.closed()).await;
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::super::request::is_websocket_request;
    use super::*;

    fn check_handshake(request: &Request<()>) -> Result<HeaderValue, BadHandshake> {
        check(request.method(), request.headers())
    }

    fn request(headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::get("/");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    const GOOD: [(&str, &str); 4] = [
        ("Upgrade", "websocket"),
        ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn a_good_handshake_gets_the_rfc_accept_key() {
        let accept = check_handshake(&request(&GOOD)).unwrap();
        // The example from RFC 6455, section 1.3.
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn a_handshake_without_a_key_is_refused() {
        let (status, why) = check_handshake(&request(&GOOD[..3])).unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(why.contains("Sec-WebSocket-Key"), "{why}");
    }

    #[test]
    fn an_old_version_is_refused_with_the_supported_one() {
        let mut headers = GOOD;
        headers[2] = ("Sec-WebSocket-Version", "8");
        let refusal = refusal_response(check_handshake(&request(&headers)).unwrap_err());
        assert_eq!(refusal.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(refusal.headers()[SEC_WEBSOCKET_VERSION], "13");
    }

    #[test]
    fn upgrade_tokens_are_matched_case_insensitively() {
        assert!(is_websocket_request(&request(&[("Upgrade", "WebSocket")])));
        assert!(!is_websocket_request(&request(&[("Upgrade", "h2c")])));
    }
}
