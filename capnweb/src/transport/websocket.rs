//! The WebSocket transport: one text frame per message, over `tokio-tungstenite`.
//!
//! Use [`connect`] for a client that only calls, [`connect_with`] for one that also serves its
//! own main object, a [`ClientBuilder`] for anything more (request headers such as a bearer
//! token, a connect timeout, TLS roots), and [`accept_stream`] to run a session on a WebSocket
//! accepted elsewhere (your own server; [`Server`](crate::Server) and
//! [`RpcService`](crate::RpcService) accept WebSockets for you).
//!
//! ```no_run
//! # async fn example() -> Result<(), capnweb::Error> {
//! use capnweb::{Stub, Value};
//!
//! let api: Stub = capnweb::websocket::connect("ws://127.0.0.1:8080/").await?;
//! let nine = api.call("square", vec![Value::from(3)]).await?;
//! # let _ = nine; Ok(()) }
//! ```
//!
//! Framing: each message is one text frame, as the protocol says. A peer may instead send
//! binary frames, each the UTF-8 text of one or more messages separated by `\n` (py-capnweb's
//! client does; empty lines and `\r\n` endings are tolerated). Once it has, it is answered in
//! kind: the messages of each flush (everything the session had queued at that moment) leave
//! as one binary frame, joined by `\n`. A peer that sends text frames gets one text frame per
//! message. A binary frame is held to the same size limits as a text one.
//!
//! URLs are `ws://` or, with TLS, `wss://` (`http://` and `https://` are read as those). TLS
//! comes from rustls, under the crate's `tls` feature (on by default): a `wss://` server's
//! certificate is checked against the Mozilla roots unless the builder's
//! [`tls`](ClientBuilder::tls) says otherwise (see [`tls`](crate::tls)). Built without the
//! feature, a `wss://` URL fails to connect with an error saying to enable it.
//!
//! Closing: a clean end closes with code 1000; a session that failed closes with 3000 and the
//! error's message (cut to fit a close frame); a frame the WebSocket protocol forbids closes
//! with 1002 (1007 for text that is not UTF-8, 1009 for a message over the limits) and says
//! what was wrong; a server shutting down closes with 1001.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{Sink, Stream};
use http::{HeaderName, HeaderValue};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError, SubProtocolError};
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::lines::{join_lines, snippet, Lines};
use super::read_ahead::ReadAhead;
use super::subprotocols::Subprotocols;
use super::{CloseReason, Transport};
use crate::error::{Error, TransportError};
use crate::session::{Session, SessionOptions};
use crate::stub::{FromStub, Stub};
use crate::transport::client_settings::ClientSettings;
use crate::wire::Limit;

/// The close code for a session that ended with an error (the reference's choice).
const ERROR_CLOSE_CODE: u16 = 3000;

/// A close frame's reason may hold 125 payload bytes less the 2-byte code (RFC 6455, 5.5).
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// The read buffer of each connection. Small, because every idle session holds one (at 2 KiB
/// an idle session costs the server about 7 KiB in all, measured by bench/idle-sessions.sh);
/// a burst of small messages costs a few more reads, not more work per message.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// What is written per system call at most before the session's flush.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Connects to the Cap'n Web server at `url` and returns its main object as `T` (a [`Stub`] or
/// a typed stub). The session runs until nothing from it is held any more (which closes the
/// socket) or the connection ends.
///
/// `url` is `ws://` or `wss://` (`http://` and `https://` are read as those). A `wss://`
/// server's certificate must chain to one of the Mozilla roots
/// ([`ClientTls::new`](crate::tls::ClientTls::new)); for your own roots, headers, a timeout
/// other than 30 s or a main object of the client's own, use a [`ClientBuilder`].
///
/// Errors are [`Error::Transport`], naming the URL and what failed (no server listening, a
/// refused upgrade, an untrusted certificate, an invalid URL).
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// let api: capnweb::Stub = capnweb::websocket::connect("ws://127.0.0.1:8080/").await?;
/// let sum = api.call("add", vec![2.into(), 3.into()]).await?;
/// # let _ = sum; Ok(()) }
/// ```
pub async fn connect<T: FromStub>(url: &str) -> Result<T, Error> {
    ClientBuilder::new(url).connect_main().await
}

