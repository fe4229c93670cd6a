#!/usr/bin/env bash
# Builds one fuzz target with cargo-afl and fuzzes it for SECONDS on one core, then prints the
# executions, their rate and the crashes found.
#
#   fuzz/run.sh TARGET SECONDS        TARGET: roundtrip | session | serde_bridge
#
# The corpus is seeded on first use (corpus/TARGET, from the golden vectors and the reference
# transcripts); AFL's state is kept in out/TARGET, and a later run resumes from it (the totals
# printed are then cumulative; "this run" is the difference). Both folders are git-ignored.
# Crashing inputs land in out/TARGET/default/crashes/; reproduce one without AFL, with a
# backtrace, by `RUST_BACKTRACE=1 target/plain/release/replay TARGET FILE`.
#
# Needs cargo-afl (`cargo install cargo-afl`; it builds AFL++ on first use, or run
# `cargo afl config --build`). Extra afl-fuzz arguments may be passed in AFL_ARGS.
set -euo pipefail

usage="usage: $0 TARGET SECONDS   (TARGET: roundtrip | session | serde_bridge)"
target=${1:?$usage}
seconds=${2:?$usage}
case "$target" in
    roundtrip | session | serde_bridge) ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }

cd "$(dirname "$0")"

if ! cargo afl --version > /dev/null 2>&1; then
    echo "cargo-afl is missing: cargo install cargo-afl (then: cargo afl config --build)" >&2
    exit 1
fi

# The instrumented target (target/release), and the plain tools (target/plain: a build
# without AFL's instrumentation, kept apart so that neither rebuilds the other).
cargo afl build --release --features afl --bin "$target"
CARGO_TARGET_DIR=target/plain cargo build --release --bin seed --bin replay

if [ ! -d "corpus/$target" ] || [ -z "$(ls -A "corpus/$target")" ]; then
    target/plain/release/seed corpus
fi

out="out/$target"
stats="$out/default/fuzzer_stats"
mkdir -p "$out"

stat() { # stat FILE KEY: a value from AFL's fuzzer_stats (0 if absent)
    local value
    value=$(awk -F' *: *' -v key="$2" '$1 == key { print $2 }' "$1" 2>/dev/null || true)
    echo "${value:-0}"
}

execs_before=0
crashes_before=0
if [ -f "$stats" ]; then
    execs_before=$(stat "$stats" execs_done)
    crashes_before=$(stat "$stats" saved_crashes)
fi

# This machine's core_pattern and CPU governor are not AFL's business; one fuzzer, no
# pinning (the cores are shared), no curses UI; resume from out/ if it is there.
export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_AFFINITY=1
export AFL_NO_UI=1
export AFL_AUTORESUME=1

log="$out/afl.log"
echo "fuzzing $target for $seconds s (log: fuzz/$log)"
# shellcheck disable=SC2086
cargo afl fuzz -i "corpus/$target" -o "$out" -x dict/capnweb.dict -V "$seconds" \
    ${AFL_ARGS:-} -- "target/release/$target" > "$log" 2>&1 || {
    echo "afl-fuzz failed; the end of its log:" >&2
    tail -n 30 "$log" >&2
    exit 1
}

execs=$(stat "$stats" execs_done)
crashes=$(stat "$stats" saved_crashes)
echo "target:              $target"
echo "this run:            $((execs - execs_before)) executions, $((crashes - crashes_before)) new crashes"
echo "total executions:    $execs"
echo "total run time:      $(stat "$stats" run_time) s"
echo "executions per sec:  $(stat "$stats" execs_per_sec) (AFL's average over the run)"
echo "crashes saved:       $crashes"
echo "hangs saved:         $(stat "$stats" saved_hangs)"
echo "corpus:              $(stat "$stats" corpus_count) inputs, $(stat "$stats" bitmap_cvg) of the map"
if [ "$crashes" != 0 ]; then
    echo "crashing inputs:     fuzz/$out/default/crashes/"
fi
