//! [`RequestContext`]: the HTTP request a session was opened with, for the main-object factory,
//! interceptors and methods that need to know who is calling.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue, Method, Uri};

/// How a session reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// One POST: the whole session is one request and its answer.
    HttpBatch,
    /// A WebSocket opened by a GET with `Upgrade: websocket`.
    WebSocket,
}

impl TransportKind {
    /// `"http-batch"` or `"websocket"`, as logs and spans name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::HttpBatch => "http-batch",
            TransportKind::WebSocket => "websocket",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The request that opened a session: its method, URI, headers, and the client's address.
///
/// A server hands it to the main-object factory of
/// [`RpcService::with_context`](crate::RpcService::with_context), which can refuse the request
/// or build a main object for that caller; interceptors see it on every call
/// ([`CallInfo::context`](crate::intercept::CallInfo::context)), and
/// [`Session::request_context`](crate::Session::request_context) returns it. It is cheap to
/// clone (one reference count), so a main object can keep it for its methods.
///
/// ```
/// use capnweb::{RequestContext, TransportKind};
///
/// let request = http::Request::get("/notes?page=2")
///     .header("authorization", "Bearer s3cret")
///     .header("cookie", "theme=dark; session=abc123")
///     .body(())
///     .unwrap();
/// let context = RequestContext::from_request(&request, TransportKind::WebSocket);
/// assert_eq!(context.path(), "/notes");
/// assert_eq!(context.bearer_token(), Some("s3cret"));
/// assert_eq!(context.cookie("session"), Some("abc123"));
/// assert_eq!(context.header("Authorization"), Some("Bearer s3cret"));
/// ```
#[derive(Clone)]
pub struct RequestContext {
    inner: Arc<Parts>,
}

struct Parts {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer_addr: Option<SocketAddr>,
    transport: TransportKind,
}

impl fmt::Debug for RequestContext {
    /// Header values are left out: they may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("method", self.method())
            .field("uri", self.uri())
            .field("headers", &self.headers().keys().collect::<Vec<_>>())
            .field("peer_addr", &self.peer_addr())
            .field("transport", &self.transport())
            .finish()
    }
}

impl RequestContext {
    /// The context of `request`, arriving over `transport`. The peer address is the
    /// request's [`SocketAddr`] extension, if it has one: [`Server`](crate::Server) sets it;
    /// in your own server, insert it (axum's `ConnectInfo` is not read).
    pub fn from_request<B>(request: &http::Request<B>, transport: TransportKind) -> Self {
        RequestContext::new(
            request.method().clone(),
            request.uri().clone(),
            request.headers().clone(),
            request.extensions().get::<SocketAddr>().copied(),
            transport,
        )
    }

    pub(crate) fn new(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        peer_addr: Option<SocketAddr>,
        transport: TransportKind,
    ) -> Self {
        RequestContext {
            inner: Arc::new(Parts {
                method,
                uri: detached_uri(uri),
                headers: detached_headers(headers),
                peer_addr,
                transport,
            }),
        }
    }

    /// The request method: `POST` for HTTP batch, `GET` for a WebSocket.
    pub fn method(&self) -> &Method {
        &self.inner.method
    }

    /// The request URI, as the request line had it (a path and query, usually).
    pub fn uri(&self) -> &Uri {
        &self.inner.uri
    }

    /// The URI's path.
    pub fn path(&self) -> &str {
        self.inner.uri.path()
    }

    /// The URI's query string, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.inner.uri.query()
    }

    /// Every request header.
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The first value of header `name` (case-insensitive), if it is present and visible
    /// ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers.get(name)?.to_str().ok()
    }

    /// The value of cookie `name`, from the `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.inner.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// The client's address, when the server knows it (see [`RequestContext::from_request`]).
    /// Behind a proxy this is the proxy's address: read `X-Forwarded-For` (or `Forwarded`) from
    /// a proxy you trust instead.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr
    }

    /// HTTP batch or WebSocket.
    pub fn transport(&self) -> TransportKind {
        self.inner.transport
    }
}

/// The headers, copied out of whatever buffer they point into. hyper's header values (and a
/// URI's path) are slices of the connection's read buffer: kept as they are, they would keep
/// that whole buffer (8 KiB and more) alive as long as the session that holds the context.
fn detached_headers(headers: HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in &headers {
        let mut detached =
            HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
        detached.set_sensitive(value.is_sensitive());
        copy.append(name.clone(), detached);
    }
    copy
}

/// The URI, copied out of the buffer it may point into (see [`detached_headers`]).
fn detached_uri(uri: Uri) -> Uri {
    Uri::try_from(uri.to_string()).unwrap_or(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_keeps_no_part_of_the_buffer_the_request_was_read_into() {
        // As hyper does: the URI and header values are slices of the connection's buffer.
        let mut text = b"/path".to_vec();
        text.resize(16 * 1024, b'a');
        let buffer = bytes::Bytes::from(text);
        let uri = Uri::from_maybe_shared(buffer.slice(..5)).unwrap();
        let mut headers = HeaderMap::new();
        let mut value = HeaderValue::from_maybe_shared(buffer.slice(5..13)).unwrap();
        value.set_sensitive(true);
        headers.insert("x-token", value);
        assert!(!buffer.is_unique());
        let context =
            RequestContext::new(Method::GET, uri, headers, None, TransportKind::WebSocket);
        assert_eq!(context.path(), "/path");
        assert_eq!(context.headers()["x-token"], "aaaaaaaa");
        assert!(context.headers()["x-token"].is_sensitive());
        assert!(
            buffer.is_unique(),
            "the context still refers to the request's buffer"
        );
    }

    fn context(headers: &[(&str, &str)]) -> RequestContext {
        let mut request = http::Request::post("/rpc");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        RequestContext::from_request(&request.body(()).unwrap(), TransportKind::HttpBatch)
    }

    #[test]
    fn cookies_are_found_in_any_cookie_header() {
        let context = context(&[("cookie", "a=1; b=\"two\""), ("cookie", "c=3")]);
        assert_eq!(context.cookie("a"), Some("1"));
        assert_eq!(context.cookie("b"), Some("two"));
        assert_eq!(context.cookie("c"), Some("3"));
        assert_eq!(context.cookie("d"), None);
    }

    #[test]
    fn only_a_bearer_authorization_gives_a_token() {
        assert_eq!(
            context(&[("authorization", "bearer  t ")]).bearer_token(),
            Some("t")
        );
        assert_eq!(
            context(&[("authorization", "Basic dTpw")]).bearer_token(),
            None
        );
        assert_eq!(context(&[("authorization", "Bearer")]).bearer_token(), None);
        assert_eq!(context(&[]).bearer_token(), None);
    }

    #[test]
    fn debug_output_leaves_header_values_out() {
        let shown = format!("{:?}", context(&[("authorization", "Bearer secret")]));
        assert!(shown.contains("authorization"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
