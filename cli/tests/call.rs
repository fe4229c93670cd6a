//! `capnweb call` as a process, against our server (in-process, the interop surface) and the
//! reference's Node server (npm capnweb 0.12.0, started as the interop tests start it), over
//! WebSocket and HTTP batch. A failed call fails the test.

mod common;

#[allow(dead_code)]
#[path = "../../tests/tests/interop/our_server.rs"]
mod our_server;
#[allow(dead_code)]
#[path = "../../tests/tests/interop/peers.rs"]
mod peers;

use capnweb_examples::interop::{InteropApi, InteropApiStub};
use common::{capnweb, capnweb_with_stdin};
use our_server::{our_server, OurServer};
use peers::{Peer, PeerServer};

/// One script covering the language: a call, a pipelined chain, a promise argument,
/// bindings, `.map()` (with a main-object call, a bound name and an array built inside),
/// JSON arguments (a `$` key escaped on output), null and undefined.
const SCRIPT: &str = r#"
square(3)
makeCounter(5).increment(2)
square(square(2))
let c = makeCounter(10)
c.increment(1); c.increment(1)
generateFibonacci(6).map(x => square(x))
generateFibonacci(5).map(x => c.increment(x))
generateFibonacci(4).map(x => [x, {"sq": square(x)}])
echo({"a": [1, "two", null, true, -2.5], "$k": {"n": 1e3}})
returnNull(); echo(null)
returnUndefined()
"#;

const EXPECTED: [&str; 12] = [
    "9",
    "7",
    "16",
    "11",
    "12",
    "[0,1,1,4,9,25]",
    "[12,13,14,16,19]",
    r#"[[0,{"sq":0}],[1,{"sq":1}],[1,{"sq":1}],[2,{"sq":4}]]"#,
    r#"{"a":[1,"two",null,true,-2.5],"$$k":{"n":1000}}"#,
    "null",
    "null",
    r#"{"$undefined":true}"#,
];

async fn ours() -> OurServer {
    our_server(|| InteropApiStub::new(InteropApi)).await
}