/// Connects to `url` and returns the session: both sides can call each other, since the client
/// may serve `local_main` (its own main object) to the server.
///
/// A shorthand for [`ClientBuilder`] with [`local_main`](ClientBuilder::local_main) and
/// [`options`](ClientBuilder::options).
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use capnweb::{SessionOptions, Stub, Value};
///
/// let hello = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello from the client")) });
/// let session = capnweb::websocket::connect_with("ws://127.0.0.1:8080/", Some(hello), SessionOptions::default()).await?;
/// let server = session.main();
/// # let _ = server; Ok(()) }
/// ```
pub async fn connect_with(
    url: &str,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> Result<Session, Error> {
    let mut builder = ClientBuilder::new(url).options(options);
    builder.local_main = local_main;
    builder.connect().await
}

/// A [`ClientBuilder`] for `url`: the same as [`ClientBuilder::new`].
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// let api: capnweb::Stub = capnweb::websocket::builder("wss://rpc.example.com/")
///     .bearer_token("s3cr3t")
///     .connect_main()
///     .await?;
/// # let _ = api; Ok(()) }
/// ```
pub fn builder(url: impl Into<String>) -> ClientBuilder {
    ClientBuilder::new(url)
}

/// A WebSocket client with its settings: extra request headers (e.g. a bearer token), a
/// connect timeout, TLS roots, session options and the client's own main object.
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use std::time::Duration;
/// use capnweb::{Stub, Value};
///
/// let api: Stub = capnweb::websocket::ClientBuilder::new("wss://rpc.example.com/")
///     .header("x-client", "inventory/2.1")
///     .bearer_token("s3cr3t")
///     .connect_timeout(Duration::from_secs(5))
///     .connect_main()
///     .await?;
/// let nine = api.call("square", vec![Value::from(3)]).await?;
/// # let _ = nine; Ok(()) }
/// ```
///
/// The builder is `Clone`: connect again with the same settings by cloning it first.
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct ClientBuilder {
    settings: ClientSettings,
    subprotocols: Subprotocols,
    local_main: Option<Stub>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTls>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut f = f.debug_struct("ClientBuilder");
        f.field("url", &self.settings.url)
            .field("headers", &self.settings.headers)
            .field("subprotocols", &self.subprotocols)
            .field("connect_timeout", &self.settings.connect_timeout)
            .field("options", &self.settings.options)
            .field("local_main", &self.local_main);
        #[cfg(feature = "tls")]
        f.field("tls", &self.tls);
        f.finish()
    }
}

