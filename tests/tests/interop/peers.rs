//! The other implementations as processes: the pinned environments, servers awaited by their
//! `listening on` line, clients whose per-scenario lines are collected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, Command};

/// How long a peer may take to start or to run its scenarios before the test fails.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Installs the pinned Node and Python environments once per test process (the script is
/// idempotent and takes a lock, so concurrent test processes are fine).
pub fn setup() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = DONE.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(repo().join("interop/setup.sh"))
            .output()
            .map_err(|e| format!("cannot run interop/setup.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "interop/setup.sh failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Another implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// npm capnweb 0.12.0 on Node.
    Node,
    /// PyPI py-capnweb 0.5.0.
    Python,
}

impl Peer {
    fn command(self, script: &str) -> Command {
        let repo = repo();
        let mut cmd = match self {
            Peer::Node => {
                let mut c = Command::new("node");
                c.arg(repo.join(format!("interop/node/{script}.mjs")));
                c
            }
            Peer::Python => {
                let mut c = Command::new(repo.join("interop/.venv/bin/python"));
                c.arg(repo.join(format!("interop/python/{script}.py")));
                c
            }
        };
        cmd.kill_on_drop(true);
        cmd
    }
}

/// A peer's server, running until dropped.
pub struct PeerServer {
    pub addr: String,
    _child: Child,
    // Held open: the server exits when its stdin closes (if this test process dies, too).
    _stdin: ChildStdin,
    stderr: Option<ChildStderr>,
}

impl PeerServer {
    /// Starts `peer`'s server on a free port and waits for its `listening on` line.
    pub async fn start(peer: Peer, trace: bool) -> PeerServer {
        PeerServer::start_script(peer, "server", trace).await
    }

    /// [`PeerServer::start`] with another server script of the peer's (e.g. `streams-server`).
    pub async fn start_script(peer: Peer, script: &str, trace: bool) -> PeerServer {
        setup();
        let mut cmd = peer.command(script);
        cmd.arg("127.0.0.1:0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if trace {
            cmd.env("INTEROP_TRACE", "1");
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {peer:?} server: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(PEER_TIMEOUT, lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!("the {peer:?} server printed nothing within {PEER_TIMEOUT:?}")
            })
            .unwrap_or_else(|e| panic!("reading the {peer:?} server's stdout: {e}"))
            .unwrap_or_else(|| panic!("the {peer:?} server exited before printing its address"));
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                panic!("the {peer:?} server's first line is not `listening on ADDR`: {first}")
            })
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        PeerServer {
            addr,
            _child: child,
            _stdin: stdin,
            stderr,
        }
    }

    /// Counts the HTTP requests the (Node, traced) server has logged so far, reading its
    /// stderr until `expected` requests were seen or the timeout passes.
    pub async fn count_posts(&mut self, expected: usize) -> usize {
        let Some(stderr) = self.stderr.take() else {
            return 0;
        };
        let mut lines = BufReader::new(stderr).lines();
        let mut posts = 0;
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("server <- (POST ") {
                    posts += 1;
                    if posts > expected {
                        break;
                    }
                }
            }
        })
        .await;
        posts
    }
}

/// What a peer's client reported: scenario -> outcome.
#[derive(Debug, Default)]
pub struct Report {
    pub passed: Vec<String>,
    pub failed: BTreeMap<String, String>,
    pub skipped: BTreeMap<String, String>,
    pub output: String,
    /// Whether the client exited with status 0 (every scenario it ran passed).
    pub success: bool,
}

impl Report {
    pub fn summary(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed.len(),
            self.failed.len(),
            self.skipped.len()
        )
    }
}

/// Runs `peer`'s client over `transport` ("ws" or "http") against `addr`.
pub async fn run_client(peer: Peer, transport: &str, addr: &str) -> Report {
    run_client_script(peer, "client", transport, addr).await
}

/// [`run_client`] with another client script of the peer's (e.g. `streams-client`).
pub async fn run_client_script(peer: Peer, script: &str, transport: &str, addr: &str) -> Report {
    setup();
    let mut cmd = peer.command(script);
    cmd.arg(transport).arg(addr).stdin(Stdio::null());
    let out = tokio::time::timeout(PEER_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("the {peer:?} client did not finish within {PEER_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("cannot run the {peer:?} client: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let mut report = Report {
        output: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        success: out.status.success(),
        ..Report::default()
    };
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("ok ") {
            report
                .passed
                .push(rest.split(' ').next().unwrap_or(rest).to_string());
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
            report.failed.insert(name.to_string(), why.to_string());
        } else if let Some(rest) = line.strip_prefix("skip ") {
            let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
            report.skipped.insert(name.to_string(), why.to_string());
        }
    }
    report
}

/// Prints a cell of the matrix: its summary line and each scenario's line.
pub fn print_cell(title: &str, report: &Report) {
    println!("== {title}: {}", report.summary());
    println!("{}", report.output.trim_end());
}

/// Prints a cell run by a peer's client, and fails unless every scenario passed (and some
/// ran) and the client exited cleanly.
pub fn assert_cell(title: &str, report: &Report) {
    print_cell(title, report);
    assert!(
        report.failed.is_empty(),
        "{title}: failed scenarios: {:#?}\n{}",
        report.failed,
        report.output
    );
    assert!(
        !report.passed.is_empty(),
        "{title}: no scenario ran\n{}",
        report.output
    );
    assert!(
        report.success,
        "{title}: the client exited with a failure\n{}",
        report.output
    );
}

/// Prints a cell run by our client (`log`: a line per scenario) and fails on any failure.
pub fn assert_our_cell(title: &str, log: &[String], failures: usize) {
    println!(
        "== {title}: {} passed, {failures} failed",
        log.len() - failures
    );
    for line in log {
        println!("{line}");
    }
    assert_eq!(failures, 0, "{title}:\n{}", log.join("\n"));
}
