//! Running the built `capnweb` binary as a process, for every test file of the CLI.

#![allow(dead_code)] // each test file uses its own part

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What one run of the CLI did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Exit 0, or the test fails with everything the CLI said.
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "the CLI failed: {self:#?}");
        self.assert_no_panic();
    }

    pub fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "the CLI panicked: {self:#?}"
        );
    }
}

/// Runs `capnweb ARGS…`, with `stdin` as its input; bounded in time.
pub async fn capnweb_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_capnweb"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the capnweb binary starts");
    let mut input = child.stdin.take().expect("piped stdin");
    input.write_all(stdin.as_bytes()).await.expect("stdin");
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("capnweb {args:?} did not finish within 60 s"))
        .expect("capnweb's output");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `capnweb ARGS…` with nothing on stdin.
pub async fn capnweb(args: &[&str]) -> Run {
    capnweb_with_stdin(args, "").await
}
