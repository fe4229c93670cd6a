//! `capnweb describe` as a process: against our interop server with `.describe` on (readable
//! and `--json`), and against the reference's Node server, which does not describe itself
//! (a clear error, exit 3).

mod common;

#[allow(dead_code)]
#[path = "../../tests/tests/interop/our_server.rs"]
mod our_server;
#[allow(dead_code)]
#[path = "../../tests/tests/interop/peers.rs"]
mod peers;

use capnweb::RpcService;
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use common::capnweb;
use our_server::our_server;
use peers::{Peer, PeerServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_described_server_prints_as_typescript_and_json() {
    let server = our_server(
        RpcService::new(|| InteropApiStub::new(InteropApi)).describe::<InteropApiStub>(),
    )
    .await;
    for url in [
        format!("ws://{}/", server.addr),
        format!("http://{}/", server.addr),
    ] {
        let run = capnweb(&["describe", &url]).await;
        assert_eq!(run.code, Some(0), "{run:#?}");
        let out = &run.stdout;
        for expected in [
            "// The main object.\ninterface InteropApi {\n",
            "  // `x * x`.\n  square(x: number): number\n",
            "  makeCounter(initial: number): Counter\n",
            "  incrementCounter(counter: Counter, by?: number | null): number\n",
            "  generateFibonacci(n: number): Array<number>\n",
            "interface Counter {\n",
            "  // The current value.\n  readonly value: number\n",
            "type Wrapped<T> = {",
        ] {
            assert!(
                out.contains(expected),
                "{expected:?} is missing from:\n{out}"
            );
        }

        let run = capnweb(&["describe", "--json", &url]).await;
        assert_eq!(run.code, Some(0), "{run:#?}");
        let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
        assert_eq!(json["targets"][0]["name"], "InteropApi");
        assert_eq!(json["targets"][0]["members"][0]["name"], "square");
        assert_eq!(json["types"][0]["name"], "Wrapped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_describe_itself_is_exit_3_with_the_reason() {
    let node = PeerServer::start(Peer::Node, false).await;
    let run = capnweb(&["describe", &format!("ws://{}/", node.addr)]).await;
    assert_eq!(run.code, Some(3), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert!(
        run.stderr.contains("describing") && !run.stderr.contains("panicked"),
        "{run:#?}"
    );
    // Nothing listening: exit 3 too.
    let run = capnweb(&["describe", "http://127.0.0.1:9/"]).await;
    assert_eq!(run.code, Some(3), "{run:#?}");
}
