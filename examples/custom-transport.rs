//! A transport of your own: newline-delimited JSON over a Unix socket, one message per line.
//!
//! Any [`Stream`](futures::Stream) of text messages that is also a [`Sink`](futures::Sink) of
//! them becomes a transport with [`capnweb::transport::from_stream_sink`]; here that is
//! `tokio_util`'s `Framed` with a `LinesCodec` over a `UnixStream`. A server task accepts
//! connections and starts a session on each; a client connects and makes calls, a pipelined
//! chain, and a call that calls back into an object of the client's while it runs.
//!
//! For a transport that is not a stream of messages, implement
//! [`capnweb::transport::Transport`] itself (its docs are the contract).
//!
//! `cargo run --example custom-transport`

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use capnweb::transport::{from_stream_sink, StreamSink};
use capnweb::{rpc_target, RpcError, Session, SessionOptions};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LinesCodec};

/// The longest line (message) either side accepts, in bytes. A line's length must be bounded,
/// or a peer that never sends a newline makes the codec buffer without end.
const MAX_LINE: usize = 1 << 20;

/// What the client passes to be told of progress: the server calls back into it.
#[rpc_target]
pub trait Progress {
    /// Step `done` of `of` is done.
    async fn step(&self, done: u32, of: u32);
}

/// The server's main object.
pub struct Api;

#[rpc_target]
impl Api {
    /// `x` squared.
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }

    /// Does `steps` steps of work, telling `progress` after each (a call back into the client,
    /// over the same socket); returns a summary.
    pub async fn work(&self, steps: u32, progress: ProgressStub) -> Result<String, RpcError> {
        for done in 1..=steps {
            progress.step(done, steps).await?;
        }
        Ok(format!("{steps} steps done"))
    }
}

/// A connected Unix socket as a capnweb transport: one JSON message per line.
fn lines(socket: UnixStream) -> StreamSink<Framed<UnixStream, LinesCodec>> {
    from_stream_sink(Framed::new(
        socket,
        LinesCodec::new_with_max_length(MAX_LINE),
    ))
}

/// The client's progress listener: prints and counts.
struct Printer {
    steps: Arc<AtomicU32>,
}

impl Progress for Printer {
    async fn step(&self, done: u32, of: u32) {
        self.steps.fetch_add(1, Ordering::Relaxed);
        println!("  progress: {done}/{of}");
    }
}

#[tokio::main]
pub async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("capnweb-custom-transport-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("api.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    println!("serving on {}", path.display());

    // The server: a session per connection, each serving `Api`.
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let session = Session::new(
                lines(socket),
                Some(ApiStub::new(Api).into()),
                SessionOptions::default(),
            );
            // The session runs on its own task; this one only logs how it ended.
            tokio::spawn(async move {
                let why = session.closed().await;
                println!("server: a session ended ({why})");
            });
        }
    });

    // The client: a session serving nothing, and the server's main object, typed.
    let session = Session::new(
        lines(UnixStream::connect(&path).await?),
        None,
        SessionOptions::default(),
    );
    let api: ApiStub = session.main_as();

    println!("square(7) = {}", api.square(7.0).await?);
    // Pipelining: the inner result is the outer call's argument, without waiting for it
    // (both calls leave at once; one round trip).
    println!("square(square(3)) = {}", api.square(api.square(3.0)).await?);

    // A callback: the server calls `step` on our `Printer` while `work` runs.
    let steps = Arc::new(AtomicU32::new(0));
    let printer = ProgressStub::new(Printer {
        steps: Arc::clone(&steps),
    });
    println!("work(3):");
    let summary = api.work(3, printer).await?;
    println!("work(3) = {summary:?}");
    if steps.load(Ordering::Relaxed) != 3 {
        return Err("the server did not call back three times".into());
    }

    println!("stats: {:?}", session.stats());
    drop(api);
    session.close().await;
    server.abort();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
