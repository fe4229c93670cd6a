//! Serves the interop surface (the reference test suite's target, plus `echo`) over HTTP batch
//! and WebSocket on one address, until Ctrl-C.
//!
//! `cargo run --example interop-server -- 127.0.0.1:0` — the first line on stdout is
//! `listening on HOST:PORT` (the bound port), so any client can find it. It describes its API
//! (`capnweb describe ws://HOST:PORT/`).

use std::io::Write;

use capnweb::{RpcService, Server};
use capnweb_examples::interop::{InteropApi, InteropApiStub};

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let server = Server::bind(addr.as_str()).await?;
    println!("listening on {}", server.local_addr());
    let _ = std::io::stdout().flush();
    server
        .serve_with_shutdown(
            RpcService::new(|| InteropApiStub::new(InteropApi)).describe::<InteropApiStub>(),
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )
        .await
}
