//! Two peers on one WebSocket, each serving a main object and calling the other's.
//!
//! `cargo run --example peer-to-peer`

use capnweb::{rpc_target, websocket, Server, SessionOptions};

/// A peer: greets whoever calls.
pub struct Peer {
    name: String,
}

#[rpc_target]
impl Peer {
    /// A greeting from this peer to `caller`.
    pub fn greet(&self, caller: String) -> String {
        format!("hello {caller}, this is {}", self.name)
    }
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    // Alice listens. When Bob's session starts, she calls Bob's main object on it.
    let (bob_session_tx, mut bob_session_rx) = tokio::sync::mpsc::unbounded_channel();
    let options = SessionOptions::default().on_start(move |session| {
        let _ = bob_session_tx.send(session.clone());
    });
    let server = Server::bind("127.0.0.1:0").await?.options(options);
    let url = format!("ws://{}/", server.local_addr());
    tokio::spawn(server.serve(|| {
        PeerStub::new(Peer {
            name: "alice".into(),
        })
    }));

    // Bob connects, serving his own main object on the same socket.
    let bob = Peer { name: "bob".into() };
    let session = websocket::connect_with(
        &url,
        Some(PeerStub::new(bob).into()),
        SessionOptions::default(),
    )
    .await?;
    let alice: PeerStub = session.main_as();
    println!("bob   -> alice: {}", alice.greet("bob").await?);

    let alice_side = bob_session_rx
        .recv()
        .await
        .ok_or_else(|| capnweb::Error::disconnected("no session"))?;
    let bob_stub: PeerStub = alice_side.main_as();
    println!("alice -> bob:   {}", bob_stub.greet("alice").await?);
    Ok(())
}
