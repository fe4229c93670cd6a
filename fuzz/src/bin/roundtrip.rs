//! The `roundtrip` fuzz target (see `capnweb_fuzz::roundtrip`); build with `cargo afl build --release`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        capnweb_fuzz::roundtrip::check(data);
    });
}