fn urls(addr: &str) -> [String; 2] {
    [format!("ws://{addr}/"), format!("http://{addr}/")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_runs_against_our_server_over_both_transports() {
    for (i, transport) in ["ws", "http"].into_iter().enumerate() {
        // A server per transport: the WebSocket session must end with nothing left over
        // (every result released); a batch session just ends with its answer.
        let server = ours().await;
        let url = &urls(&server.addr.to_string())[i];
        let run = capnweb(&["call", url, SCRIPT]).await;
        run.assert_success();
        assert_eq!(run.lines(), EXPECTED, "{url}: {run:#?}");
        if transport == "ws" {
            server.assert_no_leaks().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_runs_against_the_node_server_over_both_transports() {
    let server = PeerServer::start(Peer::Node, false).await;
    for url in urls(&server.addr) {
        let run = capnweb(&["call", &url, SCRIPT]).await;
        run.assert_success();
        assert_eq!(run.lines(), EXPECTED, "{url}: {run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_script_over_http_batch_is_one_post() {
    let mut server = PeerServer::start(Peer::Node, true).await;
    let url = format!("http://{}/", server.addr);
    let run = capnweb(&["call", &url, SCRIPT]).await;
    run.assert_success();
    assert_eq!(run.lines(), EXPECTED, "{run:#?}");
    assert_eq!(
        server.count_posts(1).await,
        1,
        "one POST for the whole script"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stub_result_prints_as_a_marker_and_a_binding_keeps_it_usable() {
    let server = PeerServer::start(Peer::Node, false).await;
    // Over HTTP batch too, where the stub is read after its batch ended.
    for url in urls(&server.addr) {
        let run = capnweb(&["call", &url, "let c = makeCounter(1); c; c.increment(4)"]).await;
        run.assert_success();
        assert_eq!(run.lines(), [r#"{"$stub":"c"}"#, "5"], "{url}: {run:#?}");
        let run = capnweb(&["call", &url, "makeCounter(5)"]).await;
        run.assert_success();
        assert_eq!(
            run.lines(),
            [r#"{"$stub":"makeCounter(5)"}"#],
            "{url}: {run:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_exits_1_with_name_and_message_on_stderr() {
    let ours = ours().await;
    let node = PeerServer::start(Peer::Node, false).await;
    for addr in [ours.addr.to_string(), node.addr.clone()] {
        for url in urls(&addr) {
            let run = capnweb(&["call", &url, "square(2); throwError(); square(3)"]).await;
            run.assert_no_panic();
            assert_eq!(run.code, Some(1), "{url}: {run:#?}");
            // The other statements still print, in order.
            assert_eq!(run.lines(), ["4", "9"], "{url}: {run:#?}");
            assert!(
                run.stderr.starts_with("RangeError: test error"),
                "{url}: {run:#?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_prints_each_message_sent_and_received_on_stderr() {
    let server = ours().await;
    for url in urls(&server.addr.to_string()) {
        let run = capnweb(&["call", "--raw", &url, "square(square(3))"]).await;
        run.assert_success();
        assert_eq!(run.lines(), ["81"], "{url}: {run:#?}");
        let raw: Vec<&str> = run.stderr.lines().collect();
        let push = raw
            .iter()
            .position(|l| *l == r#"> ["push",["pipeline",0,["square"],[["pipeline",1]]]]"#);
        let pull = raw.iter().position(|l| *l == r#"> ["pull",2]"#);
        let resolve = raw.iter().position(|l| *l == r#"< ["resolve",2,81]"#);
        assert!(
            matches!((push, pull, resolve), (Some(a), Some(b), Some(c)) if a < b && b < c),
            "{url}: {run:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_script_can_come_from_stdin_or_a_file() {
    let server = ours().await;
    let url = format!("ws://{}/", server.addr);
    let run = capnweb_with_stdin(&["call", &url, "-"], "square(4)\n").await;
    run.assert_success();
    assert_eq!(run.lines(), ["16"]);
    let run = capnweb_with_stdin(&["call", &url, "-f", "-"], "square(5)").await;
    run.assert_success();
    assert_eq!(run.lines(), ["25"]);
    let file = std::env::temp_dir().join(format!("capnweb-cli-test-{}.txt", std::process::id()));
    std::fs::write(&file, "let c = makeCounter(2)\nc.increment(3)\n").expect("write the script");
    let run = capnweb(&["call", &url, "-f", file.to_str().expect("utf-8 path")]).await;
    let _ = std::fs::remove_file(&file);
    run.assert_success();
    assert_eq!(run.lines(), ["5"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_a_clear_error_not_a_panic() {
    // A port nobody listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    for url in urls(&format!("127.0.0.1:{port}")) {
        let run = capnweb(&["call", &url, "square(2)"]).await;
        run.assert_no_panic();
        assert_eq!(run.code, Some(3), "{url}: {run:#?}");
        assert!(run.stdout.is_empty(), "{url}: {run:#?}");
        assert!(
            run.stderr.contains(&format!("127.0.0.1:{port}")) && run.stderr.contains("refused"),
            "the error names the server and what failed: {run:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_exits_2_naming_the_line_and_column_and_sends_nothing() {
    // Nothing listens here: a syntax error is reported before connecting.
    let run = capnweb(&["call", "ws://127.0.0.1:9/", "square(2)\nsquare(2 3)"]).await;
    run.assert_no_panic();
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("line 2, column 10"), "{run:#?}");
    let run = capnweb(&["call", "ftp://127.0.0.1/", "square(2)"]).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("ws://"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upgrade_shows_the_status() {
    // Our server refuses a browser's request from a foreign Origin with 403.
    let server = ours().await;
    for url in urls(&server.addr.to_string()) {
        let run = capnweb(&[
            "call",
            "-H",
            "Origin: https://evil.example",
            &url,
            "square(2)",
        ])
        .await;
        run.assert_no_panic();
        assert_eq!(run.code, Some(3), "{url}: {run:#?}");
        assert!(run.stderr.contains("403"), "{url}: {run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_gives_up_on_a_server_that_never_answers() {
    // Accepts connections (the kernel's backlog does) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("address").to_string();
    for url in urls(&addr) {
        let run = capnweb(&["call", "--timeout", "0.3", &url, "square(2)"]).await;
        run.assert_no_panic();
        assert_eq!(run.code, Some(3), "{url}: {run:#?}");
        assert!(run.stderr.contains("300ms"), "{url}: {run:#?}");
    }
    let run = capnweb(&["call", "--timeout", "-1", "ws://127.0.0.1:9/", "square(2)"]).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_prints_its_arguments_when_the_server_calls_it() {
    let server = ours().await;
    let url = format!("ws://{}/", server.addr);
    let run = capnweb(&[
        "call",
        &url,
        "--callback",
        "cb",
        r#"callFunction(cb, [1, "two"])"#,
    ])
    .await;
    run.assert_success();
    assert_eq!(
        run.lines(),
        [
            r#"callback cb([1,"two"])"#,
            r#"{"result":{"$undefined":true}}"#
        ]
    );
    let run = capnweb(&["call", &url, "--callback", "1x", "square(2)"]).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
}
