//! The `session` fuzz target (see `capnweb_fuzz::session`); build with `cargo afl build --release`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        capnweb_fuzz::session::check(data);
    });
}
