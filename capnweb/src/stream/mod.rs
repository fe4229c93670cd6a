//! Streams: [`ReadableStream`], [`WritableStream`] and [`Blob`], over the protocol's `stream`
//! and `pipe` messages, with per-stream flow control ([`FlowController`]).
//!
//! * A [`ReadableStream<T>`] sent to the peer travels as `["readable", id]`: the sender opens
//!   a pipe at the receiver (`["pipe"]`) and pumps the stream into it, one `stream` message per
//!   chunk, as fast as the flow controller's window allows. A received one is read with
//!   [`futures::StreamExt::next`] (it is a `Stream<Item = Result<T, Error>>`).
//! * A [`WritableStream<T>`] travels as `["writable", id]`: the holder calls `write`, `close`
//!   and `abort` on it. [`pipe`] makes a local one together with the `ReadableStream` that
//!   reads what is written, so a method can return a `WritableStream` for the peer to write
//!   into and read the upload itself.
//! * A [`Blob`] is a MIME type and a byte stream, `["blob", type, ["readable", id]]`.
//!
//! Chunks are any serde type: strings, [`Bytes`] (a `Uint8Array` on the wire),
//! numbers, structs. Streams need a session that lasts (WebSocket, or any persistent
//! transport): an HTTP batch ends with its one request, so a stream sent over one fails with
//! an error that says so.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
//! use capnweb::{rpc_target, transport::memory, ReadableStream, Session, SessionOptions};
//! use futures::StreamExt;
//!
//! pub struct Logs;
//!
//! #[rpc_target]
//! impl Logs {
//!     pub fn tail(&self, n: u32) -> ReadableStream<String> {
//!         ReadableStream::new(futures::stream::iter((0..n).map(|i| format!("line {i}"))))
//!     }
//! }
//!
//! let (a, b) = memory::pair();
//! let _server = Session::new(a, Some(LogsStub::new(Logs).into()), SessionOptions::default());
//! let logs: LogsStub = Session::new(b, None, SessionOptions::default()).main_as();
//! let lines: Vec<String> = logs.tail(3).await?.map(|line| line.unwrap()).collect().await;
//! assert_eq!(lines, ["line 0", "line 1", "line 2"]);
//! # Ok(()) }
//! ```

mod flow;
mod pipe;

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::Notify;

// The flow controller is the transport-independent core of stream writes; public for the
// tests and benches that measure it, not a stable API.
#[doc(hidden)]
pub use flow::{FlowController, SendToken, INITIAL_WINDOW, MAX_WINDOW, MIN_WINDOW};
pub(crate) use pipe::{Pipe, PipeReader, PipeWriter};

use crate::error::{Error, RpcError};
use crate::hook::{Hook, PreparedStream, TargetCell};
use crate::value::special::{deserialize_special, serialize_special, unexpected};
use crate::value::{from_value, into_value, Value};
use crate::wire::PathKey;
use crate::{Bytes, Stub};

pub(crate) use crate::hook::stream::{Chunks, ReadableCell, StreamHook};

/// The error for a stream sent a second time (or sent after it was read).
pub(crate) fn already_taken(kind: &str) -> Error {
    Error::encode(format!(
        "this {kind} was already read or sent: a stream's content can be consumed only once"
    ))
}

/// The error for a stream on a session that cannot carry one.
pub(crate) fn needs_persistent_session() -> Error {
    Error::encode(
        "streams need a WebSocket (or another persistent session): an HTTP batch ends with its \
         one request and response, so a ReadableStream, WritableStream or Blob cannot cross it",
    )
}

fn stream_value(hook: StreamHook) -> Value {
    Value::Stub(Stub::from_hook(Hook::Stream(Arc::new(hook))))
}

// ----------------------------------------------------------------------------------------
// ReadableStream

/// A stream of chunks of type `T`, readable once: a [`Stream`] of `Result<T, Error>`.
///
/// Made from any stream ([`ReadableStream::new`], [`ReadableStream::try_new`]) or, for bytes,
/// from an [`AsyncRead`](tokio::io::AsyncRead) ([`ReadableStream::from_async_read`]). Sent to
/// the peer (as an argument or a result), it is pumped to it chunk by chunk; received from the
/// peer, it yields what the peer's stream yields, and an error if the peer's stream fails.
/// Dropping a received stream before its end cancels it: the peer's writer learns.
pub struct ReadableStream<T> {
    cell: Arc<ReadableCell>,
    reading: Option<Chunks>,
    done: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ReadableStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadableStream")
            .field("reading", &self.reading.is_some())
            .finish()
    }
}

