//! The server that the process-level bound tests (`tests/tests/process_bounds.rs`) spawn and
//! measure from outside: the interop surface over WebSocket and HTTP batch on loopback, with
//! default settings except what the arguments set.
//!
//! `bounds-server [--send-timeout-ms N]`: the first line on stdout is `listening on HOST:PORT`.

use std::io::Write;
use std::time::Duration;

use capnweb::{Server, SessionOptions};
use capnweb_examples::interop::{InteropApi, InteropApiStub};

fn options_from_args() -> Result<SessionOptions, String> {
    let mut options = SessionOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--send-timeout-ms" => {
                let ms: u64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--send-timeout-ms needs a number of milliseconds")?;
                options = options.send_timeout(Duration::from_millis(ms));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options_from_args()?;
    let server = Server::bind("127.0.0.1:0").await?.options(options);
    println!("listening on {}", server.local_addr());
    std::io::stdout().flush()?;
    server
        .serve_with_shutdown(|| InteropApiStub::new(InteropApi), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
