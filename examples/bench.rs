//! The project's benchmark: calls Rust ↔ Rust in one process over memory, WebSocket and HTTP
//! batch, on Tokio's multi-thread runtime and on one thread, and beside them the reference
//! implementation (npm `capnweb`) making the same calls Node ↔ Node in one process, with the
//! ratios. WebTransport (HTTP/3 on loopback UDP, a development certificate) runs beside
//! WebSocket: the same call patterns, and a stream's MB/s over both. The wire codec's own
//! figures are `cargo run --release --example wire-bench`.
//!
//! `cargo run --release --example bench [-- ws://HOST:PORT/]`
//!
//! With a URL, the WebSocket figures are measured against that server instead of our own (any
//! server with the interop surface, e.g. `node interop/node/server.mjs 127.0.0.1:0`). Figures on
//! a shared machine are noisy: compare runs made side by side, as this one does.

use std::future::{Future, IntoFuture};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use capnweb::transport::memory;
use capnweb::webtransport::DevCertificate;
use capnweb::{http_batch, websocket, webtransport, Routes, Server, Session, SessionOptions};
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use futures::future::join_all;
use futures::StreamExt;

/// How long each measurement runs, after a warm-up of a fifth of it.
const SPAN: Duration = Duration::from_millis(1500);

/// One measurement: what, and calls per second.
struct Figure {
    what: String,
    per_second: f64,
}

fn report(what: &str, count: usize, elapsed: Duration) -> Figure {
    let per_second = count as f64 / elapsed.as_secs_f64();
    let micros = elapsed.as_secs_f64() * 1e6 / count as f64;
    println!("{what:<48} {per_second:>12.0} /s {micros:>10.2} µs each");
    Figure {
        what: what.to_owned(),
        per_second,
    }
}

/// Runs `round` for about [`SPAN`]; each round makes `per_round` calls.
async fn measure<F, Fut>(what: &str, per_round: usize, mut round: F) -> Figure
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let warm = Instant::now();
    while warm.elapsed() < SPAN / 5 {
        round().await;
    }
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < SPAN {
        round().await;
        count += per_round;
    }
    report(what, count, started.elapsed())
}

/// The call patterns, on `api`.
async fn calls(label: &str, api: &InteropApiStub) -> Vec<Figure> {
    let sequential = measure(&format!("{label}: sequential calls"), 1, || async {
        assert_eq!(api.square(3.0).await.expect("square"), 9.0);
    })
    .await;
    let concurrent = measure(&format!("{label}: 100 concurrent calls"), 100, || async {
        let all = join_all((0..100).map(|i| api.square(f64::from(i)).into_future()));
        for (i, result) in all.await.into_iter().enumerate() {
            assert_eq!(result.expect("square"), (i * i) as f64);
        }
    })
    .await;
    let in_flight = in_flight(&format!("{label}: 100 calls in flight"), api).await;
    let chain = measure(
        &format!("{label}: chain of 10 pipelined calls"),
        10,
        || async {
            let mut value = api.square(1.0);
            for _ in 0..9 {
                value = api.square(value);
            }
            assert_eq!(value.await.expect("chain"), 1.0);
        },
    )
    .await;
    vec![sequential, concurrent, in_flight, chain]
}

/// Calls/s with 100 calls always in flight (a new one starts as each finishes), so that the
/// client and the server can work at the same time, as under a steady load. ("100 concurrent
/// calls" waits for all 100 before starting the next 100.)
async fn in_flight(what: &str, api: &InteropApiStub) -> Figure {
    use futures::stream::{FuturesUnordered, StreamExt};
    let mut running: FuturesUnordered<_> = (0..100)
        .map(|i| api.square(f64::from(i)).into_future())
        .collect();
    let (mut count, mut started, mut warm) = (0, Instant::now(), true);
    while let Some(result) = running.next().await {
        result.expect("square");
        count += 1;
        if warm && started.elapsed() >= SPAN / 5 {
            (warm, count, started) = (false, 0, Instant::now());
        } else if !warm && started.elapsed() >= SPAN {
            break;
        }
        running.push(api.square(2.0).into_future());
    }
    let elapsed = started.elapsed();
    // The calls still running finish before the next measurement starts.
    while running.next().await.is_some() {}
    report(what, count, elapsed)
}