impl<T: Serialize + Send + 'static> ReadableStream<T> {
    /// A stream of the items of `stream`.
    pub fn new(stream: impl Stream<Item = T> + Send + 'static) -> ReadableStream<T> {
        ReadableStream::from_chunks(stream.map(into_value).boxed())
    }

    /// A stream of the items of `stream`, ending with the first error (which the reader sees).
    pub fn try_new<E: Into<RpcError>>(
        stream: impl Stream<Item = Result<T, E>> + Send + 'static,
    ) -> ReadableStream<T> {
        let chunks = stream.map(|item| match item {
            Ok(item) => into_value(item),
            Err(e) => Err(Error::from(e.into())),
        });
        ReadableStream::from_chunks(chunks.boxed())
    }
}

/// A stream of the items of an iterator (collected first, so it may borrow nothing).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// let lines: capnweb::ReadableStream<String> = ["a", "b"].map(String::from).into_iter().collect();
/// assert_eq!(lines.collect_all().await?, ["a", "b"]);
/// # Ok(()) }
/// ```
impl<T: Serialize + Send + 'static> FromIterator<T> for ReadableStream<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let items: Vec<T> = items.into_iter().collect();
        ReadableStream::new(futures::stream::iter(items))
    }
}

impl ReadableStream<Bytes> {
    /// The bytes of `reader`, in chunks of at most 64 KiB.
    pub fn from_async_read(
        reader: impl tokio::io::AsyncRead + Send + 'static,
    ) -> ReadableStream<Bytes> {
        let chunks = futures::stream::unfold(Box::pin(reader), |mut reader| async move {
            use tokio::io::AsyncReadExt;
            let mut buffer = vec![0; 64 * 1024];
            match reader.read(&mut buffer).await {
                Ok(0) => None,
                Ok(n) => {
                    buffer.truncate(n);
                    Some((Ok(Value::Bytes(Bytes::from(buffer))), reader))
                }
                Err(e) => Some((Err(Error::from(RpcError::error(e.to_string()))), reader)),
            }
        });
        // A read error ends the stream.
        let chunks = chunks.scan(false, |failed, item| {
            let next = (!*failed).then_some(item);
            *failed = next.as_ref().is_some_and(Result::is_err);
            futures::future::ready(next)
        });
        ReadableStream::from_chunks(chunks.boxed())
    }
}

impl<T> ReadableStream<T> {
    pub(crate) fn from_chunks(chunks: Chunks) -> ReadableStream<T> {
        ReadableStream::from_cell(ReadableCell::new(chunks))
    }

    fn from_cell(cell: Arc<ReadableCell>) -> ReadableStream<T> {
        ReadableStream {
            cell,
            reading: None,
            done: false,
            _t: PhantomData,
        }
    }
}

impl<T: DeserializeOwned> ReadableStream<T> {
    /// Reads the whole stream into a `Vec` (stopping at the first error).
    pub async fn collect_all(mut self) -> Result<Vec<T>, Error> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await {
            items.push(item?);
        }
        Ok(items)
    }
}

impl<T: DeserializeOwned> Stream for ReadableStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.reading.is_none() {
            match this.cell.take() {
                Some(chunks) => this.reading = Some(chunks),
                None => {
                    this.done = true;
                    let why = "its content was already read or sent: a stream is consumed once";
                    return Poll::Ready(Some(Err(Error::decode("a ReadableStream", why))));
                }
            }
        }
        let Some(reading) = this.reading.as_mut() else {
            return Poll::Ready(None);
        };
        match reading.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                this.done = true;
                this.reading = None;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                this.reading = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(value))) => Poll::Ready(Some(from_value::<T>(value))),
        }
    }
}

impl<T> Serialize for ReadableStream<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hook = StreamHook::Readable(Arc::clone(&self.cell));
        serialize_special(stream_value(hook), serializer)
    }
}

