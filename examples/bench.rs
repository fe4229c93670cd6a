//! Throughput figures: the wire codec, and calls over memory, WebSocket and HTTP batch.
//!
//! `cargo run --release --example bench [-- ws://HOST:PORT/]`
//!
//! With a URL, the WebSocket figures are measured against that server instead of our own (any
//! server with the interop surface, e.g. `node interop/node/server.mjs 127.0.0.1:0`), which
//! compares servers. Figures on a shared machine are noisy: compare runs made side by side.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use capnweb::transport::memory;
use capnweb::wire::Message;
use capnweb::{http_batch, websocket, Server, Session, SessionOptions};
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use futures::future::join_all;

/// How long each measurement runs.
const SPAN: Duration = Duration::from_millis(1500);

fn report(what: &str, count: usize, elapsed: Duration) {
    let per_second = count as f64 / elapsed.as_secs_f64();
    let micros = elapsed.as_secs_f64() * 1e6 / count as f64;
    println!("{what:<48} {per_second:>12.0} /s {micros:>10.2} µs each");
}

/// Runs `round` repeatedly for about [`SPAN`]; each round does `per_round` operations.
async fn measure<F, Fut>(what: &str, per_round: usize, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    round().await; // warm up
    let started = Instant::now();
    let mut count = 0;
    while started.elapsed() < SPAN {
        round().await;
        count += per_round;
    }
    report(what, count, started.elapsed());
}

fn wire() {
    let texts = [
        r#"["push",["pipeline",0,["square"],[3]]]"#.to_string(),
        r#"["resolve",1,{"id":"u_1","name":"Ada Lovelace","tags":[["a","b","c"]],"when":["date",1749342170815]}]"#
            .to_string(),
        format!(r#"["resolve",2,[[{}]]]"#, (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(",")),
    ];
    for text in &texts {
        let started = Instant::now();
        let mut count = 0;
        while started.elapsed() < SPAN {
            for _ in 0..1000 {
                let message = Message::parse(text).expect("valid");
                std::hint::black_box(message.to_text());
            }
            count += 1000;
        }
        let label = format!("wire: parse + serialize {} bytes", text.len());
        report(&label, count, started.elapsed());
    }
}

async fn calls(label: &str, api: &InteropApiStub) {
    measure(&format!("{label}: sequential calls"), 1, || async {
        api.square(3.0).await.expect("square");
    })
    .await;
    measure(&format!("{label}: 100 concurrent calls"), 100, || async {
        let all = join_all((0..100).map(|i| async move { api.square(f64::from(i)).await }));
        for result in all.await {
            result.expect("square");
        }
    })
    .await;
    measure(
        &format!("{label}: chain of 10 pipelined calls"),
        10,
        || async {
            let mut value = api.square(1.0);
            for _ in 0..9 {
                value = api.square(value);
            }
            value.await.expect("chain");
        },
    )
    .await;
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    let external = std::env::args().nth(1);
    println!(
        "capnweb for Rust, {} build",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    wire();

    let (a, b) = memory::pair();
    let _server = Session::new(
        a,
        Some(InteropApiStub::new(InteropApi).into()),
        SessionOptions::default(),
    );
    let client = Session::new(b, None, SessionOptions::default());
    calls("memory", &client.main_as()).await;

    let server = Server::bind("127.0.0.1:0").await?;
    let addr = server.local_addr();
    tokio::spawn(server.serve(|| InteropApiStub::new(InteropApi)));
    let url = external.clone().unwrap_or_else(|| format!("ws://{addr}/"));
    let label = if external.is_some() {
        format!("websocket to {url}")
    } else {
        "websocket".to_string()
    };
    let api: InteropApiStub = websocket::connect(&url).await?;
    calls(&label, &api).await;

    measure("http batch: 100 calls in one POST", 100, || async {
        let api: InteropApiStub = http_batch::connect(&format!("http://{addr}/"));
        let all = join_all((0..100).map(|i| api.square(f64::from(i)).into_future()));
        for result in all.await {
            result.expect("square");
        }
    })
    .await;
    Ok(())
}