impl ClientBuilder {
    /// A client for the Cap'n Web server at `url`: `ws://` or `wss://` (`http://` and
    /// `https://` are read as those). Nothing is checked or sent until
    /// [`connect`](ClientBuilder::connect).
    ///
    /// ```
    /// let builder = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/rpc");
    /// # let _ = builder;
    /// ```
    pub fn new(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            settings: ClientSettings::new(url),
            subprotocols: Subprotocols::default(),
            local_main: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Adds a header to the upgrade request (a second value for a name already given is
    /// added beside the first; a name the WebSocket request sets itself, such as `Host`, is
    /// replaced). A name or value that is not valid is reported by
    /// [`connect`](ClientBuilder::connect).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let builder = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/")
    ///     .header("x-tenant", "blue")
    ///     .header("bad header name", "x");
    /// let error = builder.connect().await.unwrap_err();
    /// assert!(error.to_string().contains("header name"), "{error}");
    /// # }
    /// ```
    pub fn header<K, V>(mut self, name: K, value: V) -> ClientBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.settings.headers.add(name, value);
        self
    }

    /// Sends `Authorization: Bearer <token>` with the upgrade request (the value is marked
    /// sensitive, so `Debug` does not show it).
    ///
    /// ```
    /// let builder = capnweb::websocket::ClientBuilder::new("wss://rpc.example.com/").bearer_token("s3cr3t");
    /// assert!(!format!("{builder:?}").contains("s3cr3t"));
    /// ```
    pub fn bearer_token(mut self, token: impl std::fmt::Display) -> ClientBuilder {
        self.settings.headers.bearer(token);
        self
    }

    /// Offers the WebSocket subprotocol `name` (`Sec-WebSocket-Protocol`), after any offered
    /// before. The server must accept one of those offered (a `Server` accepts in its factory:
    /// [`RequestContext::accept_subprotocol`](crate::RequestContext::accept_subprotocol)):
    /// [`connect`](ClientBuilder::connect) fails if the 101 names none or one not offered.
    /// A name must be an HTTP token (letters, digits and ``!#$%&'*+-.^_`|~``).
    ///
    /// ```
    /// let builder = capnweb::websocket::ClientBuilder::new("wss://rpc.example.com/")
    ///     .subprotocol("notes.v1");
    /// # let _ = builder;
    /// ```
    pub fn subprotocol(mut self, name: impl Into<String>) -> ClientBuilder {
        self.subprotocols.offer(name.into());
        self
    }

    /// Offers `token` as a browser would, as two subprotocols, `capnweb.bearer` and then the
    /// token (`new WebSocket(url, ["capnweb.bearer", token])`); the server reads it with
    /// [`RequestContext::bearer_subprotocol`](crate::RequestContext::bearer_subprotocol) and
    /// accepts `capnweb.bearer`. For a Rust client, [`bearer_token`](ClientBuilder::bearer_token)
    /// (an `Authorization` header) is simpler; this one is for servers that browsers call
    /// too, or to test one.
    ///
    /// The token must be an HTTP token: base64url without padding (as in a JWT) or hex,
    /// not standard base64 (`/`, `=`); [`connect`](ClientBuilder::connect) says so (without
    /// the token) otherwise. `Debug` does not show it.
    ///
    /// ```
    /// let builder = capnweb::websocket::ClientBuilder::new("wss://rpc.example.com/")
    ///     .bearer_subprotocol("s3cr3t");
    /// assert!(!format!("{builder:?}").contains("s3cr3t"));
    /// ```
    pub fn bearer_subprotocol(mut self, token: impl Into<String>) -> ClientBuilder {
        self.subprotocols.offer_bearer(token.into());
        self
    }

    /// How long connecting may take in all: the TCP connection, the TLS handshake and the
    /// WebSocket upgrade (default 30 s). Past it, [`connect`](ClientBuilder::connect) fails
    /// with an [`Error::Transport`] saying so.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/")
    ///     .connect_timeout(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The session's options (limits, error hook). The WebSocket's own message and frame
    /// limits follow from them.
    ///
    /// ```
    /// use capnweb::{Limits, SessionOptions};
    ///
    /// let builder = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/")
    ///     .options(SessionOptions::default().limits(Limits::default().max_message_size(1 << 20)));
    /// # let _ = builder;
    /// ```
    pub fn options(mut self, options: SessionOptions) -> ClientBuilder {
        self.settings.options = options;
        self
    }

    /// The client's own main object, which the server can call (a [`Stub`] or a typed stub).
    ///
    /// ```
    /// use capnweb::{Stub, Value};
    ///
    /// let hello = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello from the client")) });
    /// let builder = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/").local_main(hello);
    /// # let _ = builder;
    /// ```
    pub fn local_main(mut self, main: impl Into<Stub>) -> ClientBuilder {
        self.local_main = Some(main.into());
        self
    }

    /// How a `wss://` server's certificate is checked (default:
    /// [`ClientTls::new`](crate::tls::ClientTls::new), the Mozilla roots). Not used for `ws://`.
    ///
    /// ```
    /// # fn example(own_ca_pem: &str) -> Result<(), capnweb::Error> {
    /// use capnweb::tls::ClientTls;
    ///
    /// let builder = capnweb::websocket::ClientBuilder::new("wss://internal.example:8443/")
    ///     .tls(ClientTls::without_built_in_roots().add_root_pem(own_ca_pem)?);
    /// # let _ = builder; Ok(()) }
    /// # let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # example(&ca.cert.pem()).unwrap();
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ClientTls) -> ClientBuilder {
        self.tls = Some(tls);
        self
    }

