//! [`Routes`]: several services on one server, by path; and the service a [`Server`]'s
//! connections run.
//!
//! [`Server`]: crate::Server

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use hyper::body::Body as Body_;

use super::activity::Activity;
use super::fallback::{Body, BoxError, HttpService};
use super::origin::OriginPolicy;
use super::refusal::Refusal;
use super::request::{is_websocket_request, RequestLimits};
use super::service::{ConnectionContext, RpcService};
use crate::session::SessionOptions;
use crate::typed::TypedStub;

/// The future of a response of [`Routes`].
type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// Whether a request is Cap'n Web's: an HTTP batch (POST), a WebSocket upgrade, or a CORS
/// preflight (OPTIONS) for either.
fn is_rpc_request<B>(request: &Request<B>) -> bool {
    let method = request.method();
    method == Method::POST || method == Method::OPTIONS || is_websocket_request(request)
}

/// Whether `service` answers `request` with its API's description (a GET asking for JSON,
/// with [`describe`](RpcService::describe) on): then it is not the fallback service's.
fn describes<B>(service: &RpcService, request: &Request<B>) -> bool {
    #[cfg(feature = "typescript")]
    return service.describes(request);
    #[cfg(not(feature = "typescript"))]
    {
        let _ = (service, request);
        false
    }
}

/// Several Cap'n Web services on one [`Server`](crate::Server), each at its own path, e.g. a
/// public API at `/notes` and an administrators' one at `/admin`. A request for a path with no
/// service gets 404, over HTTP batch and WebSocket alike (before any upgrade), unless a
/// [`fallback`](Routes::fallback) takes it.
///
/// Paths match exactly (`/notes` is not `/notes/`), without the query string.
///
/// The page that calls the API, and its assets, can share the server (one origin, with the
/// server's TLS, limits, timeouts and graceful shutdown): give any HTTP service as the
/// [`fallback_service`](Routes::fallback_service), e.g. a directory of static files
/// ([`ServeDir`](crate::ServeDir), with the `static-files` feature).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use capnweb::{Refusal, RequestContext, Routes, RpcService, Stub, Value};
///
/// let routes = Routes::new()
///     .route("/notes", || Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("notes")) }))
///     .route("/admin", RpcService::with_context(|request: &RequestContext| {
///         if request.bearer_token() != Some("admin-token") {
///             return Err(Refusal::forbidden("administrators only"));
///         }
///         Ok(Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("admin")) }))
///     }));
///
/// let server = capnweb::Server::bind("127.0.0.1:0").await?;
/// let addr = server.local_addr();
/// tokio::spawn(server.serve(routes));
///
/// let notes: Stub = capnweb::websocket::connect(&format!("ws://{addr}/notes")).await?;
/// assert_eq!(notes.call_self(vec![]).await?, Value::from("notes"));
/// let nowhere = capnweb::websocket::connect::<Stub>(&format!("ws://{addr}/nowhere")).await;
/// assert!(nowhere.unwrap_err().to_string().contains("404"));
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Routes {
    exact: HashMap<String, RpcService>,
    fallback: Option<Fallback>,
}

/// What serves the requests no route takes.
#[derive(Clone)]
enum Fallback {
    /// A Cap'n Web service, at every other path.
    Rpc(Box<RpcService>),
    /// Any HTTP service: every other path, and the requests at a route's path that are not
    /// Cap'n Web's (a plain GET, e.g.).
    Http(HttpService),
}

/// Who answers a request.
enum Target<'a> {
    Rpc(&'a RpcService),
    Http(&'a HttpService),
    NotFound,
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut paths: Vec<&str> = self.exact.keys().map(String::as_str).collect();
        paths.sort_unstable();
        f.debug_struct("Routes")
            .field("paths", &paths)
            .field(
                "fallback",
                &match self.fallback {
                    None => "none",
                    Some(Fallback::Rpc(_)) => "rpc",
                    Some(Fallback::Http(_)) => "service",
                },
            )
            .finish()
    }
}

/// What [`Routes::route`] and [`Server::serve`](crate::Server::serve) take: an [`RpcService`],
/// or a closure making a fresh main object per session (a [`Stub`](crate::Stub) or a typed
/// stub).
pub trait IntoService {
    /// The service.
    fn into_service(self) -> RpcService;
}

impl IntoService for RpcService {
    fn into_service(self) -> RpcService {
        self
    }
}

