//! The project's benchmark: calls Rust ↔ Rust in one process over memory, WebSocket and HTTP
//! batch, on Tokio's multi-thread runtime and on one thread, and beside them the reference
//! implementation (npm `capnweb`) making the same calls Node ↔ Node in one process, with the
//! ratios. The wire codec's own figures are `cargo run --release --example wire-bench`.
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
use capnweb::{http_batch, websocket, Server, Session, SessionOptions};
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use futures::future::join_all;

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

/// The three call patterns, on `api`.
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
    vec![sequential, concurrent, chain]
}

/// Every measurement, on the runtime it is called from.
async fn all(external: Option<String>) -> Result<Vec<Figure>, capnweb::Error> {
    let mut figures = Vec::new();

    let (a, b) = memory::pair();
    let _server = Session::new(
        a,
        Some(InteropApiStub::new(InteropApi).into()),
        SessionOptions::default(),
    );
    let client = Session::new(b, None, SessionOptions::default());
    figures.extend(calls("memory", &client.main_as()).await);

    let server = Server::bind("127.0.0.1:0").await?;
    let addr = server.local_addr();
    tokio::spawn(server.serve(|| InteropApiStub::new(InteropApi)));
    let url = external.clone().unwrap_or_else(|| format!("ws://{addr}/"));
    let label = match &external {
        Some(url) => format!("websocket to {url}"),
        None => "websocket".to_owned(),
    };
    let api: InteropApiStub = websocket::connect(&url).await?;
    figures.extend(calls(&label, &api).await);

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
fn on(runtime: tokio::runtime::Runtime, external: Option<String>) -> Vec<Figure> {
    runtime.block_on(async {
        match tokio::spawn(all(external)).await {
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

    println!("\n# Rust <-> Rust in one process, Tokio multi-thread runtime ({cpus} workers)");
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let threaded = on(multi, external.clone());

    println!("\n# Rust <-> Rust in one process, Tokio current-thread runtime (one thread)");
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let one_thread = on(single, external);

    println!();
    let Some(node) = reference() else {
        return;
    };
    println!("\n# ratios over the reference (Node <-> Node, one process), WebSocket");
    println!("{:<40} {:>18} {:>18}", "", "multi-thread", "current-thread");
    for theirs in &node {
        let ratio = |figures: &[Figure]| match ours_for(figures, theirs) {
            Some(ours) => format!("{:.1}x", ours.per_second / theirs.per_second),
            None => "-".to_owned(),
        };
        let pattern = theirs.what.split(": ").nth(1).unwrap_or(&theirs.what);
        println!(
            "{pattern:<40} {:>18} {:>18}",
            ratio(&threaded),
            ratio(&one_thread)
        );
    }
}
