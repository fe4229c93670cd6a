//! [`RpcService`]: the server's request handler, as a hyper and a tower service.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use std::time::Duration;

use bytes::Bytes;
use futures::future::Either;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;

use super::activity::Activity;
#[cfg(feature = "http-batch")]
use super::cors;
use super::forwarded::ConnectionScheme;
use super::origin::{OriginPolicy, Verdict};
use super::refusal::Refusal;
use super::request::{is_websocket_request, RequestLimits};
#[cfg(feature = "websocket")]
use super::upgrade;
use super::Lifecycle;
use crate::context::{RequestContext, TransportKind};
use crate::session::SessionOptions;
use crate::stub::Stub;
#[cfg(feature = "http-batch")]
use crate::transport::http_batch;
use crate::transport::responses::text_response;
use crate::typed::TypedStub;

/// Makes a session's main object for a request, or refuses it.
type NewMain = Arc<dyn Fn(&RequestContext) -> Result<Stub, Refusal> + Send + Sync>;

/// A Cap'n Web endpoint as a service: HTTP batch for POST, a WebSocket session for a GET with
/// `Upgrade: websocket`, a fresh main object per session from the factory.
///
/// It implements both [`hyper::service::Service`] and [`tower_service::Service`], so it can be
/// mounted in your own hyper server or router (axum: `Router::route_service`). WebSocket
/// upgrades need a server that supports them (hyper's `serve_connection_with_upgrades`; axum's
/// `serve` does). [`Server`](crate::Server) serves it (or several, by path: [`Routes`](crate::Routes)) on its
/// own listener.
///
/// Settings left unset here (options, timeouts, keepalive, the origin policy) are the
/// [`Server`](crate::Server)'s when a server serves the service, and the defaults otherwise.
///
/// A request from a web page (its `Origin` header) of another site than the service's own is
/// refused with 403, unless allowed: see [`allow_origin`](RpcService::allow_origin).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use capnweb::{RpcService, Stub, Value};
/// use hyper::service::Service;
///
/// let service = RpcService::new(|| Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) }));
/// let request = http::Request::post("/rpc")
///     .body(http_body_util::Full::new(bytes::Bytes::new()))
///     .unwrap();
/// let response = service.call(request).await.unwrap();
/// assert_eq!(response.status(), 200); // an empty batch: no messages in, none out
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct RpcService {
    new_main: NewMain,
    options: Option<SessionOptions>,
    limits: ServiceLimits,
    /// Which web pages may call (see [`allow_origin`](RpcService::allow_origin)).
    pub(super) origins: OriginPolicy,
    /// The API's description as JSON, when it is served (see
    /// [`describe`](RpcService::describe)).
    #[cfg(feature = "typescript")]
    pub(super) description: Option<Bytes>,
}

/// A service's own time limits: `None` takes the server's (or the default).
#[derive(Debug, Clone, Copy, Default)]
struct ServiceLimits {
    body: Option<Duration>,
    batch: Option<Duration>,
    keepalive: Option<(Duration, Duration)>,
}

impl ServiceLimits {
    fn over(&self, defaults: RequestLimits) -> RequestLimits {
        let (ping_interval, ping_timeout) = self
            .keepalive
            .unwrap_or((defaults.ping_interval, defaults.ping_timeout));
        RequestLimits {
            body: self.body.unwrap_or(defaults.body),
            batch: self.batch.unwrap_or(defaults.batch),
            ping_interval,
            ping_timeout,
        }
    }
}

/// What one connection of a [`Server`](crate::Server) adds to a request: its place in the
/// server's lifecycle, its watchdog, the client's address. Empty when the service is mounted
/// in someone else's server.
#[derive(Clone, Default)]
pub(crate) struct ConnectionContext {
    pub(super) lifecycle: Option<Lifecycle>,
    pub(super) activity: Option<Arc<Activity>>,
    pub(super) peer: Option<SocketAddr>,
    /// Whether the connection speaks TLS, for the request's own origin.
    pub(super) scheme: ConnectionScheme,
}

impl fmt::Debug for RpcService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcService")
            .field("options", &self.options)
            .field("limits", &self.limits)
            .field("origins", &self.origins)
            .field("describes", &self.describes_at_all())
            .finish_non_exhaustive()
    }
}