    /// Connects and returns the session (its [`main`](Session::main) is the server's main
    /// object). The session runs until nothing from it is held any more or the connection
    /// ends.
    ///
    /// Errors are [`Error::Transport`], naming the URL and what failed: an invalid URL or
    /// header, no server listening, the timeout, an untrusted certificate, a refused upgrade
    /// (with the status and the start of the answer's body).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), capnweb::Error> {
    /// let session = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/").connect().await?;
    /// let square = session.main().call("square", vec![3.into()]).await?;
    /// # let _ = square; Ok(()) }
    /// ```
    pub async fn connect(self) -> Result<Session, Error> {
        let url = self.settings.url.clone();
        let fail = |what: TransportError| {
            Error::Transport(what.within(format_args!("could not open a WebSocket to {url}")))
        };
        if let Some(e) = self.settings.headers.error() {
            return Err(fail(e.into()));
        }
        let mut request = websocket_url(&self.settings.url)
            .into_client_request()
            .map_err(|e| fail(handshake_error(e, false)))?;
        self.settings.headers.apply(request.headers_mut());
        self.subprotocols
            .apply(request.headers_mut())
            .map_err(|e| fail(e.into()))?;
        let timeout = self.settings.connect_timeout;
        match tokio::time::timeout(timeout, self.open(request)).await {
            Ok(result) => result.map_err(fail),
            Err(_) => Err(fail(format!("did not connect within {timeout:?}").into())),
        }
    }

    /// Connects and returns the server's main object as `T` (a [`Stub`] or a typed stub):
    /// [`connect`](ClientBuilder::connect) then [`Session::main_as`].
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), capnweb::Error> {
    /// let api: capnweb::Stub = capnweb::websocket::ClientBuilder::new("ws://127.0.0.1:8080/")
    ///     .bearer_token("s3cr3t")
    ///     .connect_main()
    ///     .await?;
    /// # let _ = api; Ok(()) }
    /// ```
    pub async fn connect_main<T: FromStub>(self) -> Result<T, Error> {
        Ok(self.connect().await?.main_as())
    }

    /// TCP, then TLS for `wss://`, then the upgrade; the error says which step failed.
    async fn open(self, request: Request) -> Result<Session, TransportError> {
        let uri = request.uri().clone();
        let secure = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            Some(other) => {
                return Err(format!(
                    "the URL's scheme is {other}: a WebSocket URL starts with ws:// or wss://"
                )
                .into())
            }
            None => return Err("the URL has no scheme (ws:// or wss://)".into()),
        };
        let host = uri.host().unwrap_or_default();
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        #[cfg(not(feature = "tls"))]
        if secure {
            return Err(
                "wss:// needs TLS, and this build of capnweb has it off: enable the \
                 `tls` feature of the capnweb crate"
                    .into(),
            );
        }
        // The TLS configuration before any connection: a bad one fails at once.
        #[cfg(feature = "tls")]
        let tls =
            match secure {
                true => Some(self.tls.clone().unwrap_or_default().config().map_err(
                    |e| match e {
                        Error::Transport(what) => what,
                        other => other.to_string().into(),
                    },
                )?),
                false => None,
            };
        let tcp = TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| {
                let what = format!("could not connect to {host}:{port}: {e}");
                TransportError::with_source(what, e)
            })?;
        // Messages are small and latency matters more than packet count.
        let _ = tcp.set_nodelay(true);
        #[cfg(feature = "tls")]
        if let Some(config) = tls {
            let stream = tls_handshake(config, host, tcp).await?;
            return self.upgrade(request, stream, true).await;
        }
        self.upgrade(request, tcp, false).await
    }

    /// The WebSocket upgrade over an open connection, then the session on it.
    async fn upgrade<S>(
        self,
        request: Request,
        stream: S,
        secure: bool,
    ) -> Result<Session, TransportError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (ws, _response) = tokio_tungstenite::client_async_with_config(
            request,
            ReadAhead::new(stream),
            Some(config(&self.settings.options)),
        )
        .await
        .map_err(|e| handshake_error(e, secure))?;
        Ok(accept_stream(ws, self.local_main, self.settings.options))
    }
}

