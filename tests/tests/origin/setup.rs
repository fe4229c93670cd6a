//! What the browser-facing tests need installed, once per test process: the system programs
//! (Chromium, nginx) by `interop/browser-setup.sh`, and playwright-core by `interop/setup.sh`.
//! Both scripts are idempotent and take a lock, so concurrent test processes are fine.
#![allow(dead_code)] // each test file uses what it needs

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Debian's Chromium and nginx, installed when missing; a failure fails the test with the
/// script's words (what is missing and how to install it).
pub fn install_browser_tools() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    check(DONE.get_or_init(|| run("interop/browser-setup.sh")));
}

/// The pinned Node packages (playwright-core, the reference's capnweb).
pub fn install_node_modules() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    check(DONE.get_or_init(|| run("interop/setup.sh")));
}

fn check(result: &Result<(), String>) {
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn run(script: &str) -> Result<(), String> {
    let out = std::process::Command::new("bash")
        .arg(repo().join(script))
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{script} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}
