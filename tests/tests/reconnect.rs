//! Reconnection: the server goes away and comes back on the same port; calls pending at the
//! break fail with a disconnected error, typed stubs hear of it, and the client carries on with
//! a new session.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capnweb::reconnect::{Backoff, Reconnecting};
use capnweb::{rpc_target, Session, SessionOptions, TypedStub};
use common::within;
use tokio::sync::oneshot;

#[derive(Debug)]
pub struct Api {
    generation: u32,
}

#[rpc_target]
impl Api {
    pub fn generation(&self) -> u32 {
        self.generation
    }

    pub async fn hang(&self) {
        std::future::pending::<()>().await;
    }
}

/// A running server, and what it takes to kill it as a crashing process would: every session
/// aborted, the listener closed.
struct Running {
    stop: oneshot::Sender<()>,
    sessions: Arc<Mutex<Vec<Session>>>,
    done: tokio::task::JoinHandle<()>,
}

async fn serve(addr: SocketAddr, generation: u32) -> (SocketAddr, Running) {
    let sessions: Arc<Mutex<Vec<Session>>> = Arc::default();
    let seen = Arc::clone(&sessions);
    let server = capnweb::Server::bind(addr)
        .await
        .unwrap()
        .options(SessionOptions::default().on_start(move |s| seen.lock().unwrap().push(s.clone())));
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(async move {
        let signal = async {
            stopped.await.ok();
        };
        server
            .serve_with_shutdown(move || ApiStub::new(Api { generation }), signal)
            .await
            .unwrap();
    });
    (
        addr,
        Running {
            stop,
            sessions,
            done,
        },
    )
}

impl Running {
    async fn crash(self) {
        for session in self.sessions.lock().unwrap().drain(..) {
            session.abort(capnweb::RpcError::error("the server process died"));
        }
        let _ = self.stop.send(());
        within("the server to stop", self.done).await.unwrap();
    }
}

#[tokio::test]
async fn the_server_restarts_and_the_client_carries_on() {
    let (addr, first) = serve("127.0.0.1:0".parse().unwrap(), 1).await;
    let url = format!("ws://{addr}/");
    let client = Reconnecting::<ApiStub>::new(move || {
        let url = url.clone();
        async move { capnweb::websocket::connect_with(&url, None, SessionOptions::default()).await }
    })
    .backoff(
        Backoff::default()
            .initial(Duration::from_millis(10))
            .max(Duration::from_millis(100)),
    );

    let api = within("a session", client.main()).await.unwrap();
    assert_eq!(within("a call", api.generation()).await.unwrap(), 1);
    let (broken_tx, broken) = oneshot::channel();
    api.on_broken(move |error| {
        let _ = broken_tx.send(error.to_string());
    });
    let pending = tokio::spawn(std::future::IntoFuture::into_future(api.hang()));
    // The call reaches the server before it dies.
    common::until("the call is on the server", || {
        first
            .sessions
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.stats().calls == 2)
    })
    .await;

    first.crash().await;
    let failed = within("the pending call", pending)
        .await
        .unwrap()
        .unwrap_err();
    assert!(failed.is_disconnected(), "{failed:?}");
    assert!(within("on_broken", broken).await.unwrap().contains("died"));
    // The old stub stays broken.
    assert!(within("a call", api.generation())
        .await
        .unwrap_err()
        .is_disconnected());

    // The server comes back on the same port a little later; the client retries meanwhile.
    let restarted = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        serve(addr, 2).await
    });
    let api = within("a new session", client.main()).await.unwrap();
    assert_eq!(within("a call", api.generation()).await.unwrap(), 2);
    assert_eq!(client.sessions_opened(), 2);
    let (_, second) = restarted.await.unwrap();
    second.crash().await;
}

#[tokio::test]
async fn attempts_run_out_with_the_last_error() {
    // A port nobody listens on: bind one, and close it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("ws://{addr}/");
    let attempts = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&attempts);
    let client = Reconnecting::<capnweb::Stub>::new(move || {
        *counted.lock().unwrap() += 1;
        let url = url.clone();
        async move { capnweb::websocket::connect_with(&url, None, SessionOptions::default()).await }
    })
    .backoff(
        Backoff::default()
            .initial(Duration::from_millis(1))
            .max_attempts(3),
    );
    let error = within("the attempts", client.main()).await.unwrap_err();
    assert!(
        error.to_string().contains("could not open a WebSocket"),
        "{error}"
    );
    assert_eq!(*attempts.lock().unwrap(), 3);
    assert_eq!(client.sessions_opened(), 0);
}

#[tokio::test]
async fn a_failing_setup_counts_as_a_failed_attempt() {
    let (addr, server) = serve("127.0.0.1:0".parse().unwrap(), 7).await;
    let url = format!("ws://{addr}/");
    let setups = Arc::new(Mutex::new(0));
    let counted = Arc::clone(&setups);
    let client = Reconnecting::<ApiStub>::new(move || {
        let url = url.clone();
        async move { capnweb::websocket::connect_with(&url, None, SessionOptions::default()).await }
    })
    .backoff(Backoff::default().initial(Duration::from_millis(1)))
    .on_connect(move |api: ApiStub| {
        let counted = Arc::clone(&counted);
        async move {
            let count = {
                let mut count = counted.lock().unwrap();
                *count += 1;
                *count
            };
            if count < 3 {
                return Err(capnweb::Error::disconnected("not yet"));
            }
            api.generation().await.map(drop)
        }
    });
    let api = within("a session", client.main()).await.unwrap();
    assert_eq!(within("a call", api.generation()).await.unwrap(), 7);
    assert_eq!(*setups.lock().unwrap(), 3);
    server.crash().await;
}
