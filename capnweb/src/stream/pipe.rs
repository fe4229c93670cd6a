//! A local pipe: the writable end a peer (or local code) writes chunks into, and the readable
//! end local code reads them from. It is what a `["pipe"]` message creates, and what
//! [`pipe`](super::pipe) hands out.
//!
//! A write is taken at once (in the order writes were made) and acknowledged once the reader
//! has taken every chunk before it: at most one chunk waits unread per writer, so a writer
//! that waits for its acknowledgements cannot outrun the reader by more than that, and a remote
//! writer's acknowledgements (the settling of its `stream` messages) follow the reader's pace.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::Stream;

use crate::error::{Error, RpcError};
use crate::target::{CallFuture, RpcTarget};
use crate::value::Value;
use crate::wire::Limit;

/// The state both ends share.
pub(crate) struct Pipe {
    state: Mutex<PipeState>,
    /// The most bytes (as [`approx_size`] counts them) the queue may hold unread.
    max_unread_bytes: usize,
}

#[derive(Default)]
struct PipeState {
    queue: VecDeque<Value>,
    /// What the queue holds, as [`approx_size`] counts it.
    unread_bytes: usize,
    /// Chunks written, and chunks the reader took.
    written: u64,
    taken: u64,
    /// `close()` was called: the reader ends after the queue.
    closed: bool,
    /// `abort(reason)` was called (or the writer was dropped unclosed): the reader fails.
    aborted: Option<Error>,
    /// The reader is gone: writes fail with this.
    cancelled: Option<Error>,
    /// The reader was given the abort's error.
    reported: bool,
    reader: Option<Waker>,
    writers: Vec<Waker>,
}