/// The TLS handshake with `host` (a name or an IP address) as the server name.
#[cfg(feature = "tls")]
async fn tls_handshake(
    config: std::sync::Arc<rustls::ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, TransportError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls_pki_types::ServerName::try_from(bare.to_owned()).map_err(|e| {
        let what = format!("{host} cannot be a TLS server name: {e}");
        TransportError::with_source(what, e)
    })?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let what = crate::tls::describe_failure(&e)
                .unwrap_or_else(|| format!("the TLS handshake failed: {e}"));
            TransportError::with_source(what, e)
        })
}

/// Runs a session on a WebSocket that is already open (accepted by your own server, or
/// connected some other way), serving `local_main` to the peer.
///
/// The stream keeps the `tungstenite` configuration it was opened with; its message and frame
/// size limits apply before the session's own [`Limits`](crate::Limits).
///
/// ```no_run
/// # async fn example(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// use capnweb::{SessionOptions, Stub, Value};
///
/// let ws = tokio_tungstenite::accept_async(tcp).await?;
/// let echo = Stub::from_fn(|args: Vec<Value>| async move { Ok(args.into_iter().next().unwrap_or_default()) });
/// let session = capnweb::websocket::accept_stream(ws, Some(echo), SessionOptions::default());
/// let why = session.closed().await;
/// # let _ = why; Ok(()) }
/// ```
pub fn accept_stream<S>(
    ws: WebSocketStream<S>,
    local_main: Option<Stub>,
    options: SessionOptions,
) -> Session
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    Session::new(WebSocketTransport::new(ws), local_main, options)
}

/// The `tungstenite` settings for a session: small buffers, and messages and frames up to
/// the UTF-8 size of the largest message the session's limits allow (each UTF-16 unit is at
/// most 3 bytes), so the session, not the socket, decides what is too large.
pub(crate) fn config(options: &SessionOptions) -> WebSocketConfig {
    let max = options.limits.max_message_size.saturating_mul(3);
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(max))
        .max_frame_size(Some(max))
}

/// Browsers accept `http(s)://` for WebSockets; `tungstenite` wants `ws(s)://`.
fn websocket_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_owned()
    }
}

/// What a failed upgrade says, for the connect error.
fn handshake_error(error: WsError, secure: bool) -> TransportError {
    let what = match &error {
        WsError::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let body = snippet(&body);
            let mut what = format!(
                "the server answered {} instead of accepting the WebSocket upgrade",
                response.status()
            );
            if !body.is_empty() {
                what.push_str(": ");
                what.push_str(&body);
            }
            what
        }
        WsError::Url(e) => format!("the URL is not usable: {e}"),
        WsError::HttpFormat(e) => format!("the URL is not usable: {e}"),
        WsError::Protocol(ProtocolError::HttparseError(e)) if !secure => {
            format!("the server's answer is not HTTP ({e}); if it speaks TLS, use a wss:// URL")
        }
        WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(e)) => {
            let what = match e {
                SubProtocolError::NoSubProtocol => "accepted none of the subprotocols offered",
                SubProtocolError::InvalidSubProtocol => {
                    "accepted a subprotocol that was not offered"
                }
                SubProtocolError::ServerSentSubProtocolNoneRequested => {
                    "accepted a subprotocol, and none was offered"
                }
            };
            format!(
                "the server {what} (a capnweb server accepts one in its main-object factory, \
                 with RequestContext::accept_subprotocol)"
            )
        }
        WsError::Io(e) => format!("the WebSocket upgrade failed: {e}"),
        other => format!("the WebSocket upgrade failed: {other}"),
    };
    TransportError::with_source(what, error)
}

