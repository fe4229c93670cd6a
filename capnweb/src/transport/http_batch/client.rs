//! The HTTP batch client: buffer until the application awaits, then one POST, over a pooled
//! HTTP/1.1 client (plain, or TLS through rustls).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::{join_lines, max_body_bytes, snippet, split_batch};
use crate::error::{Error, TransportError};
use crate::session::{Session, SessionOptions};
use crate::stub::FromStub;
use crate::transport::client_settings::ClientSettings;
use crate::transport::headers::ExtraHeaders;
use crate::transport::{Capabilities, CloseReason, Transport};

/// Largest part of an error response read for the error message.
const ERROR_BODY_BYTES: usize = 4096;

/// Starts an HTTP batch session with the server at `url` and returns its main object as `T`
/// (a [`Stub`](crate::Stub) or a typed stub).
///
/// Nothing is sent yet: the batch goes out as one POST when the application first awaits a
/// result, holding every call made until then in the same tick. After the answer the session
/// is over; stubs from it fail with a disconnected error. A failed request (a non-2xx status, no
/// server, an untrusted certificate, an invalid URL) rejects every pending call with
/// [`Error::Transport`](crate::Error::Transport).
///
/// `url` is `http://` or `https://` (the server's certificate checked against the Mozilla
/// roots). Must be called inside a Tokio runtime. For several batches over one pooled
/// connection, headers, TLS roots or a connect timeout, build a [`Client`] with a
/// [`ClientBuilder`].
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use capnweb::{Stub, Value};
///
/// let api: Stub = capnweb::http_batch::connect("http://127.0.0.1:8080/rpc");
/// let nine = api.call("square", vec![Value::from(3)]).await?;
/// # let _ = nine; Ok(()) }
/// ```
pub fn connect<T: FromStub>(url: &str) -> T {
    connect_with(url, SessionOptions::default()).main_as()
}

/// Like [`connect`], returning the session (for its [`stats`](Session::stats), or to set
/// `options`).
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// use capnweb::{Limits, SessionOptions, Value};
///
/// let options = SessionOptions::default().limits(Limits::default().max_depth(64));
/// let session = capnweb::http_batch::connect_with("http://127.0.0.1:8080/rpc", options);
/// let nine = session.main().call("square", vec![Value::from(3)]).await?;
/// # let _ = nine; Ok(()) }
/// ```
pub fn connect_with(url: &str, options: SessionOptions) -> Session {
    match ClientBuilder::new(url).options(options.clone()).build() {
        Ok(client) => client.session(),
        // An unusable URL fails the session's first batch, as a failed POST would.
        Err(e) => Session::new(BatchClientTransport::failed(e), None, options),
    }
}

/// A [`ClientBuilder`] for `url`: the same as [`ClientBuilder::new`].
///
/// ```
/// # fn example() -> Result<(), capnweb::Error> {
/// let client = capnweb::http_batch::builder("http://127.0.0.1:8080/rpc").bearer_token("s3cr3t").build()?;
/// # let _ = client; Ok(()) }
/// # example().unwrap();
/// ```
pub fn builder(url: impl Into<String>) -> ClientBuilder {
    ClientBuilder::new(url)
}

/// The settings of an HTTP batch [`Client`]: extra headers on every POST (e.g. a bearer
/// token), a connect timeout, TLS roots and the sessions' options.
///
/// ```
/// # fn example() -> Result<(), capnweb::Error> {
/// use std::time::Duration;
///
/// let client = capnweb::http_batch::ClientBuilder::new("http://127.0.0.1:8080/rpc")
///     .header("x-client", "inventory/2.1")
///     .bearer_token("s3cr3t")
///     .connect_timeout(Duration::from_secs(5))
///     .build()?;
/// # let _ = client; Ok(()) }
/// # example().unwrap();
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    settings: ClientSettings,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTls>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut f = f.debug_struct("ClientBuilder");
        f.field("url", &self.settings.url)
            .field("headers", &self.settings.headers)
            .field("connect_timeout", &self.settings.connect_timeout)
            .field("options", &self.settings.options);
        #[cfg(feature = "tls")]
        f.field("tls", &self.tls);
        f.finish()
    }
}

