//! Stream throughput over WebSocket on loopback, 64 KiB chunks of bytes, side by side in one
//! run: our client against our server, and the reference's client (npm `capnweb` on Node)
//! against the reference's server (and each against the other). Upload: a `ReadableStream`
//! argument the server reads to its end; download: a `ReadableStream` result read to its end.
//!
//! `cargo run --release --example stream-bench [-- MiB [ROUNDS]]` (default 256 MiB per
//! measurement; the reference's runs use a quarter of that, at most 64 MiB, as they are slower).
//! Needs Node and `interop/setup.sh` for the reference's side.
//!
//! The two rows the ratio compares, ours and the reference's, are measured in ROUNDS rounds
//! (default 3), each ours then the reference's, and their medians compared: on a shared machine
//! whose speed drifts from one second to the next, a single pair of runs can land one on a
//! slow patch and the other on a fast one. Every round's own ratio is printed as well.

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

/// One measurement: MB/s each way, and the CPU time (user and system, client and server
/// together) it took per GiB moved, where both ends were measured.
#[derive(Clone, Copy)]
struct Measured {
    upload: f64,
    download: f64,
    cpu_per_gib: Option<f64>,
}

/// CPU seconds (user and system) used so far by process `pid`, or by this one; `None` where
/// `/proc` is not there to say (it counts in USER_HZ ticks, 100 a second on Linux).
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or("/proc/self/stat".to_owned(), |pid| {
        format!("/proc/{pid}/stat")
    });
    let stat = std::fs::read_to_string(path).ok()?;
    // After the command name, in parentheses: state, then numbers; utime and stime are the
    // 12th and 13th of the fields that follow it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

fn per_gib(cpu: f64, bytes_moved: f64) -> f64 {
    cpu / (bytes_moved / (1024.0 * 1024.0 * 1024.0))
}

/// Our client against `addr`. Its CPU figure is this process's: ours, where the server is
/// ours too and nothing else here is busy meanwhile.
async fn rust_client(addr: &str, chunks: usize) -> Result<Measured, capnweb::Error> {
    let api: StreamsApiStub = websocket::connect(&format!("ws://{addr}/")).await?;
    let bytes = (chunks * CHUNK) as f64;
    api.total_bytes(source(16)).await?;
    let cpu_at_start = cpu_seconds(None);
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
    let download = bytes / 1e6 / started.elapsed().as_secs_f64();
    let cpu = cpu_at_start.zip(cpu_seconds(None)).map(|(a, b)| b - a);
    Ok(Measured {
        upload,
        download,
        cpu_per_gib: cpu.map(|cpu| per_gib(cpu, 2.0 * bytes)),
    })
}

/// The reference's client against `addr`. With the server's process id (the reference's
/// server), its CPU figure is the client's and that server's.
async fn node_client(addr: &str, mib: usize, server: Option<u32>) -> Result<Measured, String> {
    let server_at_start = server.and_then(|pid| cpu_seconds(Some(pid)));
    let out = tokio::process::Command::new("node")
        .arg(interop().join("node/stream-bench.mjs"))
        .arg(addr)
        .arg(mib.to_string())
        .output()
        .await
        .map_err(|e| format!("cannot run node: {e}"))?;
    let server_cpu = server_at_start
        .zip(server.and_then(|pid| cpu_seconds(Some(pid))))
        .map(|(a, b)| b - a);
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
    let moved = 2.0 * field("bytes")?;
    let client_cpu = field("cpu_ms")? / 1000.0;
    Ok(Measured {
        upload: field("upload_mb_s")?,
        download: field("download_mb_s")?,
        cpu_per_gib: server_cpu.map(|server| per_gib(server + client_cpu, moved)),
    })
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
fn client_on_its_own_runtime(addr: &str, chunks: usize) -> Result<Measured, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(rust_client(addr, chunks))
        .map_err(|e| e.to_string())
}

