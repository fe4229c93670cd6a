//! What `#[rpc_target]` accepts (`pass/`: compiled and run) and the errors it gives for what
//! it refuses (`fail/`: each `.stderr` is the expected compiler output, on the pinned
//! toolchain). Regenerate with `TRYBUILD=overwrite cargo test -p capnweb-ui-tests --test ui`,
//! then read every changed `.stderr`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/pass/*.rs");
    t.compile_fail("tests/fail/*.rs");
}