impl<F, M> IntoService for F
where
    F: Fn() -> M + Send + Sync + 'static,
    M: TypedStub,
{
    fn into_service(self) -> RpcService {
        RpcService::new(self)
    }
}

/// One service for every path.
impl<S: IntoService> From<S> for Routes {
    fn from(service: S) -> Routes {
        Routes::new().fallback(service)
    }
}

impl Routes {
    /// No routes yet: every path gets 404.
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Serves `service` at `path` (which starts with `/`). A later route for the same path
    /// replaces the earlier one.
    pub fn route(mut self, path: &str, service: impl IntoService) -> Routes {
        self.exact.insert(path.to_owned(), service.into_service());
        self
    }

    /// Serves `service` at every path no route names (instead of 404). It replaces a
    /// [`fallback_service`](Routes::fallback_service).
    pub fn fallback(mut self, service: impl IntoService) -> Routes {
        self.fallback = Some(Fallback::Rpc(Box::new(service.into_service())));
        self
    }

    /// Hands the requests that are not Cap'n Web's to `service`, any tower service (tower-http's
    /// [`ServeDir`](crate::ServeDir) for a directory of static files, an axum `Router`, your
    /// own): every path no route names, and at a route's path every request other than an
    /// HTTP batch POST, a WebSocket upgrade or a CORS preflight (so a plain `GET` of the
    /// API's own path is the service's, where without a fallback it gets 405; one asking for
    /// JSON stays the route's when it [`describe`](RpcService::describe)s its API). It replaces
    /// a [`fallback`](Routes::fallback).
    ///
    /// The origin policy applies to the Cap'n Web requests only; the service answers what it
    /// is asked, as it would on its own. An error from it is logged and answered with 500. On
    /// a [`Server`](crate::Server), the request carries the client's address as a
    /// [`SocketAddr`](std::net::SocketAddr) extension (axum: `Extension<SocketAddr>`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::convert::Infallible;
    /// use capnweb::{Body, Routes, Stub, Value};
    ///
    /// // Any tower service: here a function answering every request with the same page.
    /// #[derive(Clone)]
    /// struct Page;
    /// impl tower_service::Service<http::Request<Body>> for Page {
    ///     type Response = http::Response<String>;
    ///     type Error = Infallible;
    ///     type Future = std::future::Ready<Result<http::Response<String>, Infallible>>;
    ///     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
    ///         std::task::Poll::Ready(Ok(()))
    ///     }
    ///     fn call(&mut self, _request: http::Request<Body>) -> Self::Future {
    ///         std::future::ready(Ok(http::Response::new("<h1>hello</h1>".to_owned())))
    ///     }
    /// }
    ///
    /// let routes = Routes::new()
    ///     .route("/api", || Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) }))
    ///     .fallback_service(Page);
    /// let server = capnweb::Server::bind("127.0.0.1:0").await?;
    /// let addr = server.local_addr();
    /// tokio::spawn(server.serve(routes));
    ///
    /// let api: Stub = capnweb::websocket::connect(&format!("ws://{addr}/api")).await?;
    /// assert_eq!(api.call_self(vec![]).await?, Value::from(1));
    /// # let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    /// # use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// # tcp.write_all(b"GET /index.html HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
    /// # let mut page = String::new();
    /// # tcp.read_to_string(&mut page).await?;
    /// # assert!(page.starts_with("HTTP/1.1 200") && page.ends_with("<h1>hello</h1>"), "{page}");
    /// # Ok(()) }
    /// ```
    ///
    /// A directory of static files (the `static-files` feature), with the API at `/rpc`:
    ///
    /// ```no_run
    /// # #[cfg(feature = "static-files")]
    /// # async fn example() -> Result<(), capnweb::Error> {
    /// use capnweb::{Routes, ServeDir, Server, Stub, Value};
    ///
    /// let api = || Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from(1)) });
    /// let routes = Routes::new().route("/rpc", api).fallback_service(ServeDir::new("web"));
    /// Server::bind("127.0.0.1:8080").await?.serve(routes).await
    /// # }
    /// ```
    pub fn fallback_service<S, B>(mut self, service: S) -> Routes
    where
        S: tower_service::Service<Request<Body>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: Body_ + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.fallback = Some(Fallback::Http(HttpService::new(service)));
        self
    }

    /// Takes the server's settings for what each service leaves unset.
    pub(super) fn inherit(
        &mut self,
        options: &SessionOptions,
        limits: RequestLimits,
        origins: &OriginPolicy,
    ) {
        let fallback = match &mut self.fallback {
            Some(Fallback::Rpc(service)) => Some(&mut **service),
            _ => None,
        };
        let services = self.exact.values_mut().chain(fallback);
        services.for_each(|service| service.inherit(options, limits, origins));
    }

    fn find<B>(&self, request: &Request<B>) -> Target<'_> {
        let route = self.exact.get(request.uri().path());
        match (route, &self.fallback) {
            (Some(service), Some(Fallback::Http(http)))
                if !is_rpc_request(request) && !describes(service, request) =>
            {
                Target::Http(http)
            }
            (Some(service), _) => Target::Rpc(service),
            (None, Some(Fallback::Rpc(service))) => Target::Rpc(service),
            (None, Some(Fallback::Http(http))) => Target::Http(http),
            (None, None) => Target::NotFound,
        }
    }

    fn respond<B>(&self, request: Request<B>, connection: &ConnectionContext) -> ResponseFuture
    where
        B: Body_ + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        match self.find(&request) {
            Target::Rpc(service) => {
                let response = service.respond(request, connection);
                Box::pin(async move { Ok(response.await.map(Body::from)) })
            }
            Target::Http(http) => {
                let mut request = request.map(Body::new);
                if let Some(peer) = connection.peer {
                    request.extensions_mut().insert(peer);
                }
                let response = http.call(request);
                Box::pin(async move { Ok(response.await) })
            }
            Target::NotFound => {
                let response = self.not_found(request.uri().path()).map(Body::from);
                Box::pin(std::future::ready(Ok(response)))
            }
        }
    }

    /// The Cap'n Web service for a WebTransport session at `path`: its route's, or the
    /// fallback's if that is a Cap'n Web service.
    #[cfg(feature = "webtransport")]
    pub(super) fn webtransport_service(&self, path: &str) -> Option<&RpcService> {
        match (self.exact.get(path), &self.fallback) {
            (Some(service), _) => Some(service),
            (None, Some(Fallback::Rpc(service))) => Some(service),
            _ => None,
        }
    }

    fn not_found(&self, path: &str) -> Response<Full<Bytes>> {
        let mut paths: Vec<&str> = self.exact.keys().map(String::as_str).collect();
        paths.sort_unstable();
        let served = match paths.as_slice() {
            [] => "none".to_owned(),
            paths => paths.join(", "),
        };
        tracing::debug!(path, "a request for a path with no service");
        Refusal::not_found(format!(
            "There is no Cap'n Web endpoint at {path}. This server's endpoints: {served}."
        ))
        .into_response()
    }
}

