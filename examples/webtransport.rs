//! Cap'n Web over WebTransport (HTTP/3 on UDP): a server with a short-lived development
//! certificate, and a Rust client that trusts it by its SHA-256 hash, as a browser's
//! `serverCertificateHashes` does.
//!
//! `cargo run --example webtransport` serves, calls (a call, a pipelined chain, `.map()`, a
//! callback, a stream) and exits. `cargo run --example webtransport -- --serve [UDP_PORT]`
//! stays up (until Ctrl-C) and prints what a web page needs to call it.

use std::time::Duration;

use capnweb::webtransport::DevCertificate;
use capnweb::{rpc_target, ReadableStream, RpcError, Server};
use futures::StreamExt;

/// The server's main object.
pub struct Api;

#[rpc_target]
impl Api {
    /// `x * x`.
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }

    /// The first `n` Fibonacci numbers.
    pub fn fibonacci(&self, n: u32) -> Vec<f64> {
        let (mut a, mut b) = (0.0, 1.0);
        (0..n)
            .map(|_| {
                let x = a;
                (a, b) = (b, a + b);
                x
            })
            .collect()
    }

    /// Calls the client's `greeter` with `name`, and returns what it said.
    pub async fn greet_through(
        &self,
        greeter: GreeterStub,
        name: String,
    ) -> Result<String, RpcError> {
        greeter.greet(name).await.map_err(|e| e.to_rpc_error())
    }

    /// `n` lines, one after another.
    pub fn count(&self, n: u32) -> ReadableStream<String> {
        ReadableStream::new(futures::stream::iter(
            (1..=n).map(move |i| format!("line {i} of {n}")),
        ))
    }
}

/// What the client serves to the server.
#[rpc_target]
pub trait Greeter {
    /// A greeting for `name`.
    async fn greet(&self, name: String) -> String;
}

struct Polite;

impl Greeter for Polite {
    async fn greet(&self, name: String) -> String {
        format!("Good day, {name}.")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let stay_up = args.next().as_deref() == Some("--serve");
    let port: u16 = match args.next() {
        Some(port) => port.parse()?,
        None => 0,
    };

    let cert = DevCertificate::generate()?;
    let server = Server::bind("127.0.0.1:0")
        .await?
        .webtransport(([127, 0, 0, 1], port).into(), &cert)?;
    let udp = server
        .webtransport_addr()
        .ok_or("the server serves no WebTransport")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(
        server.serve_with_shutdown(|| ApiStub::new(Api), async move {
            let _ = stopped.await;
        }),
    );
    let url = format!("https://{udp}/");
    println!("serving over WebTransport at {url}");
    println!("certificate SHA-256: {}", cert.sha256_hex());

    if stay_up {
        println!(
            "from a page on http://localhost or http://127.0.0.1 (a secure context):\n  \
             new WebTransport(\"{url}\", {{ serverCertificateHashes: [{{ algorithm: \"sha-256\", \
             value: new Uint8Array({:?}) }}] }})\n  (that page's origin must be allowed: \
             Server::allow_origin; the certificate lasts 13 days)\nCtrl-C to stop",
            cert.sha256()
        );
        tokio::signal::ctrl_c().await?;
    } else {
        let session = capnweb::webtransport::builder(&url)
            .certificate_hash(cert.sha256())
            .local_main(GreeterStub::new(Polite))
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await?;
        let api = session.main_as::<ApiStub>();
        println!("square(7) = {}", api.square(7.0).await?);
        // A result as an argument: one round trip for the chain.
        println!(
            "square(square(square(2))) = {}",
            api.square(api.square(api.square(2.0))).await?
        );
        // .map(): every element squared on the server, one round trip.
        let squares = api.fibonacci(8).map(|x| api.square(x)).await?;
        println!("fibonacci(8).map(square) = {squares:?}");
        // The server calls back into the client.
        println!(
            "{}",
            api.greet_through(GreeterStub::new(Polite), "Ada").await?
        );
        // A stream from the server.
        let mut lines = api.count(3).await?;
        while let Some(line) = lines.next().await {
            println!("stream: {}", line?);
        }
        drop(api);
        drop(session);
    }
    let _ = stop.send(());
    serving.await??;
    println!("done");
    Ok(())
}