impl Pipe {
    /// A pipe whose reader may fall behind its writers by at most `max_unread_bytes`.
    pub(crate) fn new(max_unread_bytes: usize) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(PipeState::default()),
            max_unread_bytes,
        })
    }

    fn lock(&self) -> MutexGuard<'_, PipeState> {
        // Each update is a few assignments that cannot panic midway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails the pipe at once: the reader sees `error` (a batch session that cannot carry it).
    pub(crate) fn fail(&self, error: Error) {
        self.abort(error);
    }

    fn abort(&self, error: Error) {
        let mut st = self.lock();
        // What was written before stays readable: the reader sees it, then the error.
        if st.aborted.is_none() && !st.closed {
            st.aborted = Some(error);
        }
        let reader = st.reader.take();
        let writers = std::mem::take(&mut st.writers);
        drop(st);
        reader.into_iter().chain(writers).for_each(Waker::wake);
    }

    /// Takes `chunk`; the returned number is what the reader must have taken for the write to
    /// be acknowledged.
    fn write(&self, chunk: Value) -> Result<u64, Error> {
        let mut st = self.lock();
        if let Some(e) = &st.cancelled {
            return Err(e.clone());
        }
        if let Some(e) = &st.aborted {
            return Err(e.clone());
        }
        if st.closed {
            return Err(Error::from(RpcError::type_error(
                "cannot write to a WritableStream that was closed",
            )));
        }
        let size = approx_size(&chunk);
        if st.unread_bytes.saturating_add(size) > self.max_unread_bytes {
            // A writer waiting for its acknowledgements never gets here: this one ignores
            // flow control. Its stream ends, and what it queued is dropped.
            let error = Error::limit(
                Limit::StreamBuffer,
                self.max_unread_bytes,
                format!(
                    "a stream's writer sent {} bytes that its reader has not read yet, more \
                     than the limit of {}: it does not wait for its writes to be acknowledged",
                    st.unread_bytes.saturating_add(size),
                    self.max_unread_bytes
                ),
            );
            st.queue.clear();
            st.unread_bytes = 0;
            if st.aborted.is_none() {
                st.aborted = Some(error.clone());
            }
            let reader = st.reader.take();
            drop(st);
            if let Some(reader) = reader {
                reader.wake();
            }
            return Err(error);
        }
        st.unread_bytes += size;
        st.queue.push_back(chunk);
        st.written += 1;
        let needed = st.written - 1;
        let reader = st.reader.take();
        drop(st);
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(needed)
    }

    fn poll_acked(&self, cx: &mut Context<'_>, needed: u64) -> Poll<Result<(), Error>> {
        let mut st = self.lock();
        // Taken before the reader went: the write succeeded.
        if st.taken >= needed {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.cancelled {
            return Poll::Ready(Err(e.clone()));
        }
        if st.aborted.is_some() || st.closed {
            return Poll::Ready(Ok(()));
        }
        st.writers.push(cx.waker().clone());
        Poll::Pending
    }

    fn close(&self) -> Result<(), Error> {
        let mut st = self.lock();
        if let Some(e) = st.aborted.as_ref().or(st.cancelled.as_ref()) {
            return Err(e.clone());
        }
        st.closed = true;
        let reader = st.reader.take();
        drop(st);
        if let Some(reader) = reader {
            reader.wake();
        }
        Ok(())
    }

    fn cancel(&self) {
        let mut st = self.lock();
        if st.cancelled.is_none() {
            st.cancelled = Some(Error::from(RpcError::error(
                "the ReadableStream was canceled: its reader stopped reading",
            )));
        }
        st.queue.clear();
        st.unread_bytes = 0;
        let writers = std::mem::take(&mut st.writers);
        drop(st);
        writers.into_iter().for_each(Waker::wake);
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Value, Error>>> {
        let mut st = self.lock();
        if let Some(e) = st.aborted.as_ref().filter(|_| st.queue.is_empty()) {
            // Reported once; the stream then ends.
            if st.reported {
                return Poll::Ready(None);
            }
            let e = e.clone();
            st.reported = true;
            return Poll::Ready(Some(Err(e)));
        }
        if let Some(chunk) = st.queue.pop_front() {
            st.taken += 1;
            st.unread_bytes = st.unread_bytes.saturating_sub(approx_size(&chunk));
            let writers = std::mem::take(&mut st.writers);
            drop(st);
            writers.into_iter().for_each(Waker::wake);
            return Poll::Ready(Some(Ok(chunk)));
        }
        if st.closed {
            return Poll::Ready(None);
        }
        st.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// About how much memory a chunk holds: the length of its text or bytes, plus a few bytes
/// per value (a chunk came off the wire, so its depth is bounded by the session's limits).
fn approx_size(value: &Value) -> usize {
    const PER_VALUE: usize = 16;
    PER_VALUE
        + match value {
            Value::String(s) => s.len(),
            Value::Bytes(b) => b.as_slice().len(),
            Value::Array(items) => items.iter().map(approx_size).sum(),
            Value::Object(object) => object.iter().map(|(k, v)| k.len() + approx_size(v)).sum(),
            _ => 0,
        }
}

/// The writable end, as an RPC target with the methods `write(chunk)`, `close()` and
/// `abort(reason)`. Dropped without `close()` (by the peer releasing it, or locally), it
/// aborts the pipe, as the reference does.
pub(crate) struct PipeWriter {
    pipe: Arc<Pipe>,
    finished: AtomicBool,
}

impl PipeWriter {
    pub(crate) fn new(pipe: Arc<Pipe>) -> PipeWriter {
        PipeWriter {
            pipe,
            finished: AtomicBool::new(false),
        }
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        if !self.finished.load(Ordering::Acquire) {
            self.pipe.abort(Error::from(RpcError::error(
                "the WritableStream was dropped without calling close()",
            )));
        }
    }
}

struct Acked {
    pipe: Arc<Pipe>,
    needed: u64,
}

impl Future for Acked {
    type Output = Result<Value, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.pipe
            .poll_acked(cx, self.needed)
            .map(|r| r.map(|()| Value::Undefined).map_err(|e| e.to_rpc_error()))
    }
}

impl RpcTarget for PipeWriter {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        let result = match method {
            "write" => {
                let chunk = args.into_iter().next().unwrap_or_default();
                match self.pipe.write(chunk) {
                    Ok(needed) => {
                        let pipe = Arc::clone(&self.pipe);
                        return CallFuture::new(Acked { pipe, needed });
                    }
                    Err(e) => Err(e),
                }
            }
            "close" => {
                self.finished.store(true, Ordering::Release);
                self.pipe.close().map(|()| Value::Undefined)
            }
            "abort" => {
                self.finished.store(true, Ordering::Release);
                let reason = match args.into_iter().next() {
                    Some(Value::Error(e)) => *e,
                    Some(Value::String(s)) => RpcError::error(s),
                    Some(Value::Undefined) | None => {
                        RpcError::error("the WritableStream was aborted")
                    }
                    Some(other) => RpcError::error(format!(
                        "the WritableStream was aborted with a {}",
                        other.kind()
                    ))
                    .with_prop("value", other),
                };
                self.pipe.abort(Error::from(reason));
                Ok(Value::Undefined)
            }
            other => Err(Error::from(RpcError::type_error(format!(
                "'{other}' is not a method of a WritableStream: it has write, close and abort"
            )))),
        };
        CallFuture::ready(result.map_err(|e| e.to_rpc_error()))
    }

    fn get(self: Arc<Self>, property: &str) -> CallFuture {
        CallFuture::ready(Err(RpcError::type_error(format!(
            "a WritableStream has no properties to read over RPC (read '{property}')"
        ))))
    }

    fn type_name(&self) -> &'static str {
        "WritableStream"
    }
}

/// The readable end. Dropped before the end, it cancels the pipe: the writer's next writes
/// (and those waiting for their acknowledgement) fail, so it learns.
pub(crate) struct PipeReader {
    pipe: Arc<Pipe>,
}

impl PipeReader {
    pub(crate) fn new(pipe: Arc<Pipe>) -> PipeReader {
        PipeReader { pipe }
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        self.pipe.cancel();
    }
}

impl Stream for PipeReader {
    type Item = Result<Value, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.pipe.poll_next(cx)
    }
}
