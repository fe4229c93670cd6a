#!/usr/bin/env bash
# Our server against the reference server, and against the floor, under the same load.
#
#   bench/compare.sh                 ROUNDS=3 by default (env ROUNDS=N to change)
#
# Builds our interop-server and the floor (examples/bench-floor.rs: the same tokio + hyper +
# tokio-tungstenite stack answering load.mjs's calls with no RPC engine) in release, runs
# interop/setup.sh, then for each round starts a fresh reference server (node
# interop/node/server.mjs), a fresh one of ours (examples/interop-server) and a fresh floor, one
# after the other (ABBA order: odd rounds reference, ours, floor; even rounds floor, ours,
# reference), and drives each with interop/node/load.mjs (the reference's own client, the same
# fixed load). Around each load it reads the server's /proc entries:
#   - CPU: utime+stime from /proc/PID/stat (whole process, 10 ms ticks) and the sum of
#     /proc/PID/task/*/schedstat (ns, live threads only), as deltas across the load;
#   - memory: VmRSS before the load, VmHWM (peak RSS, since the process started) after it;
# and takes the client's calls/s (and per-phase figures) from load.mjs's RESULT line.
# Then, if strace is installed, one more run each of ours and the floor with the ws.concurrent
# phase alone (load.mjs --phases ws.concurrent) under `strace -c -f -p PID`: syscalls per call and
# the top syscalls (separate runs: strace slows the server, so the CPU figures come from the
# rounds, not from these). Without strace, that column is skipped with a note. strace slows
# every syscall so much that the server batches far more than it does untraced (fewer syscalls
# per call), so if `perf stat` can count the syscall tracepoints, ROUNDS more such runs each
# (alternating) count them untraced (raw_syscalls:sys_enter and the main syscalls one by one,
# context switches); the report takes the medians (a single run swings by 2x: how many frames
# each wake-up finds depends on timing).
# Prints every run, then a side-by-side table of the medians with the ratios, then the per-phase
# CPU per call against the floor (the target: ours within 1.15x of the floor in every phase).
# Fails (non-zero exit, message on stderr) if the build, setup, a server, or a load run fails.
BENCH_NAME=compare.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${ROUNDS:-3}"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"

bench_setup
FLOOR_SERVER=("$CARGO_TARGET_DIR/release/examples/bench-floor")
echo "# cargo build --release --example bench-floor"
(cd "$BENCH_REPO" && cargo build --release --quiet --example bench-floor) \
  || die "cargo build --release --example bench-floor failed"
[ -x "${FLOOR_SERVER[0]}" ] || die "no binary at ${FLOOR_SERVER[0]} after the build"
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

run_labelled() {   # run_labelled LABEL ROUND
  case "$1" in
    reference) run_one reference "$2" "${REF_SERVER[@]}" ;;
    ours) run_one ours "$2" "${OUR_SERVER[@]}" ;;
    floor) run_one floor "$2" "${FLOOR_SERVER[@]}" ;;
  esac
}

for round in $(seq "$ROUNDS"); do
  if (( round % 2 == 1 )); then
    order=(reference ours floor)
  else
    order=(floor ours reference)
  fi
  for label in "${order[@]}"; do run_labelled "$label" "$round"; done
done

