//! The `#[rpc_target]` attribute macro for [`capnweb`](https://docs.rs/capnweb).
//!
//! Use it through `capnweb::rpc_target`; this crate is an implementation detail.

use proc_macro::TokenStream;

/// Turns an `impl` block or a trait into a Cap'n Web RPC target with a typed client stub.
#[proc_macro_attribute]
pub fn rpc_target(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
