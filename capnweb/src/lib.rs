//! Cap'n Web for Rust: capability-based JSON RPC with promise pipelining.
//!
//! [`rpc_target`] turns an `impl` block or a trait into an RPC target and a typed client stub.
//! Calls return [`RpcPromise`]s at once: await them, call methods on them (pipelining: no
//! round trip is spent), pass them as arguments, `.map()` over them on the peer's side, or
//! take a field of a struct result as a typed promise ([`RpcPromise::fields`], for a struct
//! that derives [`PipelineFields`](derive@PipelineFields)).
//! Sessions run over WebSocket ([`websocket`]), HTTP batch ([`http_batch`]), one [`Server`] for
//! both, or any [`transport::Transport`]; they interoperate with the JavaScript reference
//! implementation (npm `capnweb`).
//!
//! ```
//! use capnweb::{rpc_target, transport::memory, Session, SessionOptions};
//!
//! pub struct Api;
//!
//! #[rpc_target]
//! impl Api {
//!     pub fn add(&self, a: f64, b: f64) -> f64 { a + b }
//!     pub fn counter(&self, start: i64) -> CounterStub { CounterStub::new(Counter(start.into())) }
//! }
//!
//! pub struct Counter(std::sync::atomic::AtomicI64);
//!
//! #[rpc_target]
//! impl Counter {
//!     pub fn increment(&self, by: i64) -> i64 {
//!         self.0.fetch_add(by, std::sync::atomic::Ordering::SeqCst) + by
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
//! // Two sessions connected in memory; over a network use `websocket` or `http_batch`.
//! let (a, b) = memory::pair();
//! let _server = Session::new(a, Some(ApiStub::new(Api).into()), SessionOptions::default());
//! let client = Session::new(b, None, SessionOptions::default());
//! let api: ApiStub = client.main_as();
//!
//! assert_eq!(api.add(2.0, 3.0).await?, 5.0);
//! // Pipelined: `increment` is sent before `counter` has returned. One round trip.
//! assert_eq!(api.counter(10).increment(5).await?, 15);
//! # Ok(()) }
//! ```
//!
//! The modules, from the wire up, each depending only on those before it (a test,
//! `tests/layering.rs`, checks this):
//!
//! 1. `wire`: messages and expressions as text, parsed and written.
//! 2. The object model: [`value`] (the data model and the serde bridge), [`error`], stubs and
//!    promises, [`stream`]s, and internally the hooks behind every stub, local targets, and the
//!    code that writes values to the wire, evaluates the peer's expressions and records
//!    `.map()` closures. These refer to each other by nature: a value can hold a stub, a stub is
//!    a hook, and a hook can be a resolved value.
//! 3. Typed stubs and the standalone [`serialize`]/[`deserialize`]; [`tls`] settings; with the
//!    `typescript` feature, the targets' [`describe`] descriptors and [`typescript`]
//!    declarations.
//! 4. The [`Session`]: its import and export tables, the message loop, the outbox. A hook
//!    reaches a session's import only through a trait the session implements.
//! 5. [`transport`]s: memory, WebSocket, HTTP batch.
//! 6. The [`Server`], and [`reconnect`]ing clients.
//!
//! # What is stable
//!
//! The API is what the docs show: the items at the crate root, the generated stubs, and the
//! public modules ([`error`], [`value`], [`stream`], [`intercept`], [`reconnect`],
//! [`transport`] with its [`Transport`](transport::Transport) contract, [`bigint`], and with
//! their features [`tls`], [`describe`] and [`typescript`]). What the docs hide is not part of
//! it and may change in any release: the `wire` module (messages and expressions, public for
//! the tests, fuzz targets and benches; [`serialize`] and [`deserialize`] are the stable way
//! to the protocol's values), the stream flow controller, and `__private` (what the macros'
//! generated code calls).
//!
//! # Cargo features
//!
//! All on by default: `websocket` (the WebSocket transport, tokio-tungstenite), `http-batch`
//! (the HTTP batch client and handler, hyper's client), `server` ([`Server`], [`RpcService`],
//! [`Routes`]: hyper's server, serving whichever transports are on) and `tls` (rustls, for
//! `wss://`, `https://` and [`Server::tls`]; it also brings hyper-rustls, which only the HTTP
//! batch client uses, as Cargo cannot enable a dependency for two features together). With
//! none, the sessions, the memory transport and your own [`transport::Transport`]s remain.
//!
//! Off by default: `typescript` ([`typescript::declarations`], TypeScript declarations of your
//! targets, and the [`describe`] descriptors they are made from; brings ts-rs),
//! `static-files` ([`ServeDir`], a directory of static files to serve beside the API with
//! [`Routes::fallback_service`]; brings tower-http with only its `fs` feature), and
//! `webtransport` (Cap'n Web over WebTransport, HTTP/3 on UDP: `webtransport::connect`, a
//! development certificate, and with `server`, `Server::webtransport`; brings
//! web-transport-quinn, quinn and rcgen).
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
// docs.rs builds with every feature and `--cfg docsrs`: each feature-gated item says which
// feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
// The docs link to the items of every feature, which a build without some of them lacks.
#![cfg_attr(
    not(all(
        feature = "websocket",
        feature = "http-batch",
        feature = "server",
        feature = "tls",
        feature = "typescript",
        feature = "static-files"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod bigint;
#[cfg(feature = "typescript")]
#[cfg_attr(docsrs, doc(cfg(feature = "typescript")))]
pub mod describe;
pub mod error;
pub mod intercept;
pub mod reconnect;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
pub mod transport;
#[cfg(feature = "typescript")]
#[cfg_attr(docsrs, doc(cfg(feature = "typescript")))]
pub mod typescript;
pub mod value;
#[doc(hidden)]
pub mod wire;

mod context;
mod encode;
mod evaluate;
mod hook;
mod record;
#[cfg(feature = "server")]
mod server;
mod session;
mod stack;
mod standalone;
pub mod stream;
mod stub;
mod target;
mod typed;

#[doc(hidden)]
pub mod __private;

pub use capnweb_macros::{rpc_target, PipelineFields};

/// The `http` crate, whose types ([`StatusCode`](http::StatusCode), headers, requests)
/// [`RequestContext`], [`Refusal`] and [`RpcService`] use: no need to depend on a matching
/// version yourself.
pub use http;

/// The `hyper` crate, whose request body type ([`hyper::body::Incoming`]) an [`RpcService`]
/// serves in your own hyper or tower stack.
#[cfg(any(feature = "http-batch", feature = "server"))]
pub use hyper;

/// The `tokio-tungstenite` crate, whose `WebSocketStream`
/// [`websocket::accept_stream`] takes for a WebSocket you accepted yourself.
#[cfg(feature = "websocket")]
pub use tokio_tungstenite;

/// The `web-transport-quinn` crate (and through it `quinn`), whose `Session` and streams
/// [`webtransport::accept`] and [`webtransport::WebTransportTransport`] take.
#[cfg(feature = "webtransport")]
pub use web_transport_quinn;

/// The README's tour, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
pub use context::{RequestContext, TransportKind};
pub use error::{EncodeError, Error, LimitError, ProtocolError, RpcError, TransportError};
#[cfg(feature = "server")]
pub use server::Body;
#[cfg(feature = "static-files")]
pub use server::ServeDir;
#[cfg(all(feature = "server", feature = "webtransport"))]
pub use server::WebTransportCertificate;
#[cfg(feature = "server")]
pub use server::{AtCapacity, IntoService, Refusal, Routes, RpcService, Server, ServerHandle};
pub use session::{MessageDirection, Session, SessionOptions, SessionStats};
pub use standalone::{deserialize, deserialize_value, serialize, serialize_value};
pub use stream::{pipe, Blob, ReadableStream, WritableStream};
pub use stub::{FromStub, RpcFuture, RpcPromise, Stub};
pub use target::{CallFuture, CallResult, RpcTarget};
#[cfg(feature = "http-batch")]
pub use transport::http_batch;
#[cfg(feature = "websocket")]
pub use transport::websocket;
#[cfg(feature = "webtransport")]
pub use transport::webtransport;
pub use typed::{IntoArg, MapResult, PipelineFields, TypedStub};
pub use value::{from_value, to_value, BigInt, Bytes, Date, Value};
pub use wire::{Limit, Limits};
