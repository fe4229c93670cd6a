//! Cap'n Web for Rust: capability-based JSON RPC with promise pipelining.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod error;
pub mod value;
pub mod wire;

mod stub;

pub use error::{Error, RpcError};
pub use stub::{RpcPromise, Stub};
pub use value::{from_value, to_value, BigInt, Bytes, Date, Value};
pub use wire::Limits;
