//! A calculator served over HTTP batch and WebSocket on one address, and called over both.
//!
//! `cargo run --example calculator`

use capnweb::{http_batch, rpc_target, websocket, Server};

/// The calculator: the server's main object.
pub struct Calculator;

#[rpc_target]
impl Calculator {
    /// `a + b`.
    pub fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// `a - b`.
    pub fn subtract(&self, a: f64, b: f64) -> f64 {
        a - b
    }
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    let server = Server::bind("127.0.0.1:0").await?;
    let addr = server.local_addr();
    tokio::spawn(server.serve(|| CalculatorStub::new(Calculator)));
    println!("serving a calculator on {addr}");

    // WebSocket: one connection, any number of calls.
    let calc: CalculatorStub = websocket::connect(&format!("ws://{addr}/")).await?;
    println!("websocket:  2 + 3 = {}", calc.add(2.0, 3.0).await?);
    println!("websocket: 10 - 4 = {}", calc.subtract(10.0, 4.0).await?);
    // A result used as an argument: still one round trip.
    println!(
        "websocket: (1 + 2) - 5 = {}",
        calc.subtract(calc.add(1.0, 2.0), 5.0).await?
    );

    // HTTP batch: every call made before the first await travels in one POST.
    let batch: CalculatorStub = http_batch::connect(&format!("http://{addr}/"));
    let (sum, difference) = tokio::join!(batch.add(1.5, 2.5), batch.subtract(7.0, 9.0));
    println!(
        "http batch: 1.5 + 2.5 = {}, 7 - 9 = {} (one POST)",
        sum?, difference?
    );
    Ok(())
}