impl ClientBuilder {
    /// A client for the Cap'n Web server at `url`, `http://` or `https://`. Nothing is checked
    /// until [`build`](ClientBuilder::build).
    ///
    /// ```
    /// let builder = capnweb::http_batch::ClientBuilder::new("http://127.0.0.1:8080/rpc");
    /// # let _ = builder;
    /// ```
    pub fn new(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            settings: ClientSettings::new(url),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Adds a header to every POST (a second value for a name already given is added beside
    /// the first; `Content-Type` is replaced). A name or value that is not valid is reported by
    /// [`build`](ClientBuilder::build).
    ///
    /// ```
    /// let error = capnweb::http_batch::ClientBuilder::new("http://127.0.0.1:8080/")
    ///     .header("x-tenant", "blue")
    ///     .header("x-note", "two\nlines")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("the value of the header x-note is not valid"), "{error}");
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

    /// Sends `Authorization: Bearer <token>` with every POST (the value is marked sensitive,
    /// so `Debug` does not show it).
    ///
    /// ```
    /// let builder = capnweb::http_batch::ClientBuilder::new("https://rpc.example.com/").bearer_token("s3cr3t");
    /// assert!(!format!("{builder:?}").contains("s3cr3t"));
    /// ```
    pub fn bearer_token(mut self, token: impl std::fmt::Display) -> ClientBuilder {
        self.settings.headers.bearer(token);
        self
    }

    /// How long opening a connection may take: the TCP connection and, for `https://`, the
    /// TLS handshake (default 30 s). Past it, the batch fails with an
    /// [`Error::Transport`](crate::Error::Transport) saying so. (A pooled connection is
    /// reused without connecting; how long the server takes to answer is not bounded here.)
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = capnweb::http_batch::ClientBuilder::new("http://127.0.0.1:8080/")
    ///     .connect_timeout(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The options of every session the client starts (limits, error hook). The largest
    /// answer read follows from them (see [the module docs](super#body-size)).
    ///
    /// ```
    /// use capnweb::{Limits, SessionOptions};
    ///
    /// let builder = capnweb::http_batch::ClientBuilder::new("http://127.0.0.1:8080/")
    ///     .options(SessionOptions::default().limits(Limits::default().max_depth(64)));
    /// # let _ = builder;
    /// ```
    pub fn options(mut self, options: SessionOptions) -> ClientBuilder {
        self.settings.options = options;
        self
    }

    /// How an `https://` server's certificate is checked (default:
    /// [`ClientTls::new`](crate::tls::ClientTls::new), the Mozilla roots). Not used for
    /// `http://`.
    ///
    /// ```
    /// # fn example(own_ca_pem: &str) -> Result<(), capnweb::Error> {
    /// use capnweb::tls::ClientTls;
    ///
    /// let client = capnweb::http_batch::ClientBuilder::new("https://internal.example:8443/")
    ///     .tls(ClientTls::without_built_in_roots().add_root_pem(own_ca_pem)?)
    ///     .build()?;
    /// # let _ = client; Ok(()) }
    /// # let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # example(&ca.cert.pem()).unwrap();
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ClientTls) -> ClientBuilder {
        self.tls = Some(tls);
        self
    }

    /// The client: the URL checked (`http://` or `https://`, with a host), the headers
    /// checked, the TLS configuration built. No connection is opened yet.
    ///
    /// ```
    /// let error = capnweb::http_batch::ClientBuilder::new("ftp://127.0.0.1/").build().unwrap_err();
    /// assert!(error.to_string().contains("http:// or https://"), "{error}");
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        let fail = |what: String| {
            Error::Transport(TransportError::new(format!(
                "the HTTP batch client for {} cannot be built: {what}",
                self.settings.url
            )))
        };
        if let Some(e) = self.settings.headers.error() {
            return Err(fail(e.to_owned()));
        }
        let uri: Uri = self
            .settings
            .url
            .parse()
            .map_err(|e| fail(format!("the URL is not usable: {e}")))?;
        let secure = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(fail(format!(
                    "the URL's scheme is {other}: an HTTP batch URL starts with http:// or https://"
                )))
            }
            None => {
                return Err(fail(
                    "the URL has no scheme: it starts with http:// or https://".to_owned(),
                ))
            }
        };
        if uri.host().is_none_or(str::is_empty) {
            return Err(fail("the URL has no host".to_owned()));
        }
        #[cfg(not(feature = "tls"))]
        if secure {
            return Err(fail(
                "https:// needs TLS, and this build of capnweb has it off: enable the `tls` \
                 feature of the capnweb crate"
                    .to_owned(),
            ));
        }
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        #[cfg(feature = "tls")]
        let connector = {
            // hyper-rustls hands the connection to `http` for http:// and does TLS for https://.
            http.enforce_http(false);
            let tls = match (&self.tls, secure) {
                (Some(tls), true) => tls.clone(),
                _ => crate::tls::ClientTls::new(),
            };
            let config = tls.config().map_err(|e| match e {
                Error::Transport(what) => fail(what.message().to_owned()),
                other => other,
            })?;
            hyper_rustls::HttpsConnector::from((http, config))
        };
        #[cfg(not(feature = "tls"))]
        let connector = http;
        let connector = TimedConnector {
            inner: connector,
            timeout: self.settings.connect_timeout,
        };
        let http = PooledClient::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Client {
            shared: Arc::new(Shared {
                url: self.settings.url,
                uri,
                headers: self.settings.headers,
                options: self.settings.options,
                connect_timeout: self.settings.connect_timeout,
                http,
            }),
        })
    }
}

