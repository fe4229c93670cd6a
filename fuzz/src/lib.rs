//! The fuzz targets' checks, as plain functions of the input bytes.
//!
//! Each target binary (`src/bin/{roundtrip,session,serde_bridge}.rs`) runs one of these in
//! AFL's persistent loop; `replay` runs them on files (to reproduce a crash with a backtrace,
//! without AFL), and the crate's tests run them on the seeds. A failed check panics; under
//! AFL, any panic (in any thread or task) aborts the process, which AFL records as a crash.

#![forbid(unsafe_code)]

pub mod roundtrip;
pub mod seeds;
pub mod serde_bridge;
pub mod session;

/// A target's check: panics if the input breaks an assertion.
pub type Check = fn(&[u8]);

/// The targets by name, for the tools.
pub const TARGETS: &[(&str, Check)] = &[
    ("roundtrip", roundtrip::check),
    ("session", session::check),
    ("serde_bridge", serde_bridge::check),
];

/// The check of the target called `name`.
pub fn target(name: &str) -> Option<Check> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|(_, check)| *check)
}

#[cfg(test)]
mod tests {
    /// Inputs that once failed a target (`regressions/TARGET/`), kept so they keep passing.
    #[test]
    fn every_regression_passes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let mut count = 0;
        for (name, check) in super::TARGETS {
            let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
                continue;
            };
            for entry in entries.flatten() {
                check(&std::fs::read(entry.path()).unwrap());
                count += 1;
            }
        }
        assert!(count > 0, "no regression inputs under {}", dir.display());
    }

    /// Every seed passes its target's check (as `replay TARGET corpus/TARGET` would say).
    #[test]
    fn every_seed_passes() {
        for (name, check) in super::TARGETS {
            let seeds = super::seeds::seeds(name);
            assert!(!seeds.is_empty(), "{name} has no seeds");
            for (_, data) in seeds {
                check(&data);
            }
        }
    }
}
