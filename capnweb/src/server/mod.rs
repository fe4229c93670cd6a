//! [`Server`]: HTTP batch and WebSocket sessions on one address; [`RpcService`]: the same for
//! your own HTTP server or router.
//!
//! A POST is an HTTP batch session; a GET with `Upgrade: websocket` becomes a WebSocket
//! session. Every session gets a fresh main object from the factory you give, which may see
//! the request ([`RpcService::with_context`]) and refuse it ([`Refusal`]); [`Routes`] serve
//! several services by path, and a fallback service (static files, any tower service) the
//! requests that are not Cap'n Web's ([`Routes::fallback_service`]). A failing connection or
//! session never stops the server: its error is logged (with `tracing`) and that connection
//! ends.

/// Implements tower's `Service` for a type by its hyper `Service`: each of our services
/// writes its handling once, for hyper (`&self`, what hyper's connection loop calls), and is
/// also a tower service (`&mut self` after `poll_ready`, for axum and tower stacks), always
/// ready.
macro_rules! tower_service_from_hyper {
    ($ty:ty) => {
        impl<B> tower_service::Service<http::Request<B>> for $ty
        where
            $ty: hyper::service::Service<http::Request<B>>,
        {
            type Response = <$ty as hyper::service::Service<http::Request<B>>>::Response;
            type Error = <$ty as hyper::service::Service<http::Request<B>>>::Error;
            type Future = <$ty as hyper::service::Service<http::Request<B>>>::Future;

            fn poll_ready(
                &mut self,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: http::Request<B>) -> Self::Future {
                hyper::service::Service::call(&*self, request)
            }
        }
    };
}
use tower_service_from_hyper;

mod activity;
mod at_capacity;
mod connection;
#[cfg(feature = "http-batch")]
mod cors;
#[cfg(feature = "typescript")]
mod describe;
mod fallback;
mod forwarded;
mod origin;
mod refusal;
mod request;
mod routes;
mod service;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "websocket")]
mod upgrade;
#[cfg(feature = "webtransport")]
mod webtransport;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, watch, Semaphore};

#[cfg(feature = "webtransport")]
pub use crate::transport::webtransport::Certificate as WebTransportCertificate;
use activity::ConnectionTimeouts;
pub use at_capacity::AtCapacity;
use at_capacity::TurnAway;
pub use fallback::Body;
#[cfg(feature = "static-files")]
pub use fallback::ServeDir;
use forwarded::{ConnectionScheme, Scheme};
use origin::OriginPolicy;
pub use refusal::Refusal;
use request::RequestLimits;
use routes::Endpoint;
pub use routes::{IntoService, Routes};
use service::ConnectionContext;
pub use service::RpcService;

use crate::error::Error;
use crate::session::SessionOptions;

