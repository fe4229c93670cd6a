//! A chat room over WebSocket: each client gives the server a listener (a trait it implements),
//! and the server calls back into every client's listener for each message.
//!
//! `cargo run --example chat`

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};

use capnweb::{rpc_target, websocket, Server};

/// What a client implements to receive messages.
#[rpc_target]
pub trait Listener {
    /// A message `text` from `from`.
    async fn on_message(&self, from: String, text: String);
}

/// The room, shared by every session.
#[derive(Default)]
pub struct ChatRoom {
    members: Mutex<Vec<(String, ListenerStub)>>,
}

#[rpc_target]
impl ChatRoom {
    /// Joins the room as `name`; `listener` receives every message from now on.
    pub fn join(&self, name: String, listener: ListenerStub) {
        self.members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, listener));
    }

    /// Sends `text` to every member (the sender included); returns how many received it.
    pub async fn send(&self, from: String, text: String) -> usize {
        let members: Vec<ListenerStub> = self
            .members
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        let deliveries = members
            .iter()
            .map(|l| l.on_message(from.clone(), text.clone()).into_future());
        futures::future::join_all(deliveries)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count()
    }
}

/// A client's listener: keeps what it received.
struct Inbox {
    owner: String,
    received: Arc<Mutex<Vec<String>>>,
}

impl Listener for Inbox {
    async fn on_message(&self, from: String, text: String) {
        let line = format!("[{}] {from}: {text}", self.owner);
        println!("{line}");
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }
}

async fn client(
    url: &str,
    name: &str,
) -> Result<(ChatRoomStub, Arc<Mutex<Vec<String>>>), capnweb::Error> {
    let room: ChatRoomStub = websocket::connect(url).await?;
    let received = Arc::new(Mutex::new(Vec::new()));
    let inbox = Inbox {
        owner: name.into(),
        received: received.clone(),
    };
    room.join(name, ListenerStub::new(inbox)).await?;
    Ok((room, received))
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    let room = Arc::new(ChatRoom::default());
    let server = Server::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/", server.local_addr());
    tokio::spawn(server.serve(move || ChatRoomStub::from_arc(room.clone())));

    let (alice, alice_inbox) = client(&url, "alice").await?;
    let (bob, bob_inbox) = client(&url, "bob").await?;
    let delivered = alice.send("alice", "hi bob!").await?;
    println!("alice's message reached {delivered} members");
    let delivered = bob.send("bob", "hi alice!").await?;
    println!("bob's message reached {delivered} members");

    let count =
        |inbox: &Arc<Mutex<Vec<String>>>| inbox.lock().unwrap_or_else(|p| p.into_inner()).len();
    println!(
        "alice received {}, bob received {}",
        count(&alice_inbox),
        count(&bob_inbox)
    );
    Ok(())
}