/// A session's transport over one WebSocket: each message is one text frame (or, to a peer
/// that sends binary frames of `\n`-separated messages, each flush is one such frame; see the
/// [module docs](self)).
///
/// Sending writes every message the session queued at once and then flushes once, so calls
/// made together leave in one write. With [`keepalive`](WebSocketTransport::keepalive), an
/// idle connection is pinged, and one that stays silent is given up.
///
/// ```no_run
/// # async fn example(ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) {
/// use std::time::Duration;
/// use capnweb::{websocket::WebSocketTransport, Session, SessionOptions};
///
/// let transport = WebSocketTransport::new(ws).keepalive(Duration::from_secs(30), Duration::from_secs(10));
/// let session = Session::new(transport, None, SessionOptions::default());
/// # let _ = session; }
/// ```
pub struct WebSocketTransport<S> {
    ws: WebSocketStream<S>,
    /// The close frame a WebSocket protocol violation by the peer calls for.
    failure: Option<CloseFrame>,
    /// Our close frame was queued.
    close_sent: bool,
    keepalive: Option<Keepalive>,
    /// The messages of the peer's last binary frame not yet handed to the session.
    received_lines: Option<Lines>,
    /// The peer sends binary frames of `\n`-separated messages: answer the same way.
    answer_in_lines: bool,
    /// Then, the messages handed to us since the last flush (slices of the session's buffer).
    unsent_lines: Vec<Bytes>,
}

/// Pings an idle peer, and gives up on one that stays silent.
///
/// Hearing from the peer only notes the time; the timer is moved when it fires (to the
/// silence's real end), not on every frame.
struct Keepalive {
    interval: Duration,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
    /// When the peer was last heard from.
    heard: Instant,
    /// When the ping went out, if one is unanswered.
    pinged: Option<Instant>,
}

impl<S> std::fmt::Debug for WebSocketTransport<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketTransport")
            .field("keepalive", &self.keepalive.as_ref().map(|k| k.interval))
            .finish_non_exhaustive()
    }
}