impl<'de, T> Deserialize<'de> for ReadableStream<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserialize_special(deserializer)?;
        if let Value::Stub(stub) = &value {
            if let Hook::Stream(stream) = stub.hook() {
                if let StreamHook::Readable(cell) | StreamHook::Blob(_, cell) = &**stream {
                    return Ok(ReadableStream::from_cell(Arc::clone(cell)));
                }
            }
        }
        Err(unexpected("a ReadableStream", &value))
    }
}

// ----------------------------------------------------------------------------------------
// Blob

/// A blob: a MIME type and its content as a byte stream (`["blob", type, ["readable", id]]`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// let blob = capnweb::Blob::new("text/plain", "hello");
/// assert_eq!(blob.mime_type(), "text/plain");
/// assert_eq!(blob.text().await?, "hello");
/// # Ok(()) }
/// ```
pub struct Blob {
    mime: String,
    content: Arc<ReadableCell>,
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob").field("mime", &self.mime).finish()
    }
}

impl Blob {
    /// A blob holding `content`.
    pub fn new(mime: impl Into<String>, content: impl Into<Vec<u8>>) -> Blob {
        let chunk = Value::Bytes(Bytes::from(content.into()));
        let chunks = futures::stream::iter([Ok(chunk)]).boxed();
        Blob {
            mime: mime.into(),
            content: ReadableCell::new(chunks),
        }
    }

    /// A blob whose content is read from `stream` as it is sent.
    pub fn from_stream(mime: impl Into<String>, stream: ReadableStream<Bytes>) -> Blob {
        Blob {
            mime: mime.into(),
            content: stream.cell,
        }
    }

    /// The MIME type (empty when none was given).
    pub fn mime_type(&self) -> &str {
        &self.mime
    }

    /// The content, as a stream of byte chunks.
    pub fn into_stream(self) -> ReadableStream<Bytes> {
        ReadableStream::from_cell(self.content)
    }

    /// Reads the whole content.
    pub async fn bytes(self) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        let mut stream = self.into_stream();
        while let Some(chunk) = stream.next().await {
            all.extend_from_slice(chunk?.as_slice());
        }
        Ok(all)
    }

    /// Reads the whole content as UTF-8 text.
    pub async fn text(self) -> Result<String, Error> {
        String::from_utf8(self.bytes().await?).map_err(|e| Error::Decode {
            message: format!("the blob is not UTF-8 text: {e}"),
            expected: "UTF-8 text".into(),
        })
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let hook = StreamHook::Blob(self.mime.clone(), Arc::clone(&self.content));
        serialize_special(stream_value(hook), serializer)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserialize_special(deserializer)?;
        if let Value::Stub(stub) = &value {
            if let Hook::Stream(stream) = stub.hook() {
                if let StreamHook::Blob(mime, cell) = &**stream {
                    return Ok(Blob {
                        mime: mime.clone(),
                        content: Arc::clone(cell),
                    });
                }
            }
        }
        Err(unexpected("a Blob", &value))
    }
}

// ----------------------------------------------------------------------------------------
// WritableStream

/// How far a stream's reader may fall behind its writers, in bytes, unless
/// [`SessionOptions::max_stream_buffer_bytes`](crate::SessionOptions::max_stream_buffer_bytes)
/// says otherwise.
pub(crate) const DEFAULT_MAX_UNREAD_BYTES: usize = 16 * 1024 * 1024;

/// A pipe: a [`WritableStream`] and the [`ReadableStream`] that reads what is written to it.
///
/// Return the writable end from a method for the peer to write into (an upload), and read
/// the readable end here; or the other way round.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use futures::StreamExt;
/// let (mut writer, mut reader) = capnweb::pipe::<String>();
/// writer.write("hello".to_owned()).await?;
/// assert_eq!(reader.next().await.unwrap()?, "hello");
/// writer.close().await?;
/// assert!(reader.next().await.is_none());
/// # Ok(()) }
/// ```
pub fn pipe<T>() -> (WritableStream<T>, ReadableStream<T>) {
    let pipe = Pipe::new(DEFAULT_MAX_UNREAD_BYTES);
    let writer = Hook::Target(TargetCell::new(Arc::new(PipeWriter::new(Arc::clone(
        &pipe,
    )))));
    let reader = PipeReader::new(pipe);
    (
        WritableStream::from_hook(writer),
        ReadableStream::from_chunks(reader.boxed()),
    )
}

