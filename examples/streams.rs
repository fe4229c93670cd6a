//! Streams over WebSocket: a server that streams its log lines to a client as they are
//! written, and takes an upload the client writes into a stream it returns.
//!
//! `cargo run --example streams`

use std::sync::Mutex;
use std::time::Duration;

use capnweb::{
    rpc_target, websocket, Blob, Bytes, ReadableStream, RpcError, Server, WritableStream,
};
use futures::StreamExt;

/// The server's main object, one per session.
#[derive(Default)]
pub struct LogServer {
    upload: Mutex<Option<ReadableStream<Bytes>>>,
}

fn rpc(e: capnweb::Error) -> RpcError {
    e.to_rpc_error()
}

#[rpc_target]
impl LogServer {
    /// The next `n` log lines, streamed as they are produced (one every 50 ms here).
    pub fn follow(&self, n: u32) -> ReadableStream<String> {
        let lines = futures::stream::iter(0..n).then(|i| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            format!("[{:>4} ms] request {i} served", 50 * (i + 1))
        });
        ReadableStream::new(lines)
    }

    /// A stream for the client to write an upload into; `finish_upload` reads it.
    pub fn upload(&self) -> WritableStream<Bytes> {
        let (writer, reader) = capnweb::pipe();
        *self.upload.lock().unwrap_or_else(|p| p.into_inner()) = Some(reader);
        writer
    }

    /// The upload's size and checksum, once the client closed its stream.
    pub async fn finish_upload(&self) -> Result<String, RpcError> {
        let reader = self.upload.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut reader = reader.ok_or_else(|| RpcError::error("call upload() first"))?;
        let (mut bytes, mut sum) = (0usize, 0u64);
        while let Some(chunk) = reader.next().await {
            let chunk = chunk.map_err(rpc)?;
            bytes += chunk.len();
            sum = chunk
                .iter()
                .fold(sum, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
        }
        Ok(format!("{bytes} bytes, checksum {sum:016x}"))
    }

    /// Today's log as a blob.
    pub fn archive(&self) -> Blob {
        Blob::new("text/plain", "request 0 served\nrequest 1 served\n")
    }
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    let server = Server::bind("127.0.0.1:0").await?;
    let addr = server.local_addr();
    tokio::spawn(server.serve(|| LogServerStub::new(LogServer::default())));
    println!("serving logs on ws://{addr}/");

    let logs: LogServerStub = websocket::connect(&format!("ws://{addr}/")).await?;

    // Server -> client: lines arrive one by one, as the server produces them.
    let mut lines = logs.follow(5).await?;
    while let Some(line) = lines.next().await {
        println!("log: {}", line?);
    }

    // Client -> server: write into the stream the server returned, then close it. The server
    // reads as the client writes (the call is sent at once, though awaited last): writes wait
    // for the reader once the flow controller's window is full, so nothing piles up.
    let mut upload = logs.upload().await?;
    let summary = logs.finish_upload();
    for i in 0..16u8 {
        upload.write(Bytes::from(vec![i; 64 * 1024])).await?;
    }
    upload.close().await?;
    println!("upload: {}", summary.await?);

    // A blob: its MIME type and its content, read whole.
    let archive = logs.archive().await?;
    let mime = archive.mime_type().to_owned();
    println!("archive ({mime}): {:?}", archive.text().await?);
    Ok(())
}