/// The round trip, in microseconds, of one chunk's message (a 64 KiB chunk as base64, 87 KB)
/// and its acknowledgement (35 bytes) between two threads over loopback TCP with blocking
/// sockets and no protocol at all: the floor under a stream that has one chunk in flight.
fn loopback_round_trip() -> std::io::Result<f64> {
    use std::io::{Read, Write};
    const MESSAGE: usize = 87_400;
    const ACK: usize = 35;
    const ROUNDS: usize = 5_000;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let message = vec![b'A'; MESSAGE];
        let mut ack = [0u8; ACK];
        for _ in 0..ROUNDS {
            server.write_all(&message)?;
            server.read_exact(&mut ack)?;
        }
        Ok(())
    });
    let mut message = vec![0u8; MESSAGE];
    let started = Instant::now();
    for _ in 0..ROUNDS {
        client.read_exact(&mut message)?;
        client.write_all(&[b'k'; ACK])?;
    }
    let elapsed = started.elapsed();
    writer
        .join()
        .map_err(|_| std::io::Error::other("the writer thread panicked"))??;
    Ok(elapsed.as_secs_f64() * 1e6 / ROUNDS as f64)
}

fn row(what: &str, m: Measured) {
    println!(
        "{what:<38} {:>10.1} MB/s {:>10.1} MB/s",
        m.upload, m.download
    );
}

fn middle(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median of each figure over the rounds.
fn median(rounds: &[Measured]) -> Measured {
    let cpu: Option<Vec<f64>> = rounds.iter().map(|r| r.cpu_per_gib).collect();
    Measured {
        upload: middle(rounds.iter().map(|r| r.upload).collect()),
        download: middle(rounds.iter().map(|r| r.download).collect()),
        cpu_per_gib: cpu.map(middle),
    }
}

/// `lowest–highest` of each round's ratio of one figure.
fn ratio_range(ours: &[Measured], theirs: &[Measured], pick: fn(&Measured) -> f64) -> String {
    let ratios: Vec<f64> = ours
        .iter()
        .zip(theirs)
        .map(|(o, t)| pick(o) / pick(t))
        .collect();
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(0.0, f64::max);
    format!("x{low:.1}–{high:.1}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().map_or(Ok(256), |a| a.parse())?;
    let rounds: usize = args.next().map_or(Ok(3), |a| a.parse())?;
    let rounds = rounds.max(1);
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
    let mut rust_rounds = Vec::new();
    let mut node_rounds = Vec::new();
    let mut floors = Vec::new();
    for _ in 0..rounds {
        floors.push(tokio::task::spawn_blocking(loopback_round_trip).await??);
        let rust = tokio::task::spawn_blocking({
            let addr = ours.clone();
            move || client_on_its_own_runtime(&addr, chunks)
        })
        .await??;
        rust_rounds.push(rust);
        if let Some((child, addr)) = &reference {
            node_rounds.push(node_client(addr, node_mib, child.id()).await?);
        }
    }
    let of_rounds = if rounds == 1 {
        String::new()
    } else {
        format!(" (median of {rounds})")
    };
    let rust = median(&rust_rounds);
    row(&format!("Rust -> Rust{of_rounds}"), rust);
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
        let node = median(&node_rounds);
        row(&format!("Node -> Node (reference){of_rounds}"), node);
        row(
            "Rust -> Node",
            rust_client(addr, node_mib * 1024 * 1024 / CHUNK).await?,
        );
        row("Node -> Rust", node_client(&ours, node_mib, None).await?);
        println!(
            "Rust/Rust over Node/Node: upload x{:.1}, download x{:.1}",
            rust.upload / node.upload,
            rust.download / node.download
        );
        if rounds > 1 {
            println!(
                "  each round (ours, then the reference's): upload {}, download {}",
                ratio_range(&rust_rounds, &node_rounds, |r| r.upload),
                ratio_range(&rust_rounds, &node_rounds, |r| r.download)
            );
        }
        if let (Some(ours), Some(theirs)) = (rust.cpu_per_gib, node.cpu_per_gib) {
            println!(
                "CPU per GiB moved (client and server, user and system): Rust/Rust {ours:.2} s, \
                 Node/Node {theirs:.2} s: x{:.1} less",
                theirs / ours
            );
        }
    } else {
        println!("(Node or interop/setup.sh unavailable: the reference's rows are left out)");
    }
    // Downloads run at one chunk per round trip (the window settles at its 64 KiB minimum,
    // less than one chunk's 87 KB message): this machine's floor under such a round trip,
    // measured at the start of each round.
    let floor = middle(floors);
    println!(
        "Loopback floor{of_rounds}: an 87 KB message and a 35-byte answer between two threads, \
         no protocol: {floor:.0} us, so at most {:.0} MB/s at one 64 KiB chunk per round trip",
        CHUNK as f64 / floor
    );
    Ok(())
}