/// A stream chunks of type `T` are written into: the peer's (received as an argument or a
/// result) or a local pipe's ([`pipe`]).
///
/// Writes to the peer are sent at once, each acknowledged when the peer's stream took it;
/// [`write`](WritableStream::write) returns as soon as the flow controller's window has room,
/// so many writes are in flight on a fast link and few on a slow one. A write that fails makes
/// every later one (and `close`) fail with its error. [`close`](WritableStream::close) ends the
/// stream. Once the last reference to a stream is dropped without `close()` (this handle and
/// any copy sent on), the stream is aborted, as the reference does.
pub struct WritableStream<T> {
    inner: Handle,
    /// For the [`Sink`](futures::Sink) impl: the write, flush or close under way.
    /// (In a mutex only to keep the stream `Sync`; it is reached through `&mut self`.)
    pending: Mutex<Option<BoxFuture<'static, Result<(), Error>>>>,
    closed: bool,
    _t: PhantomData<fn(T)>,
}

impl<T> fmt::Debug for WritableStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WritableStream")
            .field("hook", &self.inner.hook)
            .finish()
    }
}

/// The stream and its write state, shared with the tasks that wait for its acks.
#[derive(Clone)]
struct Handle {
    hook: Hook,
    writer: Arc<Writer>,
}

struct Writer {
    state: Mutex<WriterState>,
    acked: Notify,
}

struct WriterState {
    flow: FlowController,
    /// The first write that failed, which fails everything after it.
    failed: Option<Error>,
}