impl RpcService {
    /// A service whose sessions each serve a fresh `new_main()` (a [`Stub`] or a typed stub).
    pub fn new<F, M>(new_main: F) -> Self
    where
        F: Fn() -> M + Send + Sync + 'static,
        M: TypedStub,
    {
        RpcService::from_factory(Arc::new(move |_: &RequestContext| {
            Ok(new_main().as_untyped().clone())
        }))
    }

    /// A service whose factory sees each request (its headers, cookies, path, the client's
    /// address: a [`RequestContext`]) and returns that caller's main object, or a [`Refusal`]
    /// (an HTTP status, e.g. 401). A WebSocket is refused before it is upgraded. The context
    /// is cheap to clone: keep it in the main object if its methods need it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use capnweb::{Refusal, RequestContext, RpcService, Stub, Value};
    /// use hyper::service::Service;
    ///
    /// let service = RpcService::with_context(|request: &RequestContext| {
    ///     let user = match request.bearer_token() {
    ///         Some("alice-token") => "alice",
    ///         _ => return Err(Refusal::unauthorized("send a valid bearer token")),
    ///     };
    ///     Ok(Stub::from_fn(move |_args: Vec<Value>| async move { Ok(Value::from(user)) }))
    /// });
    /// let request = http::Request::post("/rpc")
    ///     .body(http_body_util::Full::new(bytes::Bytes::new()))
    ///     .unwrap();
    /// assert_eq!(service.call(request).await.unwrap().status(), 401);
    /// # }
    /// ```
    pub fn with_context<F, M>(new_main: F) -> Self
    where
        F: Fn(&RequestContext) -> Result<M, Refusal> + Send + Sync + 'static,
        M: TypedStub,
    {
        RpcService::from_factory(Arc::new(move |context: &RequestContext| {
            new_main(context).map(|main| main.as_untyped().clone())
        }))
    }

    fn from_factory(new_main: NewMain) -> Self {
        RpcService {
            new_main,
            options: None,
            limits: ServiceLimits::default(),
            origins: OriginPolicy::default(),
            #[cfg(feature = "typescript")]
            description: None,
        }
    }

    /// The options every session starts with (see [`Server::options`](crate::Server::options)).
    pub fn options(mut self, options: SessionOptions) -> Self {
        self.options = Some(options);
        self
    }

