//! [`Routes`]: several services on one server, by path; and the service a [`Server`]'s
//! connections run.
//!
//! [`Server`]: crate::Server

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::Either;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Body;

use super::connection::Activity;
use super::origin::OriginPolicy;
use super::refusal::Refusal;
use super::service::{ConnectionContext, RequestLimits, ResponseFuture, RpcService};
use crate::session::SessionOptions;
use crate::typed::TypedStub;

/// Several Cap'n Web services on one [`Server`](crate::Server), each at its own path, e.g. a
/// public API at `/notes` and an administrators' one at `/admin`. A request for a path with no
/// service gets 404, over HTTP batch and WebSocket alike (before any upgrade), unless a
/// [`fallback`](Routes::fallback) takes it.
///
/// Paths match exactly (`/notes` is not `/notes/`), without the query string.
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
    fallback: Option<RpcService>,
}

impl fmt::Debug for Routes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut paths: Vec<&str> = self.exact.keys().map(String::as_str).collect();
        paths.sort_unstable();
        f.debug_struct("Routes")
            .field("paths", &paths)
            .field("fallback", &self.fallback.is_some())
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

    /// Serves `service` at every path no route names (instead of 404).
    pub fn fallback(mut self, service: impl IntoService) -> Routes {
        self.fallback = Some(service.into_service());
        self
    }

    /// Takes the server's settings for what each service leaves unset.
    pub(super) fn inherit(
        &mut self,
        options: &SessionOptions,
        limits: RequestLimits,
        origins: &OriginPolicy,
    ) {
        let services = self.exact.values_mut().chain(self.fallback.as_mut());
        services.for_each(|service| service.inherit(options, limits, origins));
    }

    fn find(&self, path: &str) -> Option<&RpcService> {
        self.exact.get(path).or(self.fallback.as_ref())
    }

    fn respond<B>(&self, request: Request<B>, connection: &ConnectionContext) -> ResponseFuture
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let response = match self.find(request.uri().path()) {
            Some(service) => Either::Left(service.respond(request, connection)),
            None => Either::Right(std::future::ready(self.not_found(request.uri().path()))),
        };
        Box::pin(async move { Ok(response.await) })
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
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<B>) -> ResponseFuture {
        self.respond(request, &ConnectionContext::default())
    }
}

impl<B> tower_service::Service<Request<B>> for Routes
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        self.respond(request, &ConnectionContext::default())
    }
}

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
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
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
