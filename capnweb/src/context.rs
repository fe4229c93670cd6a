//! [`RequestContext`]: the HTTP request a session was opened with, for the main-object factory,
//! interceptors and methods that need to know who is calling.

mod header_block;
mod subprotocol;

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

use header_block::HeaderBlock;
#[cfg(feature = "websocket")]
pub(crate) use subprotocol::is_token;

/// How a session reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportKind {
    /// One POST: the whole session is one request and its answer.
    HttpBatch,
    /// A WebSocket opened by a GET with `Upgrade: websocket`.
    WebSocket,
    /// A WebTransport session (HTTP/3 over QUIC) opened by an extended CONNECT.
    WebTransport,
}

impl TransportKind {
    /// `"http-batch"`, `"websocket"` or `"webtransport"`, as logs and spans name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::HttpBatch => "http-batch",
            TransportKind::WebSocket => "websocket",
            TransportKind::WebTransport => "webtransport",
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

/// What a context holds. Every idle WebSocket session keeps one, so it is kept small: the
/// headers packed in one allocation, and a `HeaderMap` made of them only if asked for.
struct Parts {
    method: Method,
    uri: Uri,
    headers: HeaderBlock,
    /// `headers` as a `HeaderMap`, made at the first call to [`RequestContext::headers`].
    header_map: OnceLock<Box<HeaderMap>>,
    peer_addr: Option<SocketAddr>,
    transport: TransportKind,
    /// The WebSocket subprotocol the factory accepted, which the 101 names.
    subprotocol: OnceLock<Box<str>>,
}

impl fmt::Debug for RequestContext {
    /// Header values are left out: they may hold credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = Vec::new();
        for field in self.inner.headers.iter() {
            if !names.contains(&field.name) {
                names.push(field.name);
            }
        }
        f.debug_struct("RequestContext")
            .field("method", self.method())
            .field("uri", self.uri())
            .field("headers", &names)
            .field("peer_addr", &self.peer_addr())
            .field("transport", &self.transport())
            .finish()
    }
}

impl RequestContext {
    /// The subprotocol a client offers before its bearer token, `["capnweb.bearer", token]`:
    /// see [`bearer_subprotocol`](RequestContext::bearer_subprotocol).
    pub const BEARER_SUBPROTOCOL: &'static str = subprotocol::BEARER_SUBPROTOCOL;

    /// The context of `request`, arriving over `transport`. The peer address is the
    /// request's [`SocketAddr`] extension, if it has one: [`Server`](crate::Server) sets it;
    /// in your own server, insert it (axum's `ConnectInfo` is not read).
    pub fn from_request<B>(request: &http::Request<B>, transport: TransportKind) -> Self {
        RequestContext::new(
            request.method().clone(),
            request.uri(),
            request.headers(),
            request.extensions().get::<SocketAddr>().copied(),
            transport,
        )
    }

