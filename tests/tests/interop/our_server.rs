//! Our server for an interop test, in-process, recording every session it starts so that a
//! test can check each ended with only its main entries.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use capnweb::{Routes, Server, Session, SessionOptions};

pub struct OurServer {
    pub addr: SocketAddr,
    sessions: Arc<Mutex<Vec<Session>>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// Serves `routes` on a free loopback port until the returned server is dropped.
pub async fn our_server(routes: impl Into<Routes>) -> OurServer {
    let sessions: Arc<Mutex<Vec<Session>>> = Arc::default();
    let seen = sessions.clone();
    let options = SessionOptions::default().on_start(move |s| seen.lock().unwrap().push(s.clone()));
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .options(options);
    let addr = server.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let routes: Routes = routes.into();
    tokio::spawn(server.serve_with_shutdown(routes, async move {
        let _ = rx.await;
    }));
    OurServer {
        addr,
        sessions,
        _shutdown: tx,
    }
}

impl OurServer {
    /// Every session that ended held only its main entries when it did.
    pub async fn assert_no_leaks(&self) {
        let sessions = self.sessions.lock().unwrap().clone();
        assert!(!sessions.is_empty(), "the server started no session");
        for session in &sessions {
            tokio::time::timeout(std::time::Duration::from_secs(10), session.closed())
                .await
                .expect("the session ends when the client goes");
            let stats = session.stats_at_close().expect("closed");
            assert_eq!(
                (stats.imports, stats.exports),
                (1, 1),
                "a server session ended with leftover entries: {stats:?}"
            );
        }
    }
}