/// A stream's throughput: the server sends 1 MiB chunks, the client reads them all.
async fn stream_rate(label: &str, api: &StreamsApiStub) -> Figure {
    const CHUNK: u32 = 1024 * 1024;
    const CHUNKS: u32 = 16;
    let mut bytes = 0usize;
    let started = Instant::now();
    while started.elapsed() < SPAN {
        let mut chunks = api.chunks(CHUNKS, CHUNK).await.expect("a stream");
        while let Some(chunk) = chunks.next().await {
            bytes += chunk.expect("a chunk").len();
        }
    }
    let elapsed = started.elapsed();
    let mb_per_second = bytes as f64 / 1e6 / elapsed.as_secs_f64();
    let what = format!("{label}: stream of 1 MiB chunks");
    println!("{what:<48} {mb_per_second:>12.1} MB/s");
    Figure {
        what,
        per_second: mb_per_second,
    }
}

/// The routes of the benchmark's server: the interop surface, and the streams one at
/// `/streams`.
fn routes() -> Routes {
    Routes::new()
        .route("/streams", || StreamsApiStub::new(StreamsApi::default()))
        .fallback(|| InteropApiStub::new(InteropApi))
}

/// A server on free ports (TCP, and UDP for WebTransport with `cert`).
async fn server(cert: &DevCertificate) -> Result<Server, capnweb::Error> {
    Server::bind("127.0.0.1:0")
        .await?
        .webtransport(([127, 0, 0, 1], 0).into(), cert)
}

/// Where the serving side runs.
#[derive(Clone, Copy, PartialEq)]
enum Serving {
    /// On the client's runtime.
    Here,
    /// On a thread of its own, with a current-thread runtime.
    OwnThread,
}

/// Runs `serve` on a new thread with a current-thread runtime of its own.
fn on_own_thread<F, Fut>(serve: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        runtime.block_on(serve());
    });
}

/// Every measurement: the client on the runtime it is called from, the serving side where
/// `serving` says.
async fn all(external: Option<String>, serving: Serving) -> Result<Vec<Figure>, capnweb::Error> {
    let mut figures = Vec::new();

    let (a, b) = memory::pair();
    let main = || Some(InteropApiStub::new(InteropApi).into());
    let _server = match serving {
        Serving::Here => Some(Session::new(a, main(), SessionOptions::default())),
        Serving::OwnThread => {
            on_own_thread(move || async move {
                let server = Session::new(a, main(), SessionOptions::default());
                server.closed().await;
            });
            None
        }
    };
    let client = Session::new(b, None, SessionOptions::default());
    figures.extend(calls("memory", &client.main_as()).await);

    let cert = DevCertificate::generate()?;
    let (addr, udp) = match serving {
        Serving::Here => {
            let server = server(&cert).await?;
            let addrs = (server.local_addr(), server.webtransport_addr());
            tokio::spawn(server.serve(routes()));
            addrs
        }
        Serving::OwnThread => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let cert = cert.clone();
            on_own_thread(move || async move {
                let server = server(&cert).await.expect("free ports");
                let _ = tx.send((server.local_addr(), server.webtransport_addr()));
                let _ = server.serve(routes()).await;
            });
            rx.await.expect("the server starts")
        }
    };
    let udp = udp.expect("the server serves WebTransport");
    let url = external.clone().unwrap_or_else(|| format!("ws://{addr}/"));
    let label = match &external {
        Some(url) => format!("websocket to {url}"),
        None => "websocket".to_owned(),
    };
    let api: InteropApiStub = websocket::connect(&url).await?;
    figures.extend(calls(&label, &api).await);

    let wt = |path: &str| {
        webtransport::builder(format!("https://{udp}{path}")).certificate_hash(cert.sha256())
    };
    let api: InteropApiStub = wt("/").connect_main().await?;
    figures.extend(calls("webtransport", &api).await);
    let streams: StreamsApiStub = websocket::connect(&format!("ws://{addr}/streams")).await?;
    figures.push(stream_rate("websocket", &streams).await);
    let streams: StreamsApiStub = wt("/streams").connect_main().await?;
    figures.push(stream_rate("webtransport", &streams).await);

    let batch = measure("http batch: 100 calls in one POST", 100, || async {
        let api: InteropApiStub = http_batch::connect(&format!("http://{addr}/"));
        let all = join_all((0..100).map(|i| api.square(f64::from(i)).into_future()));
        for result in all.await {
            result.expect("square");
        }
    })
    .await;
    figures.push(batch);
    Ok(figures)
}

