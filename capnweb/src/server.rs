//! [`Server`]: HTTP batch and WebSocket sessions on one address; [`RpcService`]: the same for
//! your own HTTP server or router.
//!
//! A POST is an HTTP batch session; a GET with `Upgrade: websocket` becomes a WebSocket
//! session. Every session gets a fresh main object from the factory you give. A failing
//! connection or session never stops the server: its error is logged (with `tracing`) and
//! that connection ends.

mod service;
mod upgrade;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, watch};

pub use service::RpcService;

use crate::error::Error;
use crate::session::SessionOptions;
use crate::typed::TypedStub;

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
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    options: SessionOptions,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("options", &self.options)
            .finish()
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
        let failed = |e: std::io::Error| Error::Transport(format!("could not bind {addr:?}: {e}"));
        let listener = TcpListener::bind(&addr).await.map_err(failed)?;
        let local_addr = listener.local_addr().map_err(failed)?;
        Ok(Server {
            listener,
            local_addr,
            options: SessionOptions::default(),
        })
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

    /// Serves until the task is dropped, calling `new_main` for each session's main object (a
    /// [`Stub`](crate::Stub) or a typed stub). Accept errors are logged and the server goes on.
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
    pub async fn serve<F, M>(self, new_main: F) -> Result<(), Error>
    where
        F: Fn() -> M + Send + Sync + 'static,
        M: TypedStub,
    {
        self.serve_with_shutdown(new_main, std::future::pending())
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
    pub async fn serve_with_shutdown<F, M, G>(self, new_main: F, signal: G) -> Result<(), Error>
    where
        F: Fn() -> M + Send + Sync + 'static,
        M: TypedStub,
        G: Future<Output = ()> + Send + 'static,
    {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (tracker, mut everything_ended) = mpsc::channel::<()>(1);
        let service = RpcService::new(new_main)
            .options(self.options)
            .with_lifecycle(Lifecycle {
                shutdown: shutdown_rx,
                _tracker: tracker,
            });
        let mut signal = pin!(signal);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        tokio::spawn(serve_connection(stream, peer, service.clone()));
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

/// Errors that concern one connection only: the next accept may well succeed.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    )
}

/// Serves HTTP on one connection (HTTP/1 with upgrades, or HTTP/2), until it closes or the
/// server shuts down.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, service: RpcService) {
    // Messages are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let mut lifecycle = service.lifecycle().cloned();
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut connection =
        pin!(builder.serve_connection_with_upgrades(TokioIo::new(stream), service));
    let outcome = tokio::select! {
        outcome = connection.as_mut() => outcome,
        () = shutdown_requested(lifecycle.as_mut()) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(%peer, error = %e, "an HTTP connection ended with an error");
    }
}

/// What ties connections and sessions to a [`Server`]: the shutdown signal, and a tracker each
/// holds so the server knows when all of them ended.
#[derive(Clone)]
pub(crate) struct Lifecycle {
    shutdown: watch::Receiver<bool>,
    /// Never sent on; dropped when its holder ends.
    _tracker: mpsc::Sender<()>,
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
