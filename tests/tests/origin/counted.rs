//! A server that counts what it ran: sessions (main-object factory calls) and method calls,
//! so a test can show that a refused request ran nothing at all.

#![allow(dead_code)] // each test file uses what it needs

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use capnweb::{
    CallFuture, RequestContext, Routes, RpcError, RpcService, RpcTarget, Server, Stub, Value,
};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What a [`CountedServer`] ran so far.
#[derive(Clone, Default)]
pub struct Counts {
    sessions: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Counts {
    /// Main objects made (each served request or WebSocket got one).
    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    /// Method calls run on them.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// A service whose main object answers `square(x)` and `whoami()` (the `session`
    /// cookie the request carried), counted here.
    pub fn service(&self) -> RpcService {
        let counts = self.clone();
        RpcService::with_context(move |request: &RequestContext| {
            counts.sessions.fetch_add(1, Ordering::SeqCst);
            let user = request.cookie("session").unwrap_or("nobody").to_owned();
            Ok(Stub::new(Counted {
                counts: counts.clone(),
                user,
            }))
        })
    }
}

/// The main object: counts each call.
struct Counted {
    counts: Counts,
    user: String,
}

impl RpcTarget for Counted {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        self.counts.calls.fetch_add(1, Ordering::SeqCst);
        let result = match method {
            "square" => {
                let x = args.first().and_then(Value::as_f64).unwrap_or(f64::NAN);
                Ok(Value::from(x * x))
            }
            "whoami" => Ok(Value::from(self.user.as_str())),
            _ => Err(RpcError::type_error(format!(
                "'{method}' is not a method of this test's main object"
            ))),
        };
        CallFuture::ready(result)
    }
}

/// A [`Server`] on a free loopback port serving a counted service at every path; it stops
/// when dropped.
pub struct CountedServer {
    pub addr: SocketAddr,
    pub counts: Counts,
    stop: Option<oneshot::Sender<()>>,
    _task: JoinHandle<Result<(), capnweb::Error>>,
}

impl CountedServer {
    /// With the server's settings chosen by `configure`.
    pub async fn start(configure: impl FnOnce(Server) -> Server) -> CountedServer {
        CountedServer::start_with(configure, |service| service).await
    }

    /// With the server's settings chosen by `configure` and the service's by `service`.
    pub async fn start_with(
        configure: impl FnOnce(Server) -> Server,
        service: impl FnOnce(RpcService) -> RpcService,
    ) -> CountedServer {
        CountedServer::start_routes(configure, |counts| Routes::from(service(counts.service())))
            .await
    }

    /// With the server's settings chosen by `configure`, serving the routes `routes` makes
    /// (with [`Counts::service`] for counted services).
    pub async fn start_routes(
        configure: impl FnOnce(Server) -> Server,
        routes: impl FnOnce(&Counts) -> Routes,
    ) -> CountedServer {
        let counts = Counts::default();
        let server = configure(Server::bind("127.0.0.1:0").await.unwrap());
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_with_shutdown(routes(&counts), async {
            stopped.await.ok();
        }));
        CountedServer {
            addr,
            counts,
            stop: Some(stop),
            _task: task,
        }
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The server's own origin, as a page loaded from it would send it.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Nothing ran: no main object was made, no call was run.
    pub fn assert_nothing_ran(&self, what: &str) {
        assert_eq!(
            self.counts.sessions(),
            0,
            "{what}: the main-object factory ran"
        );
        assert_eq!(self.counts.calls(), 0, "{what}: a call ran");
    }
}

impl Drop for CountedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
