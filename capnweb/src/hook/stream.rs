//! The hook behind a stream value ([`Hook::Stream`]): a writable's hook, or a readable's
//! content, taken once. The stream types themselves ([`crate::stream`]) build on it; the
//! hook layer needs only this much of them.

use std::sync::{Arc, Mutex, MutexGuard};

use futures::stream::BoxStream;

use super::Hook;
use crate::error::{Error, RpcError};
use crate::value::Value;

/// The hook behind a stream value (see [`Hook::Stream`]).
pub(crate) enum StreamHook {
    /// A writable stream: a local pipe's writer, or the peer's writable.
    Writable(Hook),
    /// A readable stream: a local source, or the readable end of a pipe the peer fills.
    Readable(Arc<ReadableCell>),
    /// A blob: its MIME type and content.
    Blob(String, Arc<ReadableCell>),
}

impl StreamHook {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            StreamHook::Writable(_) => "WritableStream",
            StreamHook::Readable(_) => "ReadableStream",
            StreamHook::Blob(..) => "Blob",
        }
    }

    /// The error for any call or property read on a readable stream or blob.
    pub(crate) fn misuse(&self, what: &str) -> Error {
        Error::from(RpcError::type_error(format!(
            "cannot {what} on a {}: it is read, not called",
            self.kind()
        )))
    }
}

/// Chunks as values, and the errors a source may end with.
pub(crate) type Chunks = BoxStream<'static, Result<Value, Error>>;

/// A readable stream's content, taken once: by a local reader, or by the pipe that sends it.
pub(crate) struct ReadableCell {
    chunks: Mutex<Option<Chunks>>,
}

impl ReadableCell {
    pub(crate) fn new(chunks: Chunks) -> Arc<ReadableCell> {
        Arc::new(ReadableCell {
            chunks: Mutex::new(Some(chunks)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Chunks>> {
        self.chunks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The content; `None` once it was taken.
    pub(crate) fn take(&self) -> Option<Chunks> {
        self.lock().take()
    }

    /// Gives back content taken for a message that was not sent.
    pub(crate) fn put_back(&self, chunks: Chunks) {
        *self.lock() = Some(chunks);
    }
}
