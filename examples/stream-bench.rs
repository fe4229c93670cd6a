//! Stream throughput over WebSocket on loopback, 64 KiB chunks of bytes, side by side in one
//! run: our client against our server, and the reference's client (npm `capnweb` on Node)
//! against the reference's server (and each against the other). Upload: a `ReadableStream`
//! argument the server reads to its end; download: a `ReadableStream` result read to its end.
//!
//! `cargo run --release --example stream-bench [-- MiB]` (default 256 MiB per measurement; the
//! reference's runs use a quarter of that, at most 64 MiB, as they are slower). Needs Node and
//! `interop/setup.sh` for the reference's side.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use capnweb::{websocket, Bytes, ReadableStream, Server};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use futures::StreamExt;
use tokio::io::AsyncBufReadExt;

const CHUNK: usize = 64 * 1024;

fn interop() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop")
}

fn source(chunks: usize) -> ReadableStream<Bytes> {
    ReadableStream::new(futures::stream::iter(0..chunks).map(|i| Bytes::from(vec![i as u8; CHUNK])))
}

/// (upload MB/s, download MB/s) of our client against `addr`.
async fn rust_client(addr: &str, chunks: usize) -> Result<(f64, f64), capnweb::Error> {
    let api: StreamsApiStub = websocket::connect(&format!("ws://{addr}/")).await?;
    let bytes = (chunks * CHUNK) as f64;
    api.total_bytes(source(16)).await?;
    let started = Instant::now();
    let total = api.total_bytes(source(chunks)).await?;
    let upload = bytes / 1e6 / started.elapsed().as_secs_f64();
    assert_eq!(total, bytes, "uploaded");
    let started = Instant::now();
    let mut download = api.chunks(chunks as u32, CHUNK as u32).await?;
    let mut received = 0;
    while let Some(chunk) = download.next().await {
        received += chunk?.len();
    }
    assert_eq!(received as f64, bytes, "downloaded");
    Ok((upload, bytes / 1e6 / started.elapsed().as_secs_f64()))
}

/// (upload MB/s, download MB/s) of the reference's client against `addr`.
async fn node_client(addr: &str, mib: usize) -> Result<(f64, f64), String> {
    let out = tokio::process::Command::new("node")
        .arg(interop().join("node/stream-bench.mjs"))
        .arg(addr)
        .arg(mib.to_string())
        .output()
        .await
        .map_err(|e| format!("cannot run node: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Result<f64, String> {
        let at = text.find(name).ok_or_else(|| {
            format!(
                "no {name} in {text:?} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let rest = &text[at + name.len() + 2..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end].parse().map_err(|e| format!("{name}: {e}"))
    };
    Ok((field("upload_mb_s")?, field("download_mb_s")?))
}

/// The reference's streams server; its address once it is listening.
async fn node_server() -> Result<(tokio::process::Child, String), String> {
    let mut child = tokio::process::Command::new("node")
        .arg(interop().join("node/streams-server.mjs"))
        .arg("127.0.0.1:0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = lines
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("node exited")?;
    let addr = first
        .strip_prefix("listening on ")
        .ok_or(first.clone())?
        .to_owned();
    Ok((child, addr))
}

/// Our server on a runtime of its own, one thread, as a server process of its own would be;
/// its address once it is listening.
fn server_on_its_own_thread() -> Result<String, Box<dyn std::error::Error>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let runtime = match runtime {
            Ok(runtime) => runtime,
            Err(e) => return drop(tx.send(Err(e.to_string()))),
        };
        runtime.block_on(async move {
            match Server::bind("127.0.0.1:0").await {
                Ok(server) => {
                    drop(tx.send(Ok(server.local_addr().to_string())));
                    let served = server
                        .serve(|| StreamsApiStub::new(StreamsApi::default()))
                        .await;
                    if let Err(e) = served {
                        eprintln!("our server stopped: {e}");
                    }
                }
                Err(e) => drop(tx.send(Err(e.to_string()))),
            }
        });
    });
    Ok(rx.recv()??)
}

/// Our client on a runtime of its own, one thread, as a client process of its own would be
/// (call it from a blocking thread).
fn client_on_its_own_runtime(addr: &str, chunks: usize) -> Result<(f64, f64), String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(rust_client(addr, chunks))
        .map_err(|e| e.to_string())
}

fn row(what: &str, (up, down): (f64, f64)) {
    println!("{what:<38} {up:>10.1} MB/s {down:>10.1} MB/s");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: usize = std::env::args().nth(1).map_or(Ok(256), |a| a.parse())?;
    let chunks = mib * 1024 * 1024 / CHUNK;
    let node_mib = (mib / 4).clamp(1, 64);

    // The server and the client of the first row each have a runtime (and a thread) of their
    // own, as two processes would, and as the reference's two Node processes do.
    let ours = server_on_its_own_thread()?;
    let server = Server::bind("127.0.0.1:0").await?;
    let shared = server.local_addr().to_string();
    tokio::spawn(server.serve(|| StreamsApiStub::new(StreamsApi::default())));

    let setup = std::process::Command::new("bash")
        .arg(interop().join("setup.sh"))
        .status();
    let reference = match setup {
        Ok(status) if status.success() => Some(node_server().await?),
        _ => None,
    };

    println!("64 KiB chunks over WebSocket on loopback ({mib} MiB per Rust run, {node_mib} MiB per Node run)");
    println!(
        "{:<38} {:>15} {:>15}",
        "client -> server", "upload", "download"
    );
    let rust = tokio::task::spawn_blocking({
        let addr = ours.clone();
        move || client_on_its_own_runtime(&addr, chunks)
    })
    .await??;
    row("Rust -> Rust", rust);
    // Both in `main`'s runtime: the client runs as a task, as a client inside a server would,
    // and each chunk's hand-over between the two ends may wake another worker thread.
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let one_runtime = tokio::spawn(async move { rust_client(&shared, chunks).await }).await??;
    row(
        &format!(
            "Rust -> Rust (one runtime, {workers} thread{})",
            if workers == 1 { "" } else { "s" }
        ),
        one_runtime,
    );
    if let Some((_child, addr)) = &reference {
        let node = node_client(addr, node_mib).await?;
        row("Node -> Node (reference)", node);
        row(
            "Rust -> Node",
            rust_client(addr, node_mib * 1024 * 1024 / CHUNK).await?,
        );
        row("Node -> Rust", node_client(&ours, node_mib).await?);
        println!(
            "Rust/Rust over Node/Node: upload x{:.1}, download x{:.1}",
            rust.0 / node.0,
            rust.1 / node.1
        );
    } else {
        println!("(Node or interop/setup.sh unavailable: the reference's rows are left out)");
    }
    Ok(())
}