/// Runs [`all`] on `runtime`, inside a task (so the client runs on a worker, as a server's
/// code does, not on the thread that blocks on the runtime).
fn on(runtime: tokio::runtime::Runtime, external: Option<String>, serving: Serving) -> Vec<Figure> {
    runtime.block_on(async {
        match tokio::spawn(all(external, serving)).await {
            Ok(Ok(figures)) => figures,
            Ok(Err(e)) => panic!("a measurement failed: {e}"),
            Err(e) => panic!("a measurement panicked: {e}"),
        }
    })
}

/// The reference's figures, Node ↔ Node in one process (`interop/node/inprocess.mjs`), if
/// Node and the pinned packages are at hand.
fn reference() -> Option<Vec<Figure>> {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop");
    let setup = Command::new("bash").arg(interop.join("setup.sh")).status();
    if !matches!(setup, Ok(status) if status.success()) {
        println!("(skipped: interop/setup.sh could not install the reference's packages)");
        return None;
    }
    let output = Command::new("node")
        .arg(interop.join("node/inprocess.mjs"))
        .output();
    let output = match output {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            println!(
                "(the reference's run failed: {})",
                String::from_utf8_lossy(&output.stderr)
            );
            return None;
        }
        Err(e) => {
            println!("(skipped: node could not run: {e})");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let mut figures = Vec::new();
    for line in text.lines() {
        println!("{line}");
        let Some((what, rest)) = line.split_once("  ") else {
            continue;
        };
        let per_second = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        if let Some(per_second) = per_second {
            figures.push(Figure {
                what: what.trim().to_owned(),
                per_second,
            });
        }
    }
    Some(figures)
}

/// Our figure for the same measurement as a reference one (`node websocket: …`).
fn ours_for<'a>(figures: &'a [Figure], reference: &Figure) -> Option<&'a Figure> {
    let pattern = reference.what.split(": ").nth(1)?;
    figures
        .iter()
        .find(|f| f.what.starts_with("websocket") && f.what.ends_with(pattern))
}

fn main() {
    let external = std::env::args().nth(1);
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "capnweb for Rust, {} build, {cpus} CPUs",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );

    let current = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime")
    };

    println!("\n# Rust <-> Rust in one process, Tokio multi-thread runtime ({cpus} workers)");
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let threaded = on(multi, external.clone(), Serving::Here);

    println!("\n# Rust <-> Rust in one process, one thread (a current-thread runtime)");
    let one_thread = on(current(), external.clone(), Serving::Here);

    println!("\n# Rust <-> Rust in one process, client and server each on a thread of its own");
    let two_threads = on(current(), external, Serving::OwnThread);

    println!();
    let Some(node) = reference() else {
        return;
    };
    println!("\n# ratios over the reference (Node <-> Node, one process), WebSocket");
    println!(
        "{:<40} {:>14} {:>14} {:>14}",
        "", "multi-thread", "one thread", "two threads"
    );
    for theirs in &node {
        let ratio = |figures: &[Figure]| match ours_for(figures, theirs) {
            Some(ours) => format!("{:.1}x", ours.per_second / theirs.per_second),
            None => "-".to_owned(),
        };
        let pattern = theirs.what.split(": ").nth(1).unwrap_or(&theirs.what);
        println!(
            "{pattern:<40} {:>14} {:>14} {:>14}",
            ratio(&threaded),
            ratio(&one_thread),
            ratio(&two_threads)
        );
    }
}
