//! An in-memory transport: two connected ends, for tests and for sessions inside one process.
//!
//! Each direction holds at most a capacity of bytes (1 MiB by default, see
//! [`pair_with_capacity`]); a sender at the capacity waits, as a socket whose peer does not
//! read would, so backpressure behaves as it does on a network.
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
//!
//! An end can also be used by hand, to play a peer message by message:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use capnweb::{transport::memory, Session, SessionOptions, Stub, Value};
//!
//! let (a, mut peer) = memory::pair();
//! let square = Stub::from_fn(|args: Vec<Value>| async move {
//!     let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
//!     Ok(Value::from(x * x))
//! });
//! let _server = Session::new(a, Some(square), SessionOptions::default());
//! peer.send(r#"["push",["pipeline",0,[],[4]]]"#).await.unwrap();
//! peer.send(r#"["pull",1]"#).await.unwrap();
//! assert_eq!(&peer.recv().await.unwrap()[..], br#"["resolve",1,16]"#);
//! # }
//! ```

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::{CloseReason, Transport};
use crate::error::Error;

/// The default capacity of each direction, in bytes.
pub const DEFAULT_CAPACITY: usize = 1024 * 1024;

/// One direction of a connection.
#[derive(Default)]
struct Queue {
    messages: VecDeque<Bytes>,
    bytes: usize,
    /// The sending end closed (or went away): the receiver sees the end after the messages.
    closed: bool,
    /// The receiving end went away: what is sent is dropped, as on a network.
    abandoned: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

type Shared = Arc<Mutex<Queue>>;

fn lock(queue: &Shared) -> MutexGuard<'_, Queue> {
    // Every update leaves the queue consistent, so a poisoned lock is still usable.
    queue.lock().unwrap_or_else(|p| p.into_inner())
}

fn wake(slot: &mut Option<Waker>) {
    if let Some(waker) = slot.take() {
        waker.wake();
    }
}

/// One end of an in-memory connection.
pub struct MemoryTransport {
    incoming: Shared,
    outgoing: Shared,
    capacity: usize,
    /// Messages taken from `incoming` in one go, handed out one by one.
    received: VecDeque<Bytes>,
    /// Messages sent since the last flush, moved to `outgoing` in one go.
    unflushed: Vec<Bytes>,
    unflushed_bytes: usize,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Two connected ends: what one sends, the other receives. Closing or dropping one end ends
/// the other's session as a lost connection.
pub fn pair() -> (MemoryTransport, MemoryTransport) {
    pair_with_capacity(DEFAULT_CAPACITY)
}

/// Like [`pair`], with each direction holding at most `capacity` bytes of messages (at least
/// one message always fits).
pub fn pair_with_capacity(capacity: usize) -> (MemoryTransport, MemoryTransport) {
    let (a_to_b, b_to_a) = (Shared::default(), Shared::default());
    (
        MemoryTransport::new(b_to_a.clone(), a_to_b.clone(), capacity),
        MemoryTransport::new(a_to_b, b_to_a, capacity),
    )
}

impl MemoryTransport {
    fn new(incoming: Shared, outgoing: Shared, capacity: usize) -> Self {
        MemoryTransport {
            incoming,
            outgoing,
            capacity,
            received: VecDeque::new(),
            unflushed: Vec::new(),
            unflushed_bytes: 0,
        }
    }

    /// Sends one message (waiting while the direction is at its capacity).
    pub async fn send(&mut self, message: impl Into<Bytes>) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready(cx)).await?;
        self.start_send(message.into())?;
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// The next message; `None` once the other end closed.
    pub async fn recv(&mut self) -> Option<Bytes> {
        poll_fn(|cx| self.poll_recv(cx)).await.and_then(Result::ok)
    }

    /// Bytes sent by this end that the other has not received yet.
    pub fn queued_bytes(&self) -> usize {
        lock(&self.outgoing).bytes + self.unflushed_bytes
    }
}

impl Transport for MemoryTransport {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        if let Some(message) = self.received.pop_front() {
            return Poll::Ready(Some(Ok(message)));
        }
        let mut queue = lock(&self.incoming);
        if !queue.messages.is_empty() {
            std::mem::swap(&mut self.received, &mut queue.messages);
            queue.bytes = 0;
            wake(&mut queue.writer);
            drop(queue);
            return Poll::Ready(self.received.pop_front().map(Ok));
        }
        if queue.closed {
            return Poll::Ready(None);
        }
        queue.reader = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.unflushed_bytes < self.capacity {
            return Poll::Ready(Ok(()));
        }
        self.poll_flush(cx)
    }

    fn start_send(&mut self, message: Bytes) -> Result<(), Error> {
        self.unflushed_bytes += message.len();
        self.unflushed.push(message);
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.unflushed.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let mut queue = lock(&self.outgoing);
        if queue.closed {
            return Poll::Ready(Err(Error::Transport("the transport is closed".into())));
        }
        // If the other end is gone, the messages are lost, as on a network: the loss is
        // reported by our receiving side (which sees the end of the stream, after any message
        // the other end sent before it went, such as its `abort`).
        if queue.abandoned {
            self.unflushed.clear();
            self.unflushed_bytes = 0;
            return Poll::Ready(Ok(()));
        }
        // At least one message always fits, so a message larger than the capacity goes too.
        if queue.bytes > 0 && queue.bytes + self.unflushed_bytes > self.capacity {
            queue.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        queue.bytes += self.unflushed_bytes;
        queue.messages.extend(self.unflushed.drain(..));
        self.unflushed_bytes = 0;
        wake(&mut queue.reader);
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, cx: &mut Context<'_>, _reason: &CloseReason) -> Poll<()> {
        if self.poll_flush(cx).is_pending() {
            return Poll::Pending;
        }
        let mut queue = lock(&self.outgoing);
        queue.closed = true;
        wake(&mut queue.reader);
        Poll::Ready(())
    }
}

impl Drop for MemoryTransport {
    fn drop(&mut self) {
        let mut outgoing = lock(&self.outgoing);
        outgoing.closed = true;
        wake(&mut outgoing.reader);
        drop(outgoing);
        let mut incoming = lock(&self.incoming);
        incoming.abandoned = true;
        incoming.messages.clear();
        incoming.bytes = 0;
        wake(&mut incoming.writer);
    }
}
