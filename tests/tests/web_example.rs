//! The web example (`examples/web`, `cargo run --example web`): a to-do list shared between
//! users, its page and API on one `Server`.
//!
//! - `examples/web/ts/api.ts`, the page's declarations of the API, are what
//!   `declarations::<LoginStub>()` generates now;
//! - the page's TypeScript (`examples/web/ts/`) passes `tsc --strict` against them;
//! - `examples/web/static/app.js`, the page's script that the example serves, is what esbuild
//!   bundles from it now (committed, so `cargo run --example web` needs no Node);
//! - in Chromium (headless, driven by `interop/browser/web-example.mjs`), two people log in,
//!   one over WebSocket and one over WebTransport (`?transport=webtransport`), add and
//!   complete items and see each other's changes arrive (called back across the two
//!   transports), read the activity stream, and see the server's refusal of an empty item. The
//!   screenshot is `target/web-example.png`.
//!
//! `CAPNWEB_BLESS=1` rewrites the committed `api.ts` and `app.js`. tsc and esbuild come from
//! `interop/setup.sh` (npm ci), Chromium from `interop/browser-setup.sh`, so this needs Node.

#[path = "origin/setup.rs"]
mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use capnweb::Server;
use capnweb_examples::web;
use serde_json::Value as Json;

/// The command that rewrites the committed generated files.
const BLESS: &str = "CAPNWEB_BLESS=1 cargo test -p capnweb-tests --test web_example";

/// How long the browser scenario may take, Chromium's start included.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn web_dir() -> PathBuf {
    setup::repo().join("examples/web")
}

/// Fails when the committed `path` is not `fresh`, saying how to regenerate it; with
/// `CAPNWEB_BLESS` set, writes it first.
fn check_current(path: &Path, fresh: &str) {
    if std::env::var_os("CAPNWEB_BLESS").is_some() {
        std::fs::write(path, fresh).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is stale: regenerate it with\n\n    {BLESS}\n",
        path.display()
    );
}

/// Runs `program` (a path under interop/node_modules) in `examples/web`: whether it passed,
/// its stdout, and its stderr.
fn run_in_web_dir(program: &str, args: &[&str]) -> (bool, String, String) {
    setup::install_node_modules();
    let program = setup::repo().join("interop/node_modules").join(program);
    let out = Command::new(&program)
        .args(args)
        .current_dir(web_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stdout, stderr)
}

#[test]
fn committed_declarations_are_current() {
    let fresh = capnweb::typescript::declarations::<web::api::LoginStub>();
    check_current(&web_dir().join("ts/api.ts"), &fresh);
}

#[test]
fn the_page_type_checks() {
    let (ok, stdout, stderr) = run_in_web_dir(".bin/tsc", &["-p", ".", "--pretty", "false"]);
    assert!(
        ok,
        "tsc --strict rejected examples/web/ts:\n{stdout}{stderr}"
    );
}

#[test]
fn committed_bundle_is_current() {
    // Run in examples/web, so the paths esbuild writes in its comments are the same anywhere
    // (relative, and through a symlinked node_modules too).
    let args = [
        "ts/app.ts",
        "--bundle",
        "--format=esm",
        "--target=es2022",
        "--preserve-symlinks",
    ];
    let (ok, bundle, stderr) = run_in_web_dir(".bin/esbuild", &args);
    assert!(ok, "esbuild failed:\n{stderr}");
    check_current(&web_dir().join("static/app.js"), &bundle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_share_the_list_in_chromium() {
    setup::install_browser_tools();
    setup::install_node_modules();
    let server = Server::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", server.local_addr());
    let (server, webtransport) = web::with_webtransport(server).unwrap();
    tokio::spawn(server.serve(web::routes(web::board::Board::new(), Some(webtransport))));

    // target/web-example.png, for a person to open.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let screenshot = target.join("web-example.png");
    let _ = std::fs::remove_file(&screenshot);
    let run = tokio::process::Command::new("node")
        .arg(setup::repo().join("interop/browser/web-example.mjs"))
        .arg(&url)
        .arg(&screenshot)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(BROWSER_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("Chromium did not finish within {BROWSER_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "web-example.mjs failed ({}); screenshot: {}\n{stdout}{stderr}",
        out.status,
        screenshot.display()
    );
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no `result` line from web-example.mjs:\n{stdout}{stderr}"));
    let seen: Json = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the result line is not JSON ({e}): {line}"));
    println!("{seen:#}\nscreenshot: {}", screenshot.display());

    // Both pages show the same list: one item bob completed, one he added.
    let expected = serde_json::json!([
        { "title": "Buy milk", "by": "done by bob", "done": true },
        { "title": "Walk the dog", "by": "added by bob", "done": false },
    ]);
    for (person, transport) in [("alice", "WebSocket"), ("bob", "WebTransport")] {
        assert_eq!(seen[person]["whoami"], person);
        assert_eq!(seen[person]["transport"], transport, "{person}'s transport");
        assert_eq!(seen[person]["todos"], expected, "{person}'s list");
        assert_eq!(
            seen[person]["activity"],
            serde_json::json!([
                "alice added “Buy milk”",
                "bob completed “Buy milk”",
                "bob added “Walk the dog”",
            ]),
            "{person}'s activity"
        );
        assert_eq!(
            seen[person]["people"],
            serde_json::json!(["alice: 0 open", "bob: 1 open"]),
            "{person}'s open items"
        );
    }
    assert_eq!(seen["alice"]["error"], "An item needs a title.");
    assert_eq!(seen["bob"]["error"], "");
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
}
