#!/usr/bin/env bash
# Our server against the reference server under the same load.
#
#   bench/compare.sh                 ROUNDS=3 by default (env ROUNDS=N to change)
#
# Builds our interop-server (release), runs interop/setup.sh, then for each round starts a fresh
# reference server (node interop/node/server.mjs) and a fresh one of ours
# (examples/interop-server), one after the other (ABBA order: round 1 reference first, round 2
# ours first, ...), and drives each with interop/node/load.mjs (the reference's own client, the
# same fixed load). Around each load it reads the server's /proc entries:
#   - CPU: utime+stime from /proc/PID/stat (whole process, 10 ms ticks) and the sum of
#     /proc/PID/task/*/schedstat (ns, live threads only), as deltas across the load;
#   - memory: VmRSS before the load, VmHWM (peak RSS, since the process started) after it;
# and takes the client's calls/s (and per-phase figures) from load.mjs's RESULT line.
# Prints every run, then a side-by-side table of the medians with the ratios.
# Fails (non-zero exit, message on stderr) if the build, setup, a server, or a load run fails.
BENCH_NAME=compare.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${ROUNDS:-3}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"

bench_setup
runs="$BENCH_WORK/runs.jsonl"
: >"$runs"

run_one() {   # run_one LABEL ROUND CMD...
  local label="$1" round="$2"
  shift 2
  start_server "$label" "$@"
  local pid="$SERVER_PID"
  local rss0 ticks0 ns0 ticks1 ns1 hwm rss1 threads out rc
  rss0="$(proc_status "$pid" VmRSS)"
  ticks0="$(proc_cpu_ticks "$pid")"
  ns0="$(proc_cpu_ns "$pid")"
  out="$BENCH_WORK/load.$label.$round.out"
  echo "## round $round: $label server (pid $pid, $SERVER_ADDR)"
  set +e
  node "$BENCH_REPO/interop/node/load.mjs" "$SERVER_ADDR" --server-pid "$pid" \
    >"$out" 2>"$out.err" {SERVER_STDIN_FD}>&-
  rc=$?
  set -e
  if ! kill -0 "$pid" 2>/dev/null || [ "$(proc_state "$pid")" = Z ]; then
    cat "$out" "$out.err" >&2
    echo "---- $label server stderr ----" >&2
    cat "$SERVER_STDERR" >&2
    die "the $label server (pid $pid) died during the load (load.mjs exited $rc)"
  fi
  ticks1="$(proc_cpu_ticks "$pid")"
  ns1="$(proc_cpu_ns "$pid")"
  hwm="$(proc_status "$pid" VmHWM)"
  rss1="$(proc_status "$pid" VmRSS)"
  threads="$(proc_status "$pid" Threads)"
  grep -v '^RESULT ' "$out" | sed 's/^/   /' || true
  if [ "$rc" -ne 0 ]; then
    cat "$out.err" >&2
    echo "---- $label server stderr ----" >&2
    cat "$SERVER_STDERR" >&2
    die "load.mjs against the $label server exited $rc"
  fi
  local result
  result="$(sed -n 's/^RESULT //p' "$out")"
  [ -n "$result" ] || die "load.mjs printed no RESULT line against the $label server"
  stop_server
  printf '{"server":"%s","round":%d,"cpuTicks":%d,"clkTck":%d,"cpuNs":%d,"rssBeforeKb":%d,"rssAfterKb":%d,"hwmKb":%d,"threads":%d,"load":%s}\n' \
    "$label" "$round" $(( ticks1 - ticks0 )) "$CLK_TCK" $(( ns1 - ns0 )) "$rss0" "$rss1" "$hwm" "$threads" "$result" >>"$runs"
}

for round in $(seq "$ROUNDS"); do
  if (( round % 2 == 1 )); then
    run_one reference "$round" "${REF_SERVER[@]}"
    run_one ours "$round" "${OUR_SERVER[@]}"
  else
    run_one ours "$round" "${OUR_SERVER[@]}"
    run_one reference "$round" "${REF_SERVER[@]}"
  fi
done

echo
node "$BENCH_REPO/bench/report.mjs" "$runs" || die "bench/report.mjs failed"