impl Writer {
    fn new() -> Arc<Writer> {
        Arc::new(Writer {
            state: Mutex::new(WriterState {
                flow: FlowController::real_time(),
                failed: None,
            }),
            acked: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Handle {
    /// Sends one method call on the stream; the size is set when it went to the peer.
    fn send(&self, method: &str, args: Vec<Value>) -> (Hook, Option<usize>) {
        stream_call(&self.hook, &[PathKey::from(method)], args, None)
    }

    fn failed(&self) -> Option<Error> {
        self.writer.lock().failed.clone()
    }

    /// Writes `value` (a chunk already converted): sends it once the window has room, then
    /// waits until it has room again (or, for a local stream, until the chunk was taken).
    async fn write_value(&self, value: Value) -> Result<(), Error> {
        if self.send_value(value).await? {
            self.wait_until(|flow| !flow.is_full()).await?;
        }
        Ok(())
    }

    /// Sends `value` once the window has room, without waiting for room after it: a pump
    /// fetches its next chunk meanwhile. Returns whether the write went to the peer (a local
    /// stream's write is waited for instead: one at a time, no window).
    async fn send_value(&self, value: Value) -> Result<bool, Error> {
        // Encoded while the window is full, so that the write goes out as soon as it has room.
        let path = [PathKey::from("write")];
        let args = vec![value];
        let prepared = stream_prepare(&self.hook, &path, &args);
        // The window may have shrunk since the last write returned (an acknowledgement came
        // in meanwhile): never send into a full one. Also fails if an earlier write failed.
        self.wait_until(|flow| !flow.is_full()).await?;
        let (ack, size) = stream_call(&self.hook, &path, args, prepared);
        let Some(size) = size else {
            return match ack.pull().await {
                Ok(_) => Ok(false),
                Err(e) => {
                    self.writer.lock().failed.get_or_insert(e.clone());
                    Err(e)
                }
            };
        };
        let (token, _) = self.writer.lock().flow.on_send(size as f64);
        let writer = Arc::clone(&self.writer);
        tokio::spawn(async move {
            let outcome = ack.pull().await;
            drop(ack);
            let mut st = writer.lock();
            match outcome {
                Ok(_) => {
                    st.flow.on_ack(token);
                }
                Err(e) => {
                    st.flow.on_error(token);
                    st.failed.get_or_insert(e);
                }
            }
            drop(st);
            writer.acked.notify_waiters();
        });
        Ok(true)
    }

    /// Waits until `ready` holds for the flow controller; fails if a write failed.
    async fn wait_until(&self, ready: impl Fn(&FlowController) -> bool) -> Result<(), Error> {
        loop {
            let acked = self.writer.acked.notified();
            {
                let st = self.writer.lock();
                if let Some(e) = &st.failed {
                    return Err(e.clone());
                }
                if ready(&st.flow) {
                    return Ok(());
                }
            }
            acked.await;
        }
    }

    /// Waits until every write was acknowledged; fails if a write failed.
    async fn wait_for_acks(&self) -> Result<(), Error> {
        self.wait_until(|flow| flow.in_flight() <= 0.0).await
    }

    async fn close(&self) -> Result<(), Error> {
        if let Some(e) = self.failed() {
            return Err(e);
        }
        let (ack, _) = self.send("close", Vec::new());
        let closed = ack.pull().await;
        match (self.failed(), closed) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(e),
            (None, Ok(_)) => Ok(()),
        }
    }
}

impl<T> WritableStream<T> {
    pub(crate) fn from_hook(hook: Hook) -> WritableStream<T> {
        WritableStream {
            inner: Handle {
                hook,
                writer: Writer::new(),
            },
            pending: Mutex::new(None),
            closed: false,
            _t: PhantomData,
        }
    }

    /// The flow controller's window and the bytes in flight, for this stream's writes to the
    /// peer (both 0 bytes in flight once every write was acknowledged).
    pub fn window(&self) -> (f64, f64) {
        let st = self.inner.writer.lock();
        (st.flow.window(), st.flow.in_flight())
    }

    /// Writes `value` (a chunk already converted).
    pub(crate) async fn write_value(&mut self, value: Value) -> Result<(), Error> {
        self.inner.write_value(value).await
    }

    /// Waits until every write was acknowledged; fails if a write failed.
    async fn wait_for_acks(&self) -> Result<(), Error> {
        self.inner.wait_for_acks().await
    }

    /// Ends the stream: resolves once the peer's stream took it. An earlier write's failure is
    /// reported here too.
    pub async fn close(self) -> Result<(), Error> {
        self.inner.close().await
    }

    /// Aborts the stream: its reader sees `reason` as an error.
    pub fn abort(self, reason: RpcError) {
        if self.inner.failed().is_some() {
            return;
        }
        // The call is made (or sent) now; its outcome needs no one.
        drop(
            self.inner
                .send("abort", vec![Value::Error(Box::new(reason))]),
        );
    }
}

impl<T: Serialize + 'static> WritableStream<T> {
    /// Writes one chunk. Returns once the window has room for more (for the peer's stream) or
    /// the chunk was taken (for a local one).
    pub async fn write(&mut self, chunk: T) -> Result<(), Error> {
        let value = into_value(chunk)?;
        self.write_value(value).await
    }
}

impl<T> WritableStream<T> {
    /// Drives the operation under way (the Sink's), if any.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let pending = self.pending.get_mut().unwrap_or_else(|p| p.into_inner());
        match pending.as_mut() {
            None => Poll::Ready(Ok(())),
            Some(future) => {
                let outcome = futures::ready!(future.as_mut().poll(cx));
                *pending = None;
                Poll::Ready(outcome)
            }
        }
    }

    fn start(&mut self, future: BoxFuture<'static, Result<(), Error>>) {
        *self.pending.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(future);
    }
}

/// The stream as a [`Sink`](futures::Sink): `send` is [`write`](WritableStream::write),
/// `flush` waits until every chunk was acknowledged, `close` is
/// [`close`](WritableStream::close).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use futures::{SinkExt, StreamExt};
/// let (mut writer, reader) = capnweb::pipe::<u32>();
/// let read = tokio::spawn(reader.collect_all());
/// writer.send_all(&mut futures::stream::iter([Ok(1), Ok(2), Ok(3)])).await?;
/// writer.close().await?;
/// assert_eq!(read.await.unwrap()?, [1, 2, 3]);
/// # Ok(()) }
/// ```
impl<T: Serialize + 'static> futures::Sink<T> for WritableStream<T> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Error> {
        let this = self.get_mut();
        let value = into_value(item)?;
        let inner = this.inner.clone();
        this.start(Box::pin(async move { inner.write_value(value).await }));
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        futures::ready!(this.poll_pending(cx))?;
        let inner = this.inner.clone();
        this.start(Box::pin(async move { inner.wait_for_acks().await }));
        this.poll_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        futures::ready!(this.poll_pending(cx))?;
        if this.closed {
            return Poll::Ready(Ok(()));
        }
        this.closed = true;
        let inner = this.inner.clone();
        this.start(Box::pin(async move { inner.close().await }));
        this.poll_pending(cx)
    }
}