/// How long the accept loop pauses after an error that is not about one connection (e.g. out
/// of file descriptors), so that it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A Cap'n Web server: HTTP batch (POST) and WebSocket (`Upgrade: websocket`) on one address,
/// a fresh main object per session.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use capnweb::{Stub, Value};
///
/// let server = capnweb::Server::bind("127.0.0.1:0").await?;
/// let addr = server.local_addr();
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let serving = tokio::spawn(server.serve_with_shutdown(
///     || Stub::from_fn(|args: Vec<Value>| async move {
///         let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
///         Ok(Value::from(x * x))
///     }),
///     async { stopped.await.ok(); },
/// ));
///
/// // The same address speaks WebSocket...
/// let api: Stub = capnweb::websocket::connect(&format!("ws://{addr}/")).await?;
/// assert_eq!(api.call_self(vec![Value::from(3)]).await?, Value::from(9));
/// // ...and HTTP batch.
/// let batch: Stub = capnweb::http_batch::connect(&format!("http://{addr}/"));
/// assert_eq!(batch.call_self(vec![Value::from(4)]).await?, Value::from(16));
///
/// stop.send(()).ok();
/// serving.await.expect("the server task panicked")?;
/// # Ok(()) }
/// ```
///
/// Every resource a client can make the server spend is bounded, with defaults fit for the
/// open internet: connections at once ([`max_connections`](Server::max_connections)), the
/// time a request may take to arrive ([`header_read_timeout`](Server::header_read_timeout),
/// [`body_timeout`](Server::body_timeout)), idle connections
/// ([`keep_alive_timeout`](Server::keep_alive_timeout), and WebSocket keepalive), how long one
/// HTTP batch may run ([`batch_timeout`](Server::batch_timeout)), and, per session, messages,
/// tables, calls and queued bytes ([`SessionOptions`]).
///
/// Web pages of other sites than the server's own are refused (403) unless allowed
/// ([`allow_origin`](Server::allow_origin)); behind a reverse proxy, see
/// [`trust_forwarded_headers`](Server::trust_forwarded_headers).
#[must_use = "a server does nothing until `serve` is called"]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    options: SessionOptions,
    max_connections: usize,
    at_capacity: AtCapacity,
    timeouts: ConnectionTimeouts,
    limits: RequestLimits,
    /// Which web pages may call the services (see [`allow_origin`](Server::allow_origin)).
    origins: OriginPolicy,
    stats: Arc<Counters>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ServerTls>,
    #[cfg(feature = "webtransport")]
    webtransport: Option<webtransport::WebTransportEndpoint>,
    #[cfg(feature = "webtransport")]
    webtransport_settings: webtransport::WebTransportSettings,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("options", &self.options)
            .field("max_connections", &self.max_connections)
            .field("at_capacity", &self.at_capacity)
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .field("origins", &self.origins)
            .finish()
    }
}

/// The server's connection counters, shared with its [`ServerHandle`]s.
#[derive(Debug, Default)]
struct Counters {
    open: AtomicUsize,
    accepted: AtomicUsize,
    refused: AtomicUsize,
}

/// A view of a running [`Server`], from [`Server::handle`]: its counters.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    stats: Arc<Counters>,
}

impl ServerHandle {
    /// Connections open now (a WebSocket counts until its session ends).
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }

    /// Connections accepted since the server started, to be served (those turned away at
    /// [`max_connections`](Server::max_connections) are not among them).
    pub fn accepted_connections(&self) -> usize {
        self.stats.accepted.load(Ordering::Relaxed)
    }

    /// Connections turned away since the server started, because
    /// [`max_connections`](Server::max_connections) were open (see [`AtCapacity`]).
    pub fn refused_connections(&self) -> usize {
        self.stats.refused.load(Ordering::Relaxed)
    }
}

/// Counts a connection as open while it (or its WebSocket session) lives.
pub(crate) struct ConnectionSlot {
    stats: Arc<Counters>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Server {
    /// Binds `addr` (e.g. `"0.0.0.0:8080"`, or port 0 for any free port: see
    /// [`local_addr`](Server::local_addr)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// let server = capnweb::Server::bind("127.0.0.1:0").await?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok(()) }
    /// ```
    pub async fn bind<A>(addr: A) -> Result<Server, Error>
    where
        A: ToSocketAddrs + fmt::Debug,
    {
        let failed = |e: std::io::Error| {
            let what = format!("could not bind {addr:?}: {e}");
            Error::Transport(crate::TransportError::with_source(what, e))
        };
        let listener = TcpListener::bind(&addr).await.map_err(failed)?;
        let local_addr = listener.local_addr().map_err(failed)?;
        Ok(Server {
            listener,
            local_addr,
            options: SessionOptions::default(),
            max_connections: 10_000,
            at_capacity: AtCapacity::default(),
            timeouts: ConnectionTimeouts {
                header_read: Duration::from_secs(10),
                keep_alive: Duration::from_secs(60),
            },
            limits: RequestLimits::default(),
            origins: OriginPolicy::default(),
            stats: Arc::default(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "webtransport")]
            webtransport: None,
            #[cfg(feature = "webtransport")]
            webtransport_settings: webtransport::WebTransportSettings::default(),
        })
    }