impl<B> hyper::service::Service<Request<B>> for Routes
where
    B: Body_ + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> ResponseFuture {
        self.respond(request, &ConnectionContext::default())
    }
}

super::tower_service_from_hyper!(Routes);

/// What one connection of a [`Server`](crate::Server) runs: the server's routes, with the
/// connection's context.
#[derive(Clone)]
pub(super) struct Endpoint {
    pub(super) routes: Arc<Routes>,
    pub(super) connection: ConnectionContext,
}

impl Endpoint {
    /// This clone serves the connection from `peer`, counted in `slot`.
    pub(super) fn for_connection(
        mut self,
        slot: Arc<super::ConnectionSlot>,
        peer: std::net::SocketAddr,
    ) -> Self {
        if let Some(lifecycle) = &mut self.connection.lifecycle {
            lifecycle.slot = Some(slot);
        }
        self.connection.peer = Some(peer);
        self
    }

    pub(super) fn lifecycle(&self) -> Option<&super::Lifecycle> {
        self.connection.lifecycle.as_ref()
    }

    pub(super) fn watched_by(mut self, activity: Arc<Activity>) -> Self {
        self.connection.activity = Some(activity);
        self
    }
}

impl<B> hyper::service::Service<Request<B>> for Endpoint
where
    B: Body_ + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> ResponseFuture {
        // In flight for the connection's watchdog until the response is ready.
        let in_flight = self
            .connection
            .activity
            .as_ref()
            .map(Activity::request_started);
        let response = self.routes.respond(request, &self.connection);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            response
        })
    }
}