impl<T> Serialize for WritableStream<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_special(
            stream_value(StreamHook::Writable(self.inner.hook.clone())),
            serializer,
        )
    }
}

impl<'de, T> Deserialize<'de> for WritableStream<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = deserialize_special(deserializer)?;
        if let Value::Stub(stub) = &value {
            if let Hook::Stream(stream) = stub.hook() {
                if let StreamHook::Writable(inner) = &**stream {
                    return Ok(WritableStream::from_hook(inner.clone()));
                }
            }
            // `["writable", id]` arrives as an import; a plain stub with the same methods works.
            return Ok(WritableStream::from_hook(stub.hook().clone()));
        }
        Err(unexpected("a WritableStream", &value))
    }
}

/// A method call on a writable stream, sent as a `stream` message when the stream is the
/// peer's (its size then returned, for the flow controller), made directly otherwise.
/// `prepared` is that message as [`stream_prepare`] encoded it ahead of time, if it did.
pub(crate) fn stream_call(
    hook: &Hook,
    path: &[PathKey],
    args: Vec<Value>,
    prepared: Option<PreparedStream>,
) -> (Hook, Option<usize>) {
    match hook {
        Hook::Stream(stream) => match &**stream {
            StreamHook::Writable(inner) => stream_call(inner, path, args, prepared),
            other => (Hook::Error(other.misuse("write")), None),
        },
        Hook::Remote(remote) => remote.entry.stream(path, args, prepared),
        other => (other.call(path, args), None),
    }
}

/// The `stream` message [`stream_call`] would send to the peer, encoded ahead of time; `None`
/// for a local stream, or a chunk that is encoded when sent.
fn stream_prepare(hook: &Hook, path: &[PathKey], args: &[Value]) -> Option<PreparedStream> {
    match hook {
        Hook::Stream(stream) => match &**stream {
            StreamHook::Writable(inner) => stream_prepare(inner, path, args),
            _ => None,
        },
        Hook::Remote(remote) => remote.entry.prepare_stream(path, args),
        _ => None,
    }
}

/// Pumps `chunks` into the writable `target` (the peer's end of a pipe): every chunk written
/// as the window allows, then `close()`; an error from the source aborts the stream with it,
/// and a failed write (the reader canceled) stops the pump and drops the source.
///
/// Each chunk is sent as soon as the window has room, and the next one is taken from the
/// source while it is in flight (as a `pipeTo` reads ahead of its writer): the source's work
/// is then off the round trip that an acknowledgement and the next write make.
pub(crate) async fn pump(target: Hook, mut chunks: Chunks) {
    let writer = WritableStream::<Value>::from_hook(target);
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(value) => {
                if writer.inner.send_value(value).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // As a pipe does: what was written is delivered first, then the error (a
                // reader's stream may drop chunks not yet taken when it is aborted).
                if writer.wait_for_acks().await.is_ok() {
                    writer.abort(e.to_rpc_error());
                }
                return;
            }
        }
    }
    let _ = writer.close().await;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use super::pipe;

    /// An acknowledgement may shrink the window between one write's return and the next write:
    /// that write then waits for room before it sends anything.
    #[tokio::test]
    async fn a_write_does_not_send_into_a_full_window() {
        let (mut writer, mut reader) = pipe::<String>();
        let state = Arc::clone(&writer.inner.writer);
        let window = writer.window().0;
        let (token, full) = state.lock().flow.on_send(window);
        assert!(full);

        let mut write = Box::pin(writer.write("next".to_owned()));
        assert!(futures::poll!(write.as_mut()).is_pending());
        assert!(
            futures::poll!(reader.next()).is_pending(),
            "the chunk was sent into a full window"
        );

        state.lock().flow.on_ack(token);
        state.acked.notify_waiters();
        write.await.unwrap();
        assert_eq!(
            reader.next().await.map(Result::ok),
            Some(Some("next".into()))
        );
    }
}
