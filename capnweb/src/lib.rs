//! Cap'n Web for Rust: capability-based JSON RPC with promise pipelining.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod error;
pub mod transport;
pub mod value;
pub mod wire;

mod encode;
mod evaluate;
mod hook;
mod record;
mod server;
mod session;
mod stub;
mod tables;
mod target;
mod typed;

#[doc(hidden)]
pub mod __private;

pub use capnweb_macros::rpc_target;
pub use error::{Error, RpcError};
pub use server::{RpcService, Server};
pub use session::{Session, SessionOptions, SessionStats};
pub use stub::{FromStub, RpcFuture, RpcPromise, Stub};
pub use target::{CallFuture, CallResult, RpcTarget};
pub use transport::{http_batch, websocket};
pub use typed::{IntoArg, MapResult, TypedStub};
pub use value::{from_value, to_value, BigInt, Bytes, Date, Value};
pub use wire::Limits;