    /// How long a request's body may take to arrive (default 30 s); a slower one gets 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body = Some(timeout);
        self
    }

    /// How long one HTTP batch may run, from its body read to its answer (default 30 s). A
    /// batch whose calls do not finish in time gets 503, saying so, and its session ends.
    pub fn batch_timeout(mut self, timeout: Duration) -> Self {
        self.limits.batch = Some(timeout);
        self
    }

    /// WebSocket keepalive: a session pings a peer that sent nothing for `interval`, and ends
    /// if nothing arrives within `timeout` after that (defaults: 30 s and 30 s).
    pub fn websocket_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.limits.keepalive = Some((interval, timeout));
        self
    }

    /// Takes the server's settings for what this service leaves unset.
    pub(super) fn inherit(
        &mut self,
        options: &SessionOptions,
        limits: RequestLimits,
        origins: &OriginPolicy,
    ) {
        self.origins = self.origins.over(origins);
        if self.options.is_none() {
            self.options = Some(options.clone());
        }
        self.limits = ServiceLimits {
            body: Some(self.limits.body.unwrap_or(limits.body)),
            batch: Some(self.limits.batch.unwrap_or(limits.batch)),
            keepalive: Some(
                self.limits
                    .keepalive
                    .unwrap_or((limits.ping_interval, limits.ping_timeout)),
            ),
        };
    }

    /// Answers one request, on a connection of a server (or on none: `connection` is empty).
    pub(super) fn respond<B>(
        &self,
        request: Request<B>,
        connection: &ConnectionContext,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send + 'static
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        #[cfg(feature = "http-batch")]
        if cors::is_preflight(request.method(), request.headers()) {
            return Either::Left(std::future::ready(
                self.answer_preflight(&request, connection),
            ));
        }
        #[cfg(feature = "typescript")]
        if let Some(json) = self
            .description
            .as_ref()
            .filter(|_| self.describes(&request))
        {
            return Either::Left(std::future::ready(
                self.answer_description(json, &request, connection),
            ));
        }
        let websocket = is_websocket_request(&request);
        // Which transports are served depends on capnweb's Cargo features.
        let served = if websocket {
            cfg!(feature = "websocket")
        } else {
            cfg!(feature = "http-batch") && request.method() == Method::POST
        };
        if !served {
            return Either::Left(std::future::ready(method_not_allowed()));
        }
        // Before anything runs: a page of another site must not drive its user's session.
        let verdict = self
            .origins
            .check(request.headers(), request.uri(), connection.scheme);
        let verdict = match verdict {
            Ok(verdict) => verdict,
            Err(refusal) => {
                tracing::debug!(
                    path = request.uri().path(),
                    origin = ?request.headers().get(http::header::ORIGIN),
                    "a request from another origin was refused"
                );
                return Either::Left(std::future::ready(refusal.into_response()));
            }
        };
        // An allowed page of another origin reads its batch's answer only with CORS headers.
        let cors_origin = match verdict {
            Verdict::Allowed(origin) if !websocket => Some(origin),
            _ => None,
        };
        let credentials = self.origins.allows_credentials();
        #[cfg_attr(not(feature = "websocket"), allow(unused_mut))]
        let (mut parts, body) = request.into_parts();
        #[cfg(feature = "websocket")]
        let accept_key = if websocket {
            match upgrade::check_handshake(&parts) {
                Ok(key) => Some(key),
                Err(bad) => {
                    return Either::Left(std::future::ready(upgrade::refusal_response(bad)))
                }
            }
        } else {
            None
        };
        let kind = if websocket {
            TransportKind::WebSocket
        } else {
            TransportKind::HttpBatch
        };
        let peer = connection
            .peer
            .or_else(|| parts.extensions.get::<SocketAddr>().copied());
        let context =
            RequestContext::new(parts.method.clone(), &parts.uri, &parts.headers, peer, kind);
        let main = match self.new_main_for(&context) {
            Ok(main) => main,
            Err(refusal) => {
                tracing::debug!(status = %refusal.status(), path = context.path(), "a request was refused");
                let response = with_cors(refusal.into_response(), cors_origin, credentials);
                return Either::Left(std::future::ready(response));
            }
        };
        #[cfg(feature = "websocket")]
        let subprotocol = accept_key
            .is_some()
            .then(|| upgrade::subprotocol(&context))
            .flatten();
        let mut options = self.options.clone().unwrap_or_default();
        options.context = Some(context);
        let limits = self.limits.over(RequestLimits::default());
        #[cfg(feature = "websocket")]
        if let Some(accept_key) = accept_key {
            let lifecycle = connection.lifecycle.clone();
            let handshake = upgrade::Handshake {
                accept_key,
                subprotocol,
            };
            let response = upgrade::accept(&mut parts, handshake, main, options, limits, lifecycle);
            return Either::Left(std::future::ready(response));
        }
        #[cfg(feature = "http-batch")]
        {
            let batch = http_batch::handle_within(
                Request::from_parts(parts, body),
                main,
                options,
                limits.body,
                limits.batch,
            );
            Either::Right(async move { with_cors(batch.await, cors_origin, credentials) })
        }
        // Without HTTP batch, only WebSocket upgrades get here, and they were answered above.
        #[cfg(not(feature = "http-batch"))]
        {
            let _ = (parts, body, main, options, limits, connection, cors_origin);
            Either::Right(std::future::ready(method_not_allowed()))
        }
    }

    /// What a WebTransport session at `uri` starts with: the origin policy's and the factory's
    /// decision, then the main object and the options (the request's context in them).
    #[cfg(feature = "webtransport")]
    pub(super) fn prepare_webtransport(
        &self,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        peer: Option<SocketAddr>,
        scheme: ConnectionScheme,
    ) -> Result<(Stub, SessionOptions), Refusal> {
        self.origins.check(headers, uri, scheme)?;
        let kind = TransportKind::WebTransport;
        let context = RequestContext::new(Method::CONNECT, uri, headers, peer, kind);
        let main = self.new_main_for(&context)?;
        let mut options = self.options.clone().unwrap_or_default();
        options.context = Some(context);
        Ok((main, options))
    }

    /// A CORS preflight's answer: 204 for a page the origin policy allows, 403 otherwise.
    #[cfg(feature = "http-batch")]
    fn answer_preflight<B>(
        &self,
        request: &Request<B>,
        connection: &ConnectionContext,
    ) -> Response<Full<Bytes>> {
        let headers = request.headers();
        match self
            .origins
            .check(headers, request.uri(), connection.scheme)
        {
            Ok(Verdict::Own | Verdict::Allowed(_)) => match headers.get(http::header::ORIGIN) {
                Some(origin) => {
                    cors::preflight_response(origin, headers, self.origins.allows_credentials())
                }
                None => method_not_allowed(),
            },
            Ok(Verdict::Absent) => method_not_allowed(),
            Err(refusal) => refusal.into_response(),
        }
    }

    /// Whether the service serves its description (for `Debug`).
    fn describes_at_all(&self) -> bool {
        #[cfg(feature = "typescript")]
        return self.description.is_some();
        #[cfg(not(feature = "typescript"))]
        false
    }

    /// The description, to a client the origin policy allows (readable by an allowed page of
    /// another origin, as a batch's answer is).
    #[cfg(feature = "typescript")]
    fn answer_description<B>(
        &self,
        json: &Bytes,
        request: &Request<B>,
        connection: &ConnectionContext,
    ) -> Response<Full<Bytes>> {
        match self
            .origins
            .check(request.headers(), request.uri(), connection.scheme)
        {
            Ok(Verdict::Allowed(origin)) => with_cors(
                super::describe::description_response(json),
                Some(origin),
                self.origins.allows_credentials(),
            ),
            Ok(_) => super::describe::description_response(json),
            Err(refusal) => {
                tracing::debug!(
                    path = request.uri().path(),
                    origin = ?request.headers().get(http::header::ORIGIN),
                    "a description request from another origin was refused"
                );
                refusal.into_response()
            }
        }
    }

    /// The factory's answer; a panic in it is a 500, not a dead connection.
    fn new_main_for(&self, context: &RequestContext) -> Result<Stub, Refusal> {
        std::panic::catch_unwind(AssertUnwindSafe(|| (self.new_main)(context))).unwrap_or_else(
            |_| {
                tracing::error!(path = context.path(), "the main-object factory panicked");
                Err(Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The server failed to set up a session for this request.",
                ))
            },
        )
    }
}

