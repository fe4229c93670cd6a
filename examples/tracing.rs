//! What a server logs with `tracing`: a span per session (transport, client address, path) and
//! per call (wire name, target, id, outcome, duration), events for calls that fail, run out of
//! time or break the protocol, and the per-session counters.
//!
//! Run with `cargo run -p capnweb-examples --example tracing`.

use std::time::Duration;

use capnweb::{rpc_target, RpcError, SessionOptions};
use futures::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use tracing_subscriber::fmt::format::FmtSpan;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }

    pub fn divide(&self, a: f64, b: f64) -> Result<f64, RpcError> {
        if b == 0.0 {
            return Err(RpcError::range_error("division by zero"));
        }
        Ok(a / b)
    }

    pub async fn slow(&self) -> String {
        tokio::time::sleep(Duration::from_secs(5)).await;
        "done".into()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Debug level shows the per-call spans; info shows sessions and warnings only.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_target(false)
        .init();

    let sessions = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sessions.clone();
    let options = SessionOptions::default()
        .handler_timeout(Duration::from_millis(100))
        .on_start(move |session| seen.lock().unwrap().push(session.clone()));
    let server = capnweb::Server::bind("127.0.0.1:0").await?.options(options);
    let addr = server.local_addr();
    tokio::spawn(server.serve(|| ApiStub::new(Api)));

    let api: ApiStub = capnweb::websocket::connect(&format!("ws://{addr}/api")).await?;
    api.square(7.0).await?;
    let _ = api.divide(1.0, 0.0).await; // fails: an error outcome
    let _ = api.slow().await; // runs past the server's handler timeout
    drop(api);

    // A peer that breaks the protocol: the session is aborted, with a warning.
    let (mut raw, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/raw")).await?;
    raw.send(Message::text("[\"push\",")).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;

    for session in sessions.lock().unwrap().iter() {
        let stats = session.stats();
        println!(
            "session: {} calls, {} errors, {} bytes in, {} bytes out",
            stats.calls, stats.errors, stats.bytes_in, stats.bytes_out
        );
    }
    Ok(())
}
