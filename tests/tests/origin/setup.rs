//! The system programs of the browser-facing tests (Chromium, nginx), installed once per test
//! process by `interop/browser-setup.sh` when missing (idempotent, with a lock).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `interop/browser-setup.sh` once; a failure fails the test with the script's words
/// (what is missing and how to install it).
pub fn install_browser_tools() {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    let result = DONE.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(repo().join("interop/browser-setup.sh"))
            .output()
            .map_err(|e| format!("cannot run interop/browser-setup.sh: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "interop/browser-setup.sh failed ({}):\n{}{}",
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