/// `response`, readable by the page at `origin` (another origin, allowed) if there is one.
fn with_cors(
    #[cfg_attr(not(feature = "http-batch"), allow(unused_mut))] mut response: Response<Full<Bytes>>,
    origin: Option<http::HeaderValue>,
    credentials: bool,
) -> Response<Full<Bytes>> {
    #[cfg(feature = "http-batch")]
    if let Some(origin) = origin {
        cors::allow_reading(response.headers_mut(), &origin, credentials);
    }
    #[cfg(not(feature = "http-batch"))]
    let _ = (origin, credentials);
    response
}

/// What this endpoint accepts, for a request it cannot serve (which transports it serves
/// depends on how capnweb was built).
fn method_not_allowed() -> Response<Full<Bytes>> {
    let (accepted, allow) = match (cfg!(feature = "http-batch"), cfg!(feature = "websocket")) {
        (true, true) => (
            "POST requests (HTTP batch) and WebSocket upgrades (GET with `Upgrade: websocket`)",
            "POST",
        ),
        (true, false) => (
            "POST requests (HTTP batch) only, not WebSocket upgrades",
            "POST",
        ),
        (false, true) => (
            "WebSocket upgrades (GET with `Upgrade: websocket`) only, not HTTP batch POSTs",
            "GET",
        ),
        (false, false) => (
            "no requests: it serves neither HTTP batch nor WebSocket",
            "",
        ),
    };
    let mut response = text_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("This Cap'n Web endpoint accepts {accepted}."),
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
    response
}

/// The future of a response.
pub(super) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>>;

impl<B> hyper::service::Service<Request<B>> for RpcService
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> ResponseFuture {
        let response = self.respond(request, &ConnectionContext::default());
        Box::pin(async move { Ok(response.await) })
    }
}

super::tower_service_from_hyper!(RpcService);
