//! An in-memory transport: two connected ends, for tests and for sessions inside one process.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use capnweb::{transport::memory, Session, SessionOptions, Stub, Value};
//!
//! let (a, b) = memory::pair();
//! let echo = Stub::from_fn(|args: Vec<Value>| async move { Ok(args.into_iter().next().unwrap_or_default()) });
//! let _server = Session::new(a, Some(echo), SessionOptions::default());
//! let client = Session::new(b, None, SessionOptions::default());
//! let answer = client.main().call_self(vec![Value::from(42)]).await.unwrap();
//! assert_eq!(answer, Value::from(42));
//! # }
//! ```

use tokio::sync::mpsc;

use super::{MessageReceiver, MessageSender, Transport};
use crate::error::{Error, RpcError};

/// One end of an in-memory connection.
#[derive(Debug)]
pub struct MemoryTransport {
    sender: MemorySender,
    receiver: MemoryReceiver,
}

/// The sending half of a [`MemoryTransport`].
#[derive(Debug)]
pub struct MemorySender {
    tx: Option<mpsc::UnboundedSender<String>>,
}

/// The receiving half of a [`MemoryTransport`].
#[derive(Debug)]
pub struct MemoryReceiver {
    rx: mpsc::UnboundedReceiver<String>,
}

/// Two connected ends: what one sends, the other receives. Closing or dropping one end ends
/// the other's session as a lost connection.
pub fn pair() -> (MemoryTransport, MemoryTransport) {
    let (a_tx, a_rx) = mpsc::unbounded_channel();
    let (b_tx, b_rx) = mpsc::unbounded_channel();
    (
        MemoryTransport {
            sender: MemorySender { tx: Some(a_tx) },
            receiver: MemoryReceiver { rx: b_rx },
        },
        MemoryTransport {
            sender: MemorySender { tx: Some(b_tx) },
            receiver: MemoryReceiver { rx: a_rx },
        },
    )
}

impl Transport for MemoryTransport {
    type Sender = MemorySender;
    type Receiver = MemoryReceiver;

    fn split(self) -> (MemorySender, MemoryReceiver) {
        (self.sender, self.receiver)
    }
}

impl MessageSender for MemorySender {
    async fn send(&mut self, messages: Vec<String>) -> Result<(), Error> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| Error::Transport("the transport is closed".into()))?;
        for message in messages {
            // If the other end is gone, the message is lost, as on a network: the loss is
            // reported by our receiving half (which sees the end of the stream, after any
            // message the other end sent before it went, such as its `abort`).
            if tx.send(message).is_err() {
                break;
            }
        }
        Ok(())
    }

    async fn close(&mut self, _reason: Option<RpcError>) {
        self.tx = None;
    }
}

impl MessageReceiver for MemoryReceiver {
    async fn recv(&mut self) -> Option<Result<String, Error>> {
        self.rx.recv().await.map(Ok)
    }
}