    /// Copies what it keeps: hyper's header values (and a URI's path) are slices of the
    /// connection's read buffer, which would otherwise live (8 KiB and more) as long as the
    /// session that holds the context.
    pub(crate) fn new(
        method: Method,
        uri: &Uri,
        headers: &HeaderMap,
        peer_addr: Option<SocketAddr>,
        transport: TransportKind,
    ) -> Self {
        RequestContext {
            inner: Arc::new(Parts {
                method,
                uri: detached_uri(uri),
                headers: HeaderBlock::new(headers),
                header_map: OnceLock::new(),
                peer_addr,
                transport,
                subprotocol: OnceLock::new(),
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

    /// Every request header. (The context keeps them packed; the map is made at the first
    /// call and kept. [`header`](RequestContext::header), [`cookie`](RequestContext::cookie)
    /// and [`bearer_token`](RequestContext::bearer_token) need no map.)
    pub fn headers(&self) -> &HeaderMap {
        self.inner
            .header_map
            .get_or_init(|| Box::new(self.inner.headers.to_map()))
    }

    /// The first value of header `name` (case-insensitive), if it is present and visible
    /// ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        visible_ascii(self.inner.headers.get(name)?)
    }

    /// The value of cookie `name`, from the `Cookie` headers.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .get_all("cookie")
            .filter_map(visible_ascii)
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.trim_matches('"'))
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// The WebSocket subprotocols the client offered (`Sec-WebSocket-Protocol`, in every such
    /// header, comma-separated), in its order. None for HTTP batch.
    ///
    /// A browser offers them with `new WebSocket(url, ["chat.v2", "chat.v1"])`, and then
    /// **fails the connection unless the server's 101 names one of them**: the factory accepts
    /// one with [`accept_subprotocol`](RequestContext::accept_subprotocol). (A client that
    /// offers none needs nothing accepted.)
    ///
    /// ```
    /// use capnweb::{RequestContext, TransportKind};
    ///
    /// let request = http::Request::get("/rpc")
    ///     .header("sec-websocket-protocol", "chat.v2, chat.v1")
    ///     .body(())
    ///     .unwrap();
    /// let context = RequestContext::from_request(&request, TransportKind::WebSocket);
    /// assert_eq!(context.subprotocols().collect::<Vec<_>>(), ["chat.v2", "chat.v1"]);
    /// ```
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> {
        subprotocol::offered(
            self.inner
                .headers
                .get_all("sec-websocket-protocol")
                .filter_map(visible_ascii),
        )
    }

    /// Accepts the WebSocket subprotocol `name`, which the server's 101 answer then names
    /// (`Sec-WebSocket-Protocol: name`), as a client that offered subprotocols requires. Call
    /// it in the main-object factory of
    /// [`RpcService::with_context`](crate::RpcService::with_context); later it changes
    /// nothing.
    ///
    /// Returns whether `name` is the accepted one now: `false` if the client did not offer it
    /// (a server must name only an offered one: a browser fails the connection otherwise) or
    /// another one was accepted first. Names match exactly, case included.
    ///
    /// If the client offered subprotocols and none is accepted, the 101 names none, as RFC
    /// 6455 says; Chromium, Firefox and Safari then fail the connection (the page sees only an
    /// `error` event and close code 1006), so accept one or refuse the request.
    ///
    /// ```
    /// use capnweb::{Refusal, RequestContext, RpcService, Stub, Value};
    ///
    /// let service = RpcService::with_context(|request: &RequestContext| {
    ///     // This API speaks "notes.v1"; a client that asks for anything else is turned away.
    ///     if request.subprotocols().next().is_some() && !request.accept_subprotocol("notes.v1") {
    ///         let why = "this server speaks the subprotocol notes.v1";
    ///         return Err(Refusal::new(http::StatusCode::BAD_REQUEST, why));
    ///     }
    ///     Ok(Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello")) }))
    /// });
    /// # let _ = service;
    /// ```
    pub fn accept_subprotocol(&self, name: &str) -> bool {
        if !self.subprotocols().any(|offered| offered == name) {
            return false;
        }
        self.inner.subprotocol.get_or_init(|| name.into()).as_ref() == name
    }

    /// The subprotocol accepted with [`accept_subprotocol`](RequestContext::accept_subprotocol),
    /// if one was.
    pub fn accepted_subprotocol(&self) -> Option<&str> {
        self.inner.subprotocol.get().map(AsRef::as_ref)
    }

    /// A bearer token offered as a WebSocket subprotocol, for browsers (which cannot set
    /// `Authorization` on a WebSocket): the subprotocol right after
    /// [`capnweb.bearer`](RequestContext::BEARER_SUBPROTOCOL) in the client's offer, as
    /// `new WebSocket(url, ["capnweb.bearer", token])` sends it.
    ///
    /// Accept [`RequestContext::BEARER_SUBPROTOCOL`] (never the token: the 101 would echo the secret, and the
    /// client offered `capnweb.bearer` to have it named) when the token is good, as below.
    ///
    /// Limits of the convention:
    /// - A subprotocol is an HTTP token: letters, digits and ``!#$%&'*+-.^_`|~``. Base64url
    ///   without padding (JWTs are) and hex fit; standard base64 (`/`, `=`) and other
    ///   characters make the browser's `new WebSocket` throw a `SyntaxError`.
    /// - The header is sent in clear on `ws://` and, like any header, may be logged by
    ///   proxies: use `wss://` and short-lived tokens.
    /// - A token that is not an HTTP token is not returned.
    ///
    /// ```
    /// use capnweb::{Refusal, RequestContext, RpcService, Stub, Value};
    ///
    /// let service = RpcService::with_context(|request: &RequestContext| {
    ///     let token = request.bearer_subprotocol().or(request.bearer_token());
    ///     if token != Some("alice-token") {
    ///         return Err(Refusal::unauthorized("send a valid token"));
    ///     }
    ///     request.accept_subprotocol(RequestContext::BEARER_SUBPROTOCOL);
    ///     Ok(Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello, alice")) }))
    /// });
    ///
    /// let request = http::Request::get("/rpc")
    ///     .header("sec-websocket-protocol", "capnweb.bearer, alice-token")
    ///     .body(())
    ///     .unwrap();
    /// let context = RequestContext::from_request(&request, capnweb::TransportKind::WebSocket);
    /// assert_eq!(context.bearer_subprotocol(), Some("alice-token"));
    /// ```
    pub fn bearer_subprotocol(&self) -> Option<&str> {
        let mut offered = self.subprotocols();
        offered.find(|name| *name == Self::BEARER_SUBPROTOCOL)?;
        offered
            .next()
            .filter(|token| *token != Self::BEARER_SUBPROTOCOL && subprotocol::is_token(token))
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

/// `value` as a str if it is visible ASCII or tabs, as `HeaderValue::to_str` has it.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    let visible = value.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
    visible.then(|| std::str::from_utf8(value).ok()).flatten()
}

/// The URI, copied (to exactly its length) out of the buffer it may point into.
fn detached_uri(uri: &Uri) -> Uri {
    Uri::from_maybe_shared(Bytes::copy_from_slice(uri.to_string().as_bytes()))
        .unwrap_or_else(|_| uri.clone())
}

/// A header map holding `pairs` in order, for the unit tests of the modules that read headers.
#[cfg(test)]
pub(crate) fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        let name = http::HeaderName::from_bytes(name.as_bytes()).expect("a valid header name");
        let value = http::HeaderValue::from_str(value).expect("a valid header value");
        headers.append(name, value);
    }
    headers
}

#[cfg(test)]
impl RequestContext {
    /// What the context keeps on the heap, counted from the capacity of what it holds.
    fn retained_bytes(&self) -> usize {
        // Every field is named, so a new one cannot be left out of the count.
        let Parts {
            method,
            uri,
            headers,
            header_map,
            peer_addr: _,
            transport: _,
            subprotocol,
        } = &*self.inner;
        let map = header_map.get().map_or(0, |map| {
            let entry =
                std::mem::size_of::<http::HeaderName>() + std::mem::size_of::<http::HeaderValue>();
            std::mem::size_of::<HeaderMap>()
                + map.capacity() * entry
                + map.iter().map(|(_, value)| value.len()).sum::<usize>()
        });
        // The Arc: two counts and the parts.
        2 * std::mem::size_of::<usize>()
            + std::mem::size_of::<Parts>()
            + method.as_str().len()
            + uri.to_string().len()
            + headers.heap_bytes()
            + subprotocol.get().map_or(0, |name| name.len())
            + map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http::HeaderValue;

    /// What a browser sends to open a WebSocket (Chromium's headers, with a session cookie).
    const BROWSER_UPGRADE: &str = "GET /api?room=7 HTTP/1.1\r\n\
        Host: app.example.com\r\n\
        Connection: Upgrade\r\n\
        Pragma: no-cache\r\n\
        Cache-Control: no-cache\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n\
        Upgrade: websocket\r\n\
        Origin: https://app.example.com\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\n\
        Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n\
        Cookie: session=4f9c2e1d8b7a6f5e4d3c2b1a0f9e8d7c; theme=dark; _ga=GA1.1.123456789.1700000000\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

    /// The request's URI and headers as hyper leaves them: slices of the buffer the request
    /// was read into (16 KiB, as hyper's grows to), and that buffer.
    fn read_as_hyper_does(request: &str) -> (Uri, HeaderMap, Bytes) {
        let mut text = request.as_bytes().to_vec();
        text.resize(16 * 1024, 0);
        let buffer = Bytes::from(text);
        let slice = |part: &str| {
            let start = part.as_ptr() as usize - request.as_ptr() as usize;
            buffer.slice(start..start + part.len())
        };
        let mut lines = request.split("\r\n");
        let target = lines.next().unwrap().split(' ').nth(1).unwrap();
        let uri = Uri::from_maybe_shared(slice(target)).unwrap();
        let mut headers = HeaderMap::new();
        for line in lines.take_while(|line| !line.is_empty()) {
            let (name, value) = line.split_once(": ").unwrap();
            let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            headers.append(name, HeaderValue::from_maybe_shared(slice(value)).unwrap());
        }
        (uri, headers, buffer)
    }

    #[test]
    fn the_context_keeps_no_part_of_the_buffer_the_request_was_read_into() {
        let (uri, mut headers, buffer) = read_as_hyper_does(BROWSER_UPGRADE);
        let mut token = HeaderValue::from_maybe_shared(buffer.slice(0..3)).unwrap();
        token.set_sensitive(true);
        headers.insert("x-token", token);
        let context =
            RequestContext::new(Method::GET, &uri, &headers, None, TransportKind::WebSocket);
        drop((uri, headers));
        assert!(
            buffer.is_unique(),
            "the context still refers to the request's buffer"
        );
        assert_eq!(context.path(), "/api");
        assert_eq!(context.query(), Some("room=7"));
        assert_eq!(context.headers()["x-token"], "GET");
        assert!(context.headers()["x-token"].is_sensitive());
    }

    #[test]
    fn a_browsers_context_keeps_little_more_than_the_header_text() {
        let (uri, headers, buffer) = read_as_hyper_does(BROWSER_UPGRADE);
        let text: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum::<usize>()
            + uri.to_string().len();
        let context =
            RequestContext::new(Method::GET, &uri, &headers, None, TransportKind::WebSocket);
        drop((uri, headers, buffer));
        // A copy as a HeaderMap alone took about 3 KiB for these 13 headers (a table entry of
        // over 100 bytes each, 24 of them, and an allocation per value).
        let retained = context.retained_bytes();
        assert!(
            retained <= text + 384,
            "the context keeps {retained} bytes for {text} bytes of URI and headers"
        );
        // Reading headers the usual ways makes no map.
        assert_eq!(context.cookie("theme"), Some("dark"));
        assert_eq!(context.header("origin"), Some("https://app.example.com"));
        assert_eq!(context.bearer_token(), None);
        assert_eq!(context.retained_bytes(), retained);
        // Asking for the map makes it (and it is counted).
        assert_eq!(context.headers()["sec-websocket-version"], "13");
        assert!(context.retained_bytes() > retained);
    }

    #[test]
    fn the_header_map_is_the_requests() {
        let request = http::Request::get("/")
            .header("x-b", "2")
            .header("x-a", "1")
            .header("x-b", "3")
            .header("x-opaque", HeaderValue::from_bytes(b"caf\xe9").unwrap())
            .body(())
            .unwrap();
        let context = RequestContext::from_request(&request, TransportKind::WebSocket);
        assert_eq!(context.headers(), request.headers());
        let order = |map: &HeaderMap| {
            map.iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(order(context.headers()), order(request.headers()));
        assert_eq!(context.header("X-B"), Some("2"));
        assert_eq!(context.header("x-opaque"), None, "not visible ASCII");
        let shown = format!("{context:?}");
        assert!(
            shown.contains(r#"headers: ["x-b", "x-a", "x-opaque"]"#),
            "{shown}"
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
