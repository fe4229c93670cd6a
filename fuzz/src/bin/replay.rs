//! Runs a target's check on files, without AFL: `replay TARGET FILE…` (a folder means every
//! file in it). A failing check panics with its message and, with `RUST_BACKTRACE=1`, where.

use std::path::{Path, PathBuf};

fn files(path: &Path) -> Vec<PathBuf> {
    if path.is_dir() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found
    } else {
        vec![path.to_owned()]
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: replay TARGET FILE… (targets: roundtrip, session, serde_bridge)";
    let name = args.next().expect(usage);
    let check = capnweb_fuzz::target(&name).expect(usage);
    let mut count = 0;
    for path in args.flat_map(|arg| files(Path::new(&arg))) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("{}", path.display());
        check(&data);
        count += 1;
    }
    eprintln!("{count} inputs passed");
}
