//! Transports: how whole messages travel between two sessions.
//!
//! A transport moves message texts and knows nothing of what they mean. Each session drives
//! its transport from one task, polling it for incoming messages and feeding it outgoing ones
//! (every message queued at that moment, then one flush, so they can leave in one write).
//! Messages are [`Bytes`](bytes::Bytes) holding UTF-8 text; outgoing ones are slices of one
//! buffer, so a transport can send them without copying.
//!
//! Built in: [`memory`] (a connected pair, for tests and in-process use), [`websocket`] and
//! [`http_batch`]. For your own, implement [`Transport`] (its docs are the contract: framing,
//! backpressure, errors, closing) and say what it can carry with [`Capabilities`]; or, for
//! anything that already is a [`Stream`](futures::Stream) of text messages and a
//! [`Sink`](futures::Sink) of them (a `tokio_util` `Framed` with a `LinesCodec`, say), let
//! [`from_stream_sink`] make the transport. Then `Session::new(transport, main, options)`
//! starts a session on it (`examples/custom-transport.rs` does it over a Unix socket).

#[cfg(any(
    feature = "websocket",
    feature = "http-batch",
    feature = "webtransport"
))]
mod client_settings;
#[cfg(any(
    feature = "websocket",
    feature = "http-batch",
    feature = "webtransport"
))]
mod headers;
#[cfg(feature = "http-batch")]
pub mod http_batch;
#[cfg(any(feature = "websocket", feature = "http-batch"))]
mod lines;
pub mod memory;
#[cfg(feature = "websocket")]
pub(crate) mod read_ahead;
#[cfg(any(feature = "http-batch", feature = "server"))]
pub(crate) mod responses;
mod stream_sink;
#[cfg(feature = "websocket")]
mod subprotocols;
#[cfg(feature = "websocket")]
pub mod websocket;
#[cfg(feature = "webtransport")]
pub mod webtransport;

pub use crate::session::{Capabilities, CloseReason, Transport};
pub use stream_sink::{from_stream_sink, StreamSink};