# strace_concurrent LABEL CMD...: a fresh server, strace attached to all its threads, then the
# ws.concurrent phase alone; strace's summary (sorted by calls) goes to $BENCH_WORK/strace.LABEL.
STRACE_ARGS=()
strace_concurrent() {
  local label="$1"
  shift
  start_server "$label" "$@"
  local pid="$SERVER_PID" summary="$BENCH_WORK/strace.$label" out="$BENCH_WORK/strace-load.$label.out"
  strace -c -f -S calls -o "$summary" -p "$pid" 2>"$summary.err" {SERVER_STDIN_FD}>&- &
  local strace_pid=$!
  BENCH_PIDS+=("$strace_pid")
  # Attached once every thread of the server names a tracer.
  local i t attached=no
  for i in $(seq 100); do
    attached=yes
    for t in /proc/"$pid"/task/*/status; do
      grep -q '^TracerPid:[[:space:]]*0$' "$t" 2>/dev/null && attached=no
    done
    [ "$attached" = yes ] && break
    kill -0 "$strace_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$attached" != yes ]; then
    echo "# strace could not attach to the $label server ($(tr '\n' ' ' <"$summary.err")): syscalls/call skipped"
    kill -INT "$strace_pid" 2>/dev/null || true
    wait "$strace_pid" 2>/dev/null || true
    stop_server
    return 0
  fi
  echo "## strace: $label server (pid $pid), ws.concurrent alone"
  set +e
  node "$BENCH_REPO/interop/node/load.mjs" "$SERVER_ADDR" --phases ws.concurrent \
    >"$out" 2>"$out.err" {SERVER_STDIN_FD}>&-
  local rc=$?
  set -e
  kill -INT "$strace_pid" 2>/dev/null || true
  wait "$strace_pid" 2>/dev/null || true
  server_alive
  grep -v '^RESULT ' "$out" | sed 's/^/   /' || true
  [ "$rc" -eq 0 ] || { cat "$out.err" >&2; die "load.mjs --phases ws.concurrent against the $label server (under strace) exited $rc"; }
  stop_server
  grep -q ' total$' "$summary" || die "strace wrote no summary for the $label server: $(cat "$summary" "$summary.err")"
  STRACE_ARGS+=(--strace "$label=$summary")
}

# perf_concurrent LABEL CMD...: a fresh server, then the ws.concurrent phase alone under
# `perf stat -x,` (syscall tracepoints, context switches); the counts go to $BENCH_WORK/perf.LABEL.
PERF_EVENTS="raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,syscalls:sys_enter_write,syscalls:sys_enter_sched_yield,context-switches,task-clock"
PERF_ARGS=()
perf_concurrent() {   # perf_concurrent LABEL ROUND CMD...
  local label="$1" round="$2"
  shift 2
  start_server "$label" "$@"
  local pid="$SERVER_PID" counts="$BENCH_WORK/perf.$label.$round" out="$BENCH_WORK/perf-load.$label.$round.out"
  perf stat -x, -e "$PERF_EVENTS" -p "$pid" -o "$counts" {SERVER_STDIN_FD}>&- &
  local perf_pid=$!
  BENCH_PIDS+=("$perf_pid")
  sleep 0.5
  echo "## perf stat $round: $label server (pid $pid), ws.concurrent alone"
  set +e
  node "$BENCH_REPO/interop/node/load.mjs" "$SERVER_ADDR" --phases ws.concurrent \
    >"$out" 2>"$out.err" {SERVER_STDIN_FD}>&-
  local rc=$?
  set -e
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  server_alive
  grep -v '^RESULT ' "$out" | sed 's/^/   /' || true
  [ "$rc" -eq 0 ] || { cat "$out.err" >&2; die "load.mjs --phases ws.concurrent against the $label server (under perf stat) exited $rc"; }
  stop_server
  PERF_ARGS+=(--perf "$label=$counts")
}

if command -v perf >/dev/null 2>&1 && perf stat -x, -e "$PERF_EVENTS" -o /dev/null true >/dev/null 2>&1; then
  for round in $(seq "$ROUNDS"); do
    if (( round % 2 == 1 )); then
      perf_concurrent ours "$round" "${OUR_SERVER[@]}"
      perf_concurrent floor "$round" "${FLOOR_SERVER[@]}"
    else
      perf_concurrent floor "$round" "${FLOOR_SERVER[@]}"
      perf_concurrent ours "$round" "${OUR_SERVER[@]}"
    fi
  done
else
  echo "# perf stat cannot count syscall tracepoints here: the untraced syscall counts are skipped"
fi

if command -v strace >/dev/null 2>&1; then
  strace_concurrent ours "${OUR_SERVER[@]}"
  strace_concurrent floor "${FLOOR_SERVER[@]}"
else
  echo "# strace is not installed: the syscalls/call column is skipped (apt-get install -y strace)"
fi

echo
node "$BENCH_REPO/bench/report.mjs" "$runs" "${STRACE_ARGS[@]}" "${PERF_ARGS[@]}" || die "bench/report.mjs failed"
