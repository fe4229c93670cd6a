//! The `serde_bridge` fuzz target (see `capnweb_fuzz::serde_bridge`); build with `cargo afl build --release`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        capnweb_fuzz::serde_bridge::check(data);
    });
}
