//! [`RpcService`]: the server's request handler, as a hyper and a tower service.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::Either;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Body;

use super::connection::Activity;
use super::{upgrade, Lifecycle};
use crate::session::SessionOptions;
use crate::stub::Stub;
use crate::transport::http_batch;
use crate::typed::TypedStub;

type NewMain = Arc<dyn Fn() -> Stub + Send + Sync>;

/// A Cap'n Web endpoint as a service: HTTP batch for POST, a WebSocket session for a GET with
/// `Upgrade: websocket`, a fresh main object per session from the factory.
///
/// It implements both [`hyper::service::Service`] and [`tower_service::Service`], so it can be
/// mounted in your own hyper server or router (axum: `Router::route_service`). WebSocket
/// upgrades need a server that supports them (hyper's `serve_connection_with_upgrades`; axum's
/// `serve` does). [`Server`](crate::Server) is this service on its own listener.
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
pub struct RpcService {
    new_main: NewMain,
    options: SessionOptions,
    pub(super) limits: RequestLimits,
    lifecycle: Option<Lifecycle>,
    /// The connection this clone serves, when a [`Server`](crate::Server) runs it.
    activity: Option<Arc<Activity>>,
}

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

impl fmt::Debug for RpcService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcService")
            .field("options", &self.options)
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
        RpcService {
            new_main: Arc::new(move || new_main().as_untyped().clone()),
            options: SessionOptions::default(),
            limits: RequestLimits::default(),
            lifecycle: None,
            activity: None,
        }
    }

    /// The options every session starts with (see [`Server::options`](crate::Server::options)).
    pub fn options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }

    /// How long a request's body may take to arrive (default 30 s); a slower one gets 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body = timeout;
        self
    }

    /// How long one HTTP batch may run, from its body read to its answer (default 30 s). A
    /// batch whose calls do not finish in time gets 503, saying so, and its session ends.
    pub fn batch_timeout(mut self, timeout: Duration) -> Self {
        self.limits.batch = timeout;
        self
    }

    /// WebSocket keepalive: a session pings a peer that sent nothing for `interval`, and ends
    /// if nothing arrives within `timeout` after that (defaults: 30 s and 30 s).
    pub fn websocket_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.limits.ping_interval = interval;
        self.limits.ping_timeout = timeout;
        self
    }

    pub(super) fn watched_by(mut self, activity: Arc<Activity>) -> Self {
        self.activity = Some(activity);
        self
    }

    pub(super) fn with_lifecycle(mut self, lifecycle: Lifecycle) -> Self {
        self.lifecycle = Some(lifecycle);
        self
    }

    /// This clone serves one connection, counted in `slot`.
    pub(super) fn in_slot(mut self, slot: Arc<super::ConnectionSlot>) -> Self {
        if let Some(lifecycle) = &mut self.lifecycle {
            lifecycle.slot = Some(slot);
        }
        self
    }

    pub(super) fn lifecycle(&self) -> Option<&Lifecycle> {
        self.lifecycle.as_ref()
    }

    /// Answers one request.
    fn respond<B>(
        &self,
        mut request: Request<B>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send + 'static
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if upgrade::is_websocket_request(&request) {
            let response = upgrade::accept(
                &mut request,
                &*self.new_main,
                self.options.clone(),
                self.limits,
                self.lifecycle.clone(),
            );
            return Either::Left(std::future::ready(response));
        }
        if request.method() != Method::POST {
            return Either::Left(std::future::ready(method_not_allowed()));
        }
        Either::Right(http_batch::handle_within(
            request,
            (self.new_main)(),
            self.options.clone(),
            self.limits.body,
            self.limits.batch,
        ))
    }
}

fn method_not_allowed() -> Response<Full<Bytes>> {
    let mut response = http_batch::text_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "This Cap'n Web endpoint accepts POST requests (HTTP batch) and WebSocket upgrades \
         (GET with `Upgrade: websocket`)."
            .into(),
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
    response
}

/// The future of a response.
type ResponseFuture =
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
        // In flight for the connection's watchdog until the response is ready.
        let in_flight = self.activity.as_ref().map(Activity::request_started);
        let response = self.respond(request);
        Box::pin(async move {
            let response = response.await;
            drop(in_flight);
            Ok(response)
        })
    }
}

impl<B> tower_service::Service<Request<B>> for RpcService
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
        hyper::service::Service::call(self, request)
    }
}