/// An HTTP batch client: one pool of connections (reused from batch to batch), the headers
/// and options every batch session gets. Cheap to clone (the clones share the pool); `Send`
/// and `Sync`.
///
/// Each [`session`](Client::session) is one batch: its calls go out together as one POST when
/// the application first awaits a result.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use capnweb::{Stub, Value};
/// # let server = capnweb::Server::bind("127.0.0.1:0").await?;
/// # let addr = server.local_addr();
/// # tokio::spawn(server.serve(|| Stub::from_fn(|args: Vec<Value>| async move {
/// #     let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
/// #     Ok(Value::from(x * x))
/// # })));
///
/// let client = capnweb::http_batch::ClientBuilder::new(format!("http://{addr}/")).build()?;
/// // Two batches, one connection.
/// assert_eq!(client.main::<Stub>().call_self(vec![Value::from(3)]).await?, Value::from(9));
/// assert_eq!(client.main::<Stub>().call_self(vec![Value::from(4)]).await?, Value::from(16));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

/// What every batch of a [`Client`] uses.
struct Shared {
    url: String,
    uri: Uri,
    headers: ExtraHeaders,
    options: SessionOptions,
    connect_timeout: Duration,
    http: PooledClient<TimedConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.shared.url)
            .field("headers", &self.shared.headers)
            .field("options", &self.shared.options)
            .field("connect_timeout", &self.shared.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A new batch session (nothing is sent until a result is awaited). Must be called inside
    /// a Tokio runtime.
    ///
    /// ```no_run
    /// # async fn example(client: capnweb::http_batch::Client) -> Result<(), capnweb::Error> {
    /// let session = client.session();
    /// let nine = session.main().call("square", vec![3.into()]).await?;
    /// println!("{nine:?}, {:?}", session.stats());
    /// # Ok(()) }
    /// ```
    pub fn session(&self) -> Session {
        let transport = BatchClientTransport::new(Arc::clone(&self.shared));
        Session::new(transport, None, self.shared.options.clone())
    }

    /// The server's main object in a new batch session, as `T` (a [`Stub`](crate::Stub) or a
    /// typed stub): [`session`](Client::session) then [`Session::main_as`].
    ///
    /// ```no_run
    /// # async fn example(client: capnweb::http_batch::Client) -> Result<(), capnweb::Error> {
    /// let api: capnweb::Stub = client.main();
    /// let nine = api.call("square", vec![3.into()]).await?;
    /// # let _ = nine; Ok(()) }
    /// ```
    pub fn main<T: FromStub>(&self) -> T {
        self.session().main_as()
    }
}

/// A plain GET over the same connections, for [`http_batch::describe`](crate::http_batch::describe).
#[cfg(feature = "typescript")]
impl Client {
    /// The URL the client POSTs to.
    pub(crate) fn url(&self) -> &str {
        &self.shared.url
    }

    /// GETs the client's URL with `Accept: accept` and the client's headers: the status, and
    /// the body (at most `limit` bytes when successful, the start of it otherwise).
    pub(crate) async fn get(
        &self,
        accept: &'static str,
        limit: usize,
    ) -> Result<(http::StatusCode, Bytes), Error> {
        let client = &self.shared;
        let failed = |what: TransportError| {
            Error::Transport(what.within(format_args!("the GET of {} failed", client.url)))
        };
        let mut request = http::Request::get(client.uri.clone())
            .header(http::header::ACCEPT, accept)
            .body(Full::new(Bytes::new()))
            .map_err(|e| {
                let what = format!("the request could not be built: {e}");
                failed(TransportError::with_source(what, e))
            })?;
        client.headers.apply(request.headers_mut());
        let response = client.http.request(request).await.map_err(|e| {
            let what = request_error(&e, client.uri.scheme_str() == Some("https"));
            failed(TransportError::with_source(what, e))
        })?;
        let status = response.status();
        let limit = if status.is_success() {
            limit
        } else {
            ERROR_BODY_BYTES
        };
        match Limited::new(response.into_body(), limit).collect().await {
            Ok(body) => Ok((status, body.to_bytes())),
            // An error's body is only for the message: its start is enough.
            Err(_) if !status.is_success() => Ok((status, Bytes::new())),
            Err(e) if e.is::<LengthLimitError>() => Err(failed(
                format!("the answer is larger than {limit} bytes").into(),
            )),
            Err(e) => Err(failed(TransportError::new(format!(
                "reading the answer failed: {e}"
            )))),
        }
    }
}

