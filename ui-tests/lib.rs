//! Compile-time tests of the `#[rpc_target]` macro (see `tests/ui.rs`).