    /// A handle for the server's counters, usable while it serves.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            stats: Arc::clone(&self.stats),
        }
    }

    /// The most connections served at once (default 10,000; keep it below the process's
    /// file descriptor limit). Past it a new connection is turned away at once, as
    /// [`at_capacity`](Server::at_capacity) says: by default it gets
    /// `503 Service Unavailable` with `Retry-After: 1`. A WebSocket counts until its session
    /// ends.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// What a connection gets when [`max_connections`](Server::max_connections) are open
    /// already: a 503 with `Retry-After` (the default, after 1 s), or a close (see
    /// [`AtCapacity`]). Either way it is dealt with at once, not left in the listen backlog
    /// until the client gives up, and a bounded number at a time (64 answers in flight, each
    /// at most 2 s; past that, connections are closed unanswered).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// use capnweb::{AtCapacity, Server};
    ///
    /// let server = Server::bind("127.0.0.1:0")
    ///     .await?
    ///     .max_connections(1_000)
    ///     .at_capacity(AtCapacity::Close);
    /// # let _ = server; Ok(()) }
    /// ```
    pub fn at_capacity(mut self, at_capacity: AtCapacity) -> Self {
        self.at_capacity = at_capacity;
        self
    }

    /// How long a client may take to send a request's headers, counted from its first byte
    /// (default 10 s). It also bounds a WebSocket handshake and an HTTP/2 preface: a slower
    /// one is dropped.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.header_read = timeout;
        self
    }

    /// How long a connection may sit idle between requests (default 60 s).
    pub fn keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.keep_alive = timeout;
        self
    }

    /// How long a request's body may take to arrive (default 30 s); a slower one gets 408.
    pub fn body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body = timeout;
        self
    }

    /// How long one HTTP batch may run, from its body read to its answer (default 30 s). A
    /// batch whose calls do not finish in time (one waits for a callback into the batch's own
    /// client, say) gets 503 saying so, and its session ends.
    pub fn batch_timeout(mut self, timeout: Duration) -> Self {
        self.limits.batch = timeout;
        self
    }

    /// WebSocket keepalive: a session pings a client that sent nothing for `interval`, and
    /// ends if nothing arrives within `timeout` after that (defaults: 30 s and 30 s).
    pub fn websocket_keepalive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.limits.ping_interval = interval;
        self.limits.ping_timeout = timeout;
        self
    }

    /// Serves TLS: `https://` for HTTP batch and `wss://` for WebSocket, and nothing in plain
    /// text. Each connection's handshake runs in that connection's task, bounded by the
    /// [`header_read_timeout`](Server::header_read_timeout); a failed one is logged at debug
    /// level and the connection dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// # let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # let (cert_pem, key_pem) = (generated.cert.pem(), generated.signing_key.serialize_pem());
    /// use capnweb::tls::ServerTls;
    ///
    /// let server = capnweb::Server::bind("127.0.0.1:0")
    ///     .await?
    ///     .tls(ServerTls::from_pem(cert_pem, key_pem)?);
    /// # let _ = server; Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Serves WebTransport (HTTP/3 over QUIC) on the UDP address `addr` as well, with
    /// `certificate` (a [`WebTransportCertificate`] or a
    /// [`DevCertificate`](crate::webtransport::DevCertificate)): the same routes, origin
    /// policy, factory, limits and graceful shutdown as HTTP and WebSocket. The socket is
    /// bound at once (port 0 picks a free one: see
    /// [`webtransport_addr`](Server::webtransport_addr)).
    ///
    /// A connection counts under [`max_connections`](Server::max_connections); its QUIC
    /// handshake and CONNECT request must complete within the
    /// [`header_read_timeout`](Server::header_read_timeout), and it ends once it hears nothing
    /// from its client for the [`webtransport_idle_timeout`](Server::webtransport_idle_timeout).
    /// A page of another origin is refused with 403, before the session is accepted. See
    /// [`webtransport`](crate::webtransport) for the framing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// use capnweb::webtransport::DevCertificate;
    ///
    /// let cert = DevCertificate::generate()?;
    /// let server = capnweb::Server::bind("127.0.0.1:0")
    ///     .await?
    ///     .webtransport("127.0.0.1:0".parse().unwrap(), &cert)?;
    /// let udp = server.webtransport_addr().unwrap();
    /// println!("https://{udp}/ (certificate SHA-256 {})", cert.sha256_hex());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "webtransport")]
    pub fn webtransport(
        mut self,
        addr: SocketAddr,
        certificate: impl Into<WebTransportCertificate>,
    ) -> Result<Self, Error> {
        let endpoint = webtransport::WebTransportEndpoint::bind(
            addr,
            certificate.into(),
            self.webtransport_settings,
        )?;
        self.webtransport = Some(endpoint);
        Ok(self)
    }

    /// How long a WebTransport connection may hear nothing from its client before it ends
    /// (default 60 s): the server pings a quiet connection after a third of it, and a client
    /// that is there answers (QUIC acknowledges a ping without the application), so only a
    /// client that is gone (its machine or network) reaches it, as with
    /// [`websocket_keepalive`](Server::websocket_keepalive). Set it before
    /// [`webtransport`](Server::webtransport).
    #[cfg(feature = "webtransport")]
    pub fn webtransport_idle_timeout(mut self, timeout: Duration) -> Self {
        self.webtransport_settings.idle_timeout = timeout;
        self
    }

    /// The UDP address WebTransport is served on, once [`webtransport`](Server::webtransport)
    /// bound it.
    #[cfg(feature = "webtransport")]
    pub fn webtransport_addr(&self) -> Option<SocketAddr> {
        self.webtransport
            .as_ref()
            .map(|endpoint| endpoint.local_addr)
    }

    /// `https` with TLS, `http` without: the scheme of the services' own origin.
    fn scheme(&self) -> Scheme {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return Scheme::Https;
        }
        Scheme::Http
    }

    /// The address the server listens on (with the actual port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The options every session starts with (limits, error hook). The HTTP batch body limit
    /// derives from them (see [`http_batch`](crate::http_batch#body-size)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
    /// use capnweb::{Limits, SessionOptions};
    ///
    /// let server = capnweb::Server::bind("127.0.0.1:0")
    ///     .await?
    ///     .options(SessionOptions::default().limits(Limits::default().max_message_size(1 << 20)));
    /// # let _ = server; Ok(()) }
    /// ```
    pub fn options(mut self, options: SessionOptions) -> Self {
        self.options = options;
        self
    }

    /// Serves `routes` until the task is dropped: a closure making each session's main object
    /// (a [`Stub`](crate::Stub) or a typed stub) for every path, an [`RpcService`] (e.g. one
    /// whose factory sees the request: [`RpcService::with_context`]), or [`Routes`] (services
    /// by path). Accept errors are logged and the server goes on.
    ///
    /// The server's settings ([`options`](Server::options), timeouts, keepalive, the origin
    /// policy) apply to every service that does not set its own.
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), capnweb::Error> {
    /// use capnweb::{Stub, Value};
    ///
    /// capnweb::Server::bind("127.0.0.1:8080")
    ///     .await?
    ///     .serve(|| Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello")) }))
    ///     .await
    /// # }
    /// ```
    pub async fn serve(self, routes: impl Into<Routes>) -> Result<(), Error> {
        self.serve_with_shutdown(routes, std::future::pending())
            .await
    }

    /// Serves until `signal` completes, then shuts down gracefully: stops accepting, lets
    /// open HTTP requests finish, closes WebSockets with code 1001 ("going away") and waits
    /// for their sessions to end (at most a few seconds each).
    ///
    /// A request whose result never settles keeps the shutdown waiting: bound it from outside
    /// (e.g. `tokio::time::timeout`) if that can happen.
    ///
    /// ```no_run
    /// # async fn example(ctrl_c: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), capnweb::Error> {
    /// use capnweb::{Stub, Value};
    ///
    /// capnweb::Server::bind("127.0.0.1:8080")
    ///     .await?
    ///     .serve_with_shutdown(
    ///         || Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello")) }),
    ///         ctrl_c, // e.g. async { tokio::signal::ctrl_c().await.ok(); }
    ///     )
    ///     .await
    /// # }
    /// ```
    pub async fn serve_with_shutdown<G>(
        #[cfg_attr(not(feature = "webtransport"), allow(unused_mut))] mut self,
        routes: impl Into<Routes>,
        signal: G,
    ) -> Result<(), Error>
    where
        G: Future<Output = ()> + Send + 'static,
    {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (tracker, mut everything_ended) = mpsc::channel::<()>(1);
        let mut routes = routes.into();
        routes.inherit(&self.options, self.limits, &self.origins);
        let service = Endpoint {
            routes: Arc::new(routes),
            connection: ConnectionContext {
                lifecycle: Some(Lifecycle {
                    shutdown: shutdown_rx,
                    _tracker: tracker,
                    slot: None,
                }),
                activity: None,
                peer: None,
                scheme: ConnectionScheme::Known(self.scheme()),
            },
        };
        let slots = Arc::new(Semaphore::new(self.max_connections));
        #[cfg(feature = "webtransport")]
        if let Some(endpoint) = self.webtransport.take() {
            tokio::spawn(webtransport::serve(
                endpoint,
                service.clone(),
                Arc::clone(&slots),
                Arc::clone(&self.stats),
                self.timeouts.header_read,
                self.webtransport_settings,
            ));
        }
        let turn_away = self.turn_away();
        let mut signal = pin!(signal);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        // At the limit, the client hears so at once (rather than waiting in
                        // the backlog for its own timeout) and takes no slot.
                        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                            self.stats.refused.fetch_add(1, Ordering::Relaxed);
                            turn_away.turn_away(stream, peer);
                            continue;
                        };
                        // Messages are small and latency matters more than packet count.
                        let _ = stream.set_nodelay(true);
                        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                        self.stats.open.fetch_add(1, Ordering::Relaxed);
                        let slot = Arc::new(ConnectionSlot {
                            stats: Arc::clone(&self.stats),
                            _permit: permit,
                        });
                        let service = service.clone().for_connection(slot, peer);
                        #[cfg(feature = "tls")]
                        if let Some(tls) = &self.tls {
                            tokio::spawn(tls::serve(tls.acceptor(), stream, peer, service, self.timeouts));
                            continue;
                        }
                        tokio::spawn(connection::serve(stream, peer, service, self.timeouts));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        if !is_connection_error(&e) {
                            tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                        }
                    }
                },
                () = &mut signal => break,
            }
        }
        drop(self.listener);
        shutdown_tx.send_replace(true);
        drop(service);
        // Every connection and session holds a tracker; `None` once the last one ended.
        let _ = everything_ended.recv().await;
        Ok(())
    }
}

impl Server {
    /// What turns connections away at `max_connections`, over TLS if the server speaks it.
    fn turn_away(&self) -> TurnAway {
        let turn_away = TurnAway::new(self.at_capacity);
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return turn_away.over_tls(tls.acceptor());
        }
        turn_away
    }
}

/// Errors that concern one connection only: the next accept may well succeed.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    )
}

/// What ties connections and sessions to a [`Server`]: the shutdown signal, and a tracker each
/// holds so the server knows when all of them ended.
#[derive(Clone)]
pub(crate) struct Lifecycle {
    shutdown: watch::Receiver<bool>,
    /// Never sent on; dropped when its holder ends.
    _tracker: mpsc::Sender<()>,
    /// The connection's place under `max_connections`, held by its sessions too.
    slot: Option<Arc<ConnectionSlot>>,
}

/// Completes when the server shuts down; never, without a server.
async fn shutdown_requested(lifecycle: Option<&mut Lifecycle>) {
    let stopping = match lifecycle {
        Some(lifecycle) => lifecycle.shutdown.wait_for(|down| *down).await.is_ok(),
        None => false,
    };
    if !stopping {
        // The server went away without a shutdown (its task was dropped): keep serving.
        std::future::pending::<()>().await;
    }
}
