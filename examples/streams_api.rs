//! The streams interop surface: what `interop/node/streams-surface.mjs` serves on the reference,
//! written with `#[rpc_target]`. The interop tests serve it in-process (a fresh object per
//! session) and call the reference's server with its typed stub.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use capnweb::{rpc_target, Blob, Bytes, ReadableStream, RpcError, Value, WritableStream};
use futures::StreamExt;

/// The main object of the streams surface. One per session: it holds the session's upload.
#[derive(Debug, Default)]
pub struct StreamsApi {
    upload: Mutex<Option<ReadableStream<String>>>,
    produced: Arc<AtomicU64>,
}

fn rpc(e: capnweb::Error) -> RpcError {
    e.to_rpc_error()
}

#[rpc_target]
impl StreamsApi {
    /// `n` lines, `line 0` to `line n-1`.
    pub fn tail(&self, n: u32) -> ReadableStream<String> {
        ReadableStream::new(futures::stream::iter((0..n).map(|i| format!("line {i}"))))
    }

    /// `n` byte chunks of `size` bytes, chunk `i` filled with `i % 256`.
    pub fn chunks(&self, n: u32, size: u32) -> ReadableStream<Bytes> {
        ReadableStream::new(futures::stream::iter(
            (0..n).map(move |i| Bytes::from(vec![(i % 256) as u8; size as usize])),
        ))
    }

    /// `n` lines, then a `RangeError("the source broke")`.
    pub fn failing(&self, n: u32) -> ReadableStream<String> {
        let items = (0..=n).map(move |i| {
            if i < n {
                Ok(format!("line {i}"))
            } else {
                Err(RpcError::range_error("the source broke"))
            }
        });
        ReadableStream::try_new(futures::stream::iter(items))
    }

    /// 0, 1, 2, … until the reader cancels.
    pub fn endless(&self) -> ReadableStream<f64> {
        let produced = Arc::clone(&self.produced);
        ReadableStream::new(futures::stream::iter(0u64..).map(move |i| {
            produced.fetch_add(1, Ordering::SeqCst);
            i as f64
        }))
    }

    /// How many numbers `endless` produced.
    pub fn produced(&self) -> f64 {
        self.produced.load(Ordering::SeqCst) as f64
    }

    /// `text` as a `text/plain` blob.
    pub fn blob(&self, text: String) -> Blob {
        Blob::new("text/plain", text)
    }

    /// `"type:length"` of a blob.
    pub async fn blob_info(&self, blob: Blob) -> Result<String, RpcError> {
        let mime = blob.mime_type().to_owned();
        let bytes = blob.bytes().await.map_err(rpc)?;
        Ok(format!("{mime}:{}", bytes.len()))
    }

    /// Every line of a stream of strings.
    pub async fn collect(&self, lines: ReadableStream<String>) -> Result<Vec<String>, RpcError> {
        lines.collect_all().await.map_err(rpc)
    }

    /// The total length of a stream of byte chunks.
    pub async fn total_bytes(&self, chunks: ReadableStream<Bytes>) -> Result<f64, RpcError> {
        let mut chunks = chunks;
        let mut total = 0usize;
        while let Some(chunk) = chunks.next().await {
            total += chunk.map_err(rpc)?.len();
        }
        Ok(total as f64)
    }

    /// The first two lines; the rest of the stream is canceled.
    pub async fn take_two(&self, lines: ReadableStream<String>) -> Result<Vec<String>, RpcError> {
        let mut lines = lines;
        let mut taken = Vec::new();
        while taken.len() < 2 {
            match lines.next().await {
                Some(line) => taken.push(line.map_err(rpc)?),
                None => break,
            }
        }
        Ok(taken)
    }

    /// A stream to write lines into; `uploaded()` returns them once it is closed.
    pub fn upload(&self) -> WritableStream<String> {
        let (writer, reader) = capnweb::pipe();
        *self.upload.lock().unwrap_or_else(|p| p.into_inner()) = Some(reader);
        writer
    }

    /// What was written into `upload()`'s stream (waits for its end).
    pub async fn uploaded(&self) -> Result<Vec<String>, RpcError> {
        let reader = self.upload.lock().unwrap_or_else(|p| p.into_inner()).take();
        let reader = reader.ok_or_else(|| RpcError::error("upload() was not called"))?;
        reader.collect_all().await.map_err(rpc)
    }

    /// Writes `line 0` to `line n-1` into the caller's stream, then closes it.
    pub async fn write_lines(&self, out: WritableStream<String>, n: u32) -> Result<(), RpcError> {
        let mut out = out;
        for i in 0..n {
            out.write(format!("line {i}")).await.map_err(rpc)?;
        }
        out.close().await.map_err(rpc)
    }

    /// `"METHOD URL: body"` of a request whose body is a stream.
    pub async fn request_body(&self, request: Value) -> Result<String, RpcError> {
        let Value::Request(request) = request else {
            return Err(RpcError::type_error("requestBody takes a Request"));
        };
        let method = request
            .other
            .get("method")
            .and_then(|v| v.as_str())
            .unwrap_or("GET")
            .to_owned();
        let body = match request.body {
            None => String::new(),
            Some(Value::String(s)) => s,
            Some(body) => {
                let chunks: ReadableStream<Bytes> = capnweb::from_value(body).map_err(rpc)?;
                let mut text = Vec::new();
                for chunk in chunks.collect_all().await.map_err(rpc)? {
                    text.extend_from_slice(chunk.as_slice());
                }
                String::from_utf8_lossy(&text).into_owned()
            }
        };
        Ok(format!("{method} {}: {body}", request.url))
    }
}
