//! 1 GiB through a stream over WebSocket on loopback, in bounded memory: our client uploads
//! 1 GiB of 64 KiB chunks to our server (in this process), which reads and counts them; the
//! flow controller's window bounds what is in flight, so the peak RSS stays far below the size
//! of the data. Prints MB/s and the peak RSS (Linux: `VmHWM` of /proc/self/status).
//!
//! `cargo run --release --example stream-1gib [-- MiB [down]]` (default 1024; `down`: the
//! server streams to the client instead)

use std::time::Instant;

use capnweb::{websocket, Bytes, ReadableStream, Server};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use futures::StreamExt;

const CHUNK: usize = 64 * 1024;

/// The peak resident set size so far, in MiB, where the system tells it.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(1024), |a| a.parse())?;
    let chunks = mib * 1024 * 1024 / CHUNK;
    let server = Server::bind("127.0.0.1:0").await?;
    let addr = server.local_addr();
    tokio::spawn(server.serve(|| StreamsApiStub::new(StreamsApi::default())));
    let api: StreamsApiStub = websocket::connect(&format!("ws://{addr}/")).await?;
    api.total_bytes(ReadableStream::new(futures::stream::iter([Bytes::from(
        vec![0u8; CHUNK],
    )])))
    .await?;
    let before = peak_rss_mib();

    let download = std::env::args().nth(2).is_some_and(|a| a == "down");
    let started = Instant::now();
    let total = if download {
        let mut chunks_in = api.chunks(chunks as u32, CHUNK as u32).await?;
        let mut total = 0usize;
        while let Some(chunk) = chunks_in.next().await {
            total += chunk?.len();
        }
        total as f64
    } else {
        let source = futures::stream::iter(0..chunks).map(|i| Bytes::from(vec![i as u8; CHUNK]));
        api.total_bytes(ReadableStream::new(source)).await?
    };
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(total as usize, chunks * CHUNK);

    let rate = total / 1e6 / seconds;
    let way = if download {
        "download, server -> client"
    } else {
        "upload, client -> server"
    };
    println!("{mib} MiB {way}, Rust <-> Rust over WebSocket: {seconds:.1} s, {rate:.1} MB/s");
    match (before, peak_rss_mib()) {
        (Some(before), Some(after)) => {
            println!("peak RSS: {after:.1} MiB (before the stream: {before:.1} MiB)")
        }
        _ => println!("peak RSS: not available on this system"),
    }
    Ok(())
}