#[cfg(feature = "tls")]
type InnerConnector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type InnerConnector = HttpConnector;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The pool's connector: the inner one, bounded in time as a whole (TCP and TLS).
#[derive(Clone)]
struct TimedConnector {
    inner: InnerConnector,
    timeout: Duration,
}

type Connection = <InnerConnector as tower_service::Service<Uri>>::Response;

// The inner error is a `BoxError` already with TLS (a `ConnectError` without).
#[cfg_attr(feature = "tls", allow(clippy::useless_conversion))]
impl tower_service::Service<Uri> for TimedConnector {
    type Response = Connection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected.map_err(Into::into),
                Err(_) => Err(Box::new(ConnectTimedOut(timeout)) as BoxError),
            }
        })
    }
}

/// Opening a connection took longer than the connect timeout.
#[derive(Debug)]
struct ConnectTimedOut(Duration);

impl std::fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "did not connect within {:?}", self.0)
    }
}

impl std::error::Error for ConnectTimedOut {}

/// What the POST produced: the server's messages, or why there are none.
type Delivery = Result<Vec<Bytes>, Error>;

/// The client end of one batch: collects messages, POSTs them on the first flush, then hands
/// out the answer's lines.
struct BatchClientTransport {
    /// The client to POST with, or why there is none (reported by the first POST).
    client: Result<Arc<Shared>, Error>,
    queued: Vec<Bytes>,
    state: ClientState,
}

/// Why a batch session takes no more calls once its answer has come.
const BATCH_OVER: &str = "this HTTP batch is over: its answer has come, and a batch holds only \
    the calls made before it was sent. For more calls, start a new batch (Client::main, or \
    http_batch::connect), or use a WebSocket for a session that stays open";

enum ClientState {
    /// Collecting the batch.
    Collecting,
    /// The POST is under way.
    Posting(BoxFuture<'static, Delivery>),
    /// The answer's messages, then the end of the session.
    Answered(std::vec::IntoIter<Bytes>),
    /// Closed, or the POST failed: nothing more comes.
    Done,
}

impl BatchClientTransport {
    fn new(client: Arc<Shared>) -> Self {
        BatchClientTransport {
            client: Ok(client),
            queued: Vec::new(),
            state: ClientState::Collecting,
        }
    }

    /// A batch that fails with `error` when it is sent.
    fn failed(error: Error) -> Self {
        BatchClientTransport {
            client: Err(error),
            queued: Vec::new(),
            state: ClientState::Collecting,
        }
    }
}

impl Transport for BatchClientTransport {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            match &mut self.state {
                // Nothing arrives before the POST; the driver polls again after flushing.
                ClientState::Collecting => return Poll::Pending,
                ClientState::Posting(post) => match ready!(post.as_mut().poll(cx)) {
                    Ok(lines) => self.state = ClientState::Answered(lines.into_iter()),
                    Err(e) => {
                        // The session ends with the failure, so every pending call sees it.
                        self.state = ClientState::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                // After the answer's lines the batch session is over; a call still waiting, or
                // made later on one of its stubs, learns why.
                ClientState::Answered(lines) => {
                    if let Some(line) = lines.next() {
                        return Poll::Ready(Some(Ok(line)));
                    }
                    self.state = ClientState::Done;
                    return Poll::Ready(Some(Err(Error::disconnected(BATCH_OVER))));
                }
                ClientState::Done => return Poll::Ready(None),
            }
        }
    }

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        // After the POST the server's session is gone: what follows (the releases of the
        // results) has nowhere to go, and is dropped.
        if let ClientState::Collecting = self.state {
            self.queued.push(message);
        }
        Ok(())
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let ClientState::Collecting = self.state {
            if !self.queued.is_empty() {
                let body = join_lines(&std::mem::take(&mut self.queued));
                let post: BoxFuture<'static, Delivery> = match &self.client {
                    Ok(client) => Box::pin(post_batch(Arc::clone(client), body)),
                    Err(e) => Box::pin(std::future::ready(Err(e.clone()))),
                };
                self.state = ClientState::Posting(post);
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>, _reason: &CloseReason) -> Poll<()> {
        self.queued.clear();
        self.state = ClientState::Done;
        Poll::Ready(())
    }

