//! `capnweb repl` through a pseudo-terminal (rexpect): against our server (in-process,
//! described, so names complete), the reference's Node server (untyped), and our streams
//! surface. Every step waits for the text it expects; a step that does not see it within the
//! timeout fails the test.

#[allow(dead_code)]
#[path = "../../tests/tests/interop/our_server.rs"]
mod our_server;
#[allow(dead_code)]
#[path = "../../tests/tests/interop/peers.rs"]
mod peers;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use capnweb::RpcService;
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use capnweb_examples::streams::{StreamsApi, StreamsApiStub};
use our_server::our_server;
use peers::{Peer, PeerServer};
use rexpect::process::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};

const PROMPT: &str = "capnweb> ";

/// A fresh empty $HOME, so the history file is written there and not in the user's: under
/// Cargo's scratch directory for tests (in `target/`), not the system's temporary one.
fn scratch_home() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "capnweb-repl-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("a scratch home");
    dir
}

/// `capnweb repl URL ARGS…` on a pseudo-terminal.
fn repl(url: &str, args: &[&str]) -> PtySession {
    let mut command = Command::new(env!("CARGO_BIN_EXE_capnweb"));
    command
        .arg("repl")
        .arg(url)
        .args(args)
        .env("HOME", scratch_home())
        .env("TERM", "xterm");
    let options = Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    spawn_with_options(command, options).expect("the REPL starts on a pty")
}

/// Waits for `text`, failing with what was seen instead.
fn expect(p: &mut PtySession, text: &str) -> String {
    p.exp_string(text)
        .unwrap_or_else(|e| panic!("the REPL did not print {text:?}: {e}"))
}

/// Sends `line` and waits for the next prompt, returning what came before it.
fn run(p: &mut PtySession, line: &str) -> String {
    p.send_line(line).expect("the line is sent");
    expect(p, PROMPT)
}

/// Ctrl-D at the prompt: the REPL ends with status 0.
fn exit_with_ctrl_d(mut p: PtySession) {
    p.send_control('d').expect("Ctrl-D is sent");
    p.exp_eof().expect("the REPL ends on Ctrl-D");
    match p.process().wait() {
        Ok(WaitStatus::Exited(_, 0)) => {}
        other => panic!("the REPL did not exit 0 on Ctrl-D: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repl_keeps_one_session_against_our_server() {
    let server = our_server(
        RpcService::new(|| InteropApiStub::new(InteropApi)).describe::<InteropApiStub>(),
    )
    .await;
    let url = format!("ws://{}/", server.addr);
    tokio::task::spawn_blocking(move || {
        let mut p = repl(&url, &["--callback", "onEvent"]);
        let banner = expect(&mut p, PROMPT);
        assert!(
            !banner.contains("untyped"),
            "a described server is not untyped: {banner}"
        );

        let out = run(&mut p, "square(12)");
        assert!(out.contains("144"), "square(12): {out}");

        // A binding used on later lines: the same counter each time.
        run(&mut p, "let c = makeCounter(40)");
        let out = run(&mut p, "c.increment(1)");
        assert!(out.contains("41"), "{out}");
        let out = run(&mut p, "c.increment(1); c.value");
        assert!(out.contains("42\r\n42"), "{out}");

        let out = run(&mut p, ".stats");
        assert!(out.contains("imports: 2, exports: 1"), ".stats: {out}");
        let out = run(&mut p, ".release c");
        assert!(out.contains("released c"), "{out}");
        let out = run(&mut p, ".stats");
        assert!(out.contains("imports: 1, exports: 1"), ".stats: {out}");

        // Rejections and syntax errors print; the REPL goes on.
        let out = run(&mut p, "throwError()");
        assert!(out.contains("RangeError: test error"), "{out}");
        let out = run(&mut p, "square(1,");
        assert!(
            out.contains("syntax error") && out.contains('^'),
            "a syntax error shows a caret: {out}"
        );

        // The wire trace, on and off at run time.
        run(&mut p, ".raw on");
        let out = run(&mut p, "square(5)");
        assert!(out.contains(r#"> ["push","#), "raw on: {out}");
        assert!(out.contains("25"), "{out}");
        run(&mut p, ".raw off");
        let out = run(&mut p, "square(6)");
        assert!(!out.contains("> ["), "raw off: {out}");
        assert!(out.contains("36"), "{out}");

        // A method name completes from the server's description.
        p.send("squ\t").expect("typed");
        p.flush().expect("sent");
        expect(&mut p, "square");
        let out = run(&mut p, "(7)");
        assert!(out.contains("49"), "squ<Tab>(7): {out}");

        // A local function the server calls back.
        let out = run(&mut p, "callFunction(onEvent, 7)");
        assert!(out.contains("callback onEvent(7)"), "{out}");
        assert!(out.contains(r#"{"result":{"$undefined":true}}"#), "{out}");

        exit_with_ctrl_d(p);
    })
    .await
    .expect("the REPL steps");
    // The REPL released everything of the server's before it closed.
    server.assert_no_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repl_works_untyped_against_the_reference_server() {
    let node = PeerServer::start(Peer::Node, false).await;
    let url = format!("ws://{}/", node.addr);
    tokio::task::spawn_blocking(move || {
        let mut p = repl(&url, &[]);
        let banner = expect(&mut p, PROMPT);
        assert_eq!(
            banner.matches("untyped").count(),
            1,
            "one notice that the server is untyped: {banner}"
        );
        run(&mut p, "let c = makeCounter(5)");
        let out = run(&mut p, "c.increment(2); square(9)");
        assert!(out.contains("7\r\n81"), "{out}");
        let out = run(&mut p, "throwError()");
        assert!(out.contains("RangeError: test error"), "{out}");
        exit_with_ctrl_d(p);
    })
    .await
    .expect("the REPL steps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_prints_chunk_by_chunk_and_ctrl_c_stops_it() {
    let server = our_server(|| StreamsApiStub::new(StreamsApi::default())).await;
    let url = format!("ws://{}/", server.addr);
    tokio::task::spawn_blocking(move || {
        let mut p = repl(&url, &[]);
        expect(&mut p, PROMPT);
        let out = run(&mut p, "tail(3)");
        assert!(
            out.contains("\"line 0\"\r\n\"line 1\"\r\n\"line 2\""),
            "tail(3): {out}"
        );

        // An endless stream runs until Ctrl-C, which stops it and not the REPL.
        p.send_line("endless()").expect("sent");
        expect(&mut p, "\r\n100\r\n");
        p.send_control('c').expect("Ctrl-C is sent");
        expect(&mut p, "stream stopped");
        expect(&mut p, PROMPT);
        let out = run(&mut p, "tail(1)");
        assert!(out.contains("\"line 0\""), "after Ctrl-C: {out}");
        exit_with_ctrl_d(p);
    })
    .await
    .expect("the REPL steps");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_url_is_refused_with_a_reason() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_capnweb"))
        .args(["repl", "http://127.0.0.1:9/"])
        .output()
        .expect("the CLI runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lasting session"), "{stderr}");
}