impl<S> WebSocketTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        WebSocketTransport {
            ws,
            failure: None,
            close_sent: false,
            keepalive: None,
            received_lines: None,
            answer_in_lines: false,
            unsent_lines: Vec::new(),
        }
    }

    /// Pings the peer after `interval` without a frame from it, and ends the session if
    /// nothing arrives within `timeout` of the ping (the peer or the network is gone).
    pub fn keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keepalive = Some(Keepalive {
            interval,
            timeout,
            timer: Box::pin(tokio::time::sleep(interval)),
            heard: Instant::now(),
            pinged: None,
        });
        self
    }

    /// Something arrived from the peer: it is alive.
    fn heard(&mut self) {
        if let Some(keepalive) = &mut self.keepalive {
            keepalive.heard = Instant::now();
            keepalive.pinged = None;
        }
    }

    /// Runs the keepalive timer: sends a ping when due; an error once the peer is given up.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        let Some(keepalive) = &mut self.keepalive else {
            return Ok(());
        };
        while keepalive.timer.as_mut().poll(cx).is_ready() {
            let quiet_until = keepalive.heard + keepalive.interval;
            if keepalive.pinged.is_none() && quiet_until > Instant::now() {
                // Heard from since the timer was set: wait for the rest of the interval.
                keepalive.timer.as_mut().reset(quiet_until);
                continue;
            }
            if let Some(pinged) = keepalive.pinged {
                return Err(Error::disconnected(format!(
                    "the peer did not answer a ping within {:?} (it sent nothing for {:?})",
                    keepalive.timeout,
                    pinged.elapsed() + keepalive.interval
                )));
            }
            // A ping only goes out when the socket can take it; a peer that does not read is
            // the send timeout's business.
            if let Poll::Ready(Ok(())) = Pin::new(&mut self.ws).poll_ready(cx) {
                let ping = Message::Ping(Bytes::new());
                let sent = Pin::new(&mut self.ws).start_send(ping).and_then(|()| {
                    match Pin::new(&mut self.ws).poll_flush(cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending => Ok(()),
                    }
                });
                if let Err(e) = sent {
                    return Err(Error::disconnected(format!("sending a ping failed: {e}")));
                }
            }
            let now = Instant::now();
            keepalive.pinged = Some(now);
            keepalive.timer.as_mut().reset(now + keepalive.timeout);
        }
        Ok(())
    }

    /// The session's error for a read that failed, remembering the close frame it calls for.
    fn read_error(&mut self, error: WsError) -> Option<Error> {
        let (code, problem, error) = match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => return None,
            WsError::Capacity(e) => (
                CloseCode::Size,
                format!("message too large: {e}"),
                match e {
                    // Its bytes of UTF-8 are at most three per UTF-16 unit of the limit.
                    CapacityError::MessageTooLong { size, max_size } => Error::limit(
                        Limit::MessageSize,
                        max_size / 3,
                        format!(
                            "a WebSocket message of {size} bytes is larger than the session's \
                             limit allows ({max_size} bytes of UTF-8)"
                        ),
                    ),
                    other => Error::protocol(format!("the peer's WebSocket message: {other}")),
                },
            ),
            WsError::Utf8(e) => (
                CloseCode::Invalid,
                "a text frame is not valid UTF-8".to_owned(),
                Error::protocol(format!("the peer sent a text frame that is not UTF-8: {e}")),
            ),
            WsError::Protocol(e) => (
                CloseCode::Protocol,
                format!("WebSocket protocol error: {e}"),
                Error::protocol(format!("the peer broke the WebSocket protocol: {e}")),
            ),
            other => {
                return Some(Error::disconnected(format!(
                    "the WebSocket connection failed: {other}"
                )))
            }
        };
        self.failure = Some(CloseFrame {
            code,
            reason: close_reason(&problem).to_owned().into(),
        });
        Some(error)
    }

    /// The next message of the last binary frame, skipping empty lines (a trailing `\n`)
    /// and dropping a `\r` before each `\n`.
    fn next_line(&mut self) -> Option<Bytes> {
        let line = self.received_lines.as_mut()?.next_message();
        if line.is_none() {
            self.received_lines = None;
        }
        line
    }

    /// Hands a binary frame's messages to [`next_line`](Self::next_line); an error if it is
    /// not UTF-8 text.
    fn receive_lines(&mut self, frame: Bytes) -> Result<(), Error> {
        if let Err(e) = simdutf8::compat::from_utf8(&frame) {
            self.failure = Some(CloseFrame {
                code: CloseCode::Invalid,
                reason: "a binary frame is not valid UTF-8".into(),
            });
            return Err(Error::protocol(format!(
                "the peer sent a binary frame that is not UTF-8 text: {e}"
            )));
        }
        self.answer_in_lines = true;
        self.received_lines = Some(Lines::new(frame));
        Ok(())
    }
}

fn send_error(error: WsError) -> Error {
    match error {
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            Error::disconnected("the WebSocket is closed")
        }
        other => {
            let what = format!("writing to the WebSocket failed: {other}");
            Error::Transport(TransportError::with_source(what, other))
        }
    }
}

