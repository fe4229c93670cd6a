//! The trait form: a trait the client implements, a stub of it passed to a server method that
//! calls back into it, sync and async trait methods, a default body, a skipped method.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use capnweb::rpc_target;

/// Receives messages.
#[rpc_target]
pub trait Listener {
    /// One message.
    async fn on_message(&self, text: String);

    /// How many messages so far.
    fn count(&self) -> u32;

    /// A property, async.
    #[rpc(property)]
    async fn label(&self) -> String;

    /// A default body, still exposed (and made `Send` like the others).
    async fn greeting(&self) -> String {
        format!("{} messages", self.count())
    }

    /// Not exposed, and left exactly as written (its future need not be `Send`).
    #[rpc(skip)]
    #[allow(async_fn_in_trait)]
    async fn local_only(&self) -> std::rc::Rc<u32> {
        std::rc::Rc::new(1)
    }
}

#[derive(Default)]
struct Printer {
    seen: AtomicU32,
}

impl Listener for Printer {
    async fn on_message(&self, text: String) {
        let _ = text;
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    fn count(&self) -> u32 {
        self.seen.load(Ordering::SeqCst)
    }

    async fn label(&self) -> String {
        "printer".into()
    }
}

pub struct Room;

#[rpc_target]
impl Room {
    /// Sends `text` to `listener` twice; returns what the listener counted.
    pub async fn broadcast(&self, listener: ListenerStub, text: String) -> Result<u32, capnweb::RpcError> {
        listener.on_message(text.as_str()).await?;
        listener.on_message(text).await?;
        Ok(listener.count().await?)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let printer = Arc::new(Printer::default());
    let listener = ListenerStub::from_arc(printer.clone());
    let room = RoomStub::new(Room);
    assert_eq!(room.broadcast(&listener, "hi").await.unwrap(), 2);
    assert_eq!(room.broadcast(listener.clone(), "again").await.unwrap(), 4);
    assert_eq!(listener.greeting().await.unwrap(), "4 messages");
    assert_eq!(printer.count(), 4);
    assert_eq!(listener.label().await.unwrap(), "printer");
    let untyped: capnweb::Stub = listener.into();
    assert_eq!(untyped.get("label").await.unwrap(), capnweb::Value::from("printer"));
    assert_eq!(*printer.local_only().await, 1);
    let _other: ListenerStub = ListenerStub::new(Printer::default());
}