    /// One exchange, sent as one batch whose answer answers our calls.
    fn capabilities(&self) -> Capabilities {
        Capabilities::one_exchange().with_batching(true)
    }
}

/// POSTs one batch; returns the answer's messages.
async fn post_batch(client: Arc<Shared>, body: Bytes) -> Delivery {
    let failed = |what: TransportError| {
        Error::Transport(what.within(format_args!(
            "the HTTP batch request to {} failed",
            client.url
        )))
    };
    let mut request = http::Request::post(client.uri.clone())
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(body))
        .map_err(|e| {
            let what = format!("the request could not be built: {e}");
            failed(TransportError::with_source(what, e))
        })?;
    client.headers.apply(request.headers_mut());
    let response = client.http.request(request).await.map_err(|e| {
        let what = request_error(&e, client.uri.scheme_str() == Some("https"));
        failed(TransportError::with_source(what, e))
    })?;
    let status = response.status();
    let max_response_bytes = max_body_bytes(&client.options);
    let limit = if status.is_success() {
        max_response_bytes
    } else {
        ERROR_BODY_BYTES
    };
    let body = Limited::new(response.into_body(), limit).collect().await;
    if !status.is_success() {
        let start = body
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        return Err(failed(
            format!("the server answered {status}: {}", snippet(&start)).into(),
        ));
    }
    let body = body
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                failed(
                    format!(
                        "the answer is larger than {max_response_bytes} bytes (see \
                         Limits::max_message_size)"
                    )
                    .into(),
                )
            } else {
                let what = format!("reading the answer failed: {e}");
                failed(TransportError::new(what))
            }
        })?
        .to_bytes();
    std::str::from_utf8(&body).map_err(|e| {
        let what = format!("the answer is not UTF-8 text: {e}");
        failed(TransportError::with_source(what, e))
    })?;
    Ok(split_batch(&body))
}

/// What a failed request says: the connect timeout, the TLS failure, an answer that is not
/// HTTP, or the error's chain.
fn request_error(error: &hyper_util::client::legacy::Error, secure: bool) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(timed_out) = cause.downcast_ref::<ConnectTimedOut>() {
            return timed_out.to_string();
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_parse() && !secure {
                return format!(
                    "the server's answer is not HTTP ({hyper}); if it speaks TLS, use an \
                     https:// URL"
                );
            }
        }
        source = cause.source();
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = crate::tls::describe_failure(error) {
        return tls;
    }
    error_chain(error)
}

/// An error and its sources, so that "client error (Connect)" says what went wrong.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(url: &str) -> Result<Client, Error> {
        ClientBuilder::new(url).build()
    }

    #[test]
    fn the_url_is_checked_when_the_client_is_built() {
        let error = |url: &str| build(url).unwrap_err().to_string();
        assert!(
            error("ws://h/").contains("http:// or https://"),
            "{}",
            error("ws://h/")
        );
        assert!(
            error("/just/a/path").contains("no scheme"),
            "{}",
            error("/just/a/path")
        );
        assert!(
            error("http://").contains("not usable"),
            "{}",
            error("http://")
        );
        assert!(
            error("http://h/ x").contains("not usable"),
            "{}",
            error("http://h/ x")
        );
        assert!(build("http://127.0.0.1:1/rpc").is_ok());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn https_urls_are_accepted_with_tls() {
        assert!(build("https://localhost:1/").is_ok());
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn https_urls_need_the_tls_feature() {
        let error = build("https://localhost:1/").unwrap_err().to_string();
        assert!(error.contains("enable the `tls` feature"), "{error}");
    }

    #[test]
    fn a_bad_header_is_reported_by_build() {
        let error = ClientBuilder::new("http://h/")
            .header("bad name", "x")
            .header("fine", "x")
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains("a header name is not valid"), "{error}");
        let error = ClientBuilder::new("http://h/")
            .bearer_token("a\nb")
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains("bearer token"), "{error}");
        assert!(!error.contains("a\nb"), "{error}");
    }

    #[test]
    fn the_client_is_send_and_sync() {
        fn check<T: Send + Sync + Clone + std::fmt::Debug>() {}
        check::<Client>();
        check::<ClientBuilder>();
    }
}