impl<S> Transport for WebSocketTransport<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            if let Some(message) = self.next_line() {
                return Poll::Ready(Some(Ok(message)));
            }
            let frame = match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(self.read_error(e).map(Err)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    if let Err(e) = self.poll_keepalive(cx) {
                        return Poll::Ready(Some(Err(e)));
                    }
                    return Poll::Pending;
                }
            };
            self.heard();
            match frame {
                Message::Text(text) => return Poll::Ready(Some(Ok(Bytes::from(text)))),
                Message::Binary(frame) => {
                    if let Err(e) = self.receive_lines(frame) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Message::Close(frame) => {
                    return Poll::Ready(match frame {
                        Some(frame) if frame.code != CloseCode::Normal => {
                            Some(Err(Error::disconnected(format!(
                                "the peer closed the connection ({}: {})",
                                u16::from(frame.code),
                                frame.reason
                            ))))
                        }
                        _ => None,
                    });
                }
                // tungstenite answers pings itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.ws).poll_ready(cx).map_err(send_error)
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        if self.answer_in_lines {
            self.unsent_lines.push(message);
            return Ok(());
        }
        // A raw frame: the session's text is UTF-8 already, so no second check is needed.
        let frame = Frame::message(message, OpCode::Data(Data::Text), true);
        Pin::new(&mut self.ws)
            .start_send(Message::Frame(frame))
            .map_err(send_error)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.unsent_lines.is_empty() {
            ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(send_error)?;
            let frame = match self.unsent_lines.as_slice() {
                [one] => one.clone(),
                many => join_lines(many),
            };
            self.unsent_lines.clear();
            Pin::new(&mut self.ws)
                .start_send(Message::Binary(frame))
                .map_err(send_error)?;
        }
        Pin::new(&mut self.ws).poll_flush(cx).map_err(send_error)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, reason: &CloseReason) -> Poll<()> {
        if !self.close_sent {
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
            }
            let frame = self.failure.take().unwrap_or_else(|| close_frame(reason));
            self.close_sent = true;
            if let Err(e) = Pin::new(&mut self.ws).start_send(Message::Close(Some(frame))) {
                tracing::debug!(error = %e, "sending the WebSocket close frame failed");
                return Poll::Ready(());
            }
        }
        match Pin::new(&mut self.ws).poll_close(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "closing the WebSocket failed");
                }
                Poll::Ready(())
            }
        }
    }
}

/// The close frame for how the session ended.
fn close_frame(reason: &CloseReason) -> CloseFrame {
    match reason {
        CloseReason::Normal => CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        },
        CloseReason::Error(error) => CloseFrame {
            code: CloseCode::from(ERROR_CLOSE_CODE),
            reason: close_reason(&error.message).to_owned().into(),
        },
        CloseReason::GoingAway(why) => CloseFrame {
            code: CloseCode::Away,
            reason: close_reason(why).to_owned().into(),
        },
    }
}

/// `message` cut to fit a close frame, on a character boundary.
fn close_reason(message: &str) -> &str {
    if message.len() <= MAX_CLOSE_REASON_BYTES {
        return message;
    }
    let mut end = MAX_CLOSE_REASON_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reasons_are_kept() {
        assert_eq!(close_reason("bad input"), "bad input");
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let ascii = "x".repeat(200);
        assert_eq!(close_reason(&ascii).len(), MAX_CLOSE_REASON_BYTES);
        // 'é' is two bytes: 61 of them fill 122 bytes, and the 62nd would end at byte 124.
        let accented = "é".repeat(100);
        let cut = close_reason(&accented);
        assert_eq!(cut.len(), 122);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(websocket_url("http://h:1/x"), "ws://h:1/x");
        assert_eq!(websocket_url("https://h/"), "wss://h/");
        assert_eq!(websocket_url("ws://h/"), "ws://h/");
    }

    #[tokio::test]
    async fn a_websocket_url_needs_a_websocket_scheme() {
        let error = ClientBuilder::new("ftp://localhost:1/")
            .connect()
            .await
            .unwrap_err();
        assert!(error.to_string().contains("ws:// or wss://"), "{error}");
        let error = ClientBuilder::new("no url").connect().await.unwrap_err();
        assert!(error.to_string().contains("not usable"), "{error}");
    }

    #[cfg(not(feature = "tls"))]
    #[tokio::test]
    async fn wss_needs_the_tls_feature() {
        let error = ClientBuilder::new("wss://localhost:1/")
            .connect()
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("enable the `tls` feature"),
            "{error}"
        );
    }

    #[test]
    fn each_ending_has_its_close_code() {
        assert_eq!(close_frame(&CloseReason::Normal).code, CloseCode::Normal);
        let failed = close_frame(&CloseReason::Error(crate::RpcError::error("boom")));
        assert_eq!(
            (u16::from(failed.code), failed.reason.as_str()),
            (3000, "boom")
        );
        let away = close_frame(&CloseReason::GoingAway("bye".into()));
        assert_eq!((away.code, away.reason.as_str()), (CloseCode::Away, "bye"));
    }
}
