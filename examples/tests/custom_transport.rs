//! `examples/custom-transport.rs` runs to completion: calls, a pipelined chain and a callback
//! over newline-delimited JSON on a Unix socket.

#[path = "../custom-transport.rs"]
mod example;

#[test]
fn the_custom_transport_example_runs_to_completion() {
    example::main().expect("the example failed");
}
