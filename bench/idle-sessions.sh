#!/usr/bin/env bash
# Memory per idle WebSocket session: our server against the reference server.
#
#   bench/idle-sessions.sh [N=10000]          env CONCURRENCY (default 200): opens in flight at once
#
# Builds our interop-server (release) and runs interop/setup.sh, then for each server in turn
# (ours, then the reference; each a fresh process):
#   1. starts it (readiness: its `listening on` line);
#   2. warm-up: one session (one square(2) call), closed again; reads VmRSS  -> "RSS warm";
#   3. runs interop/node/idle-sessions.mjs HOST:PORT N, which opens N sessions (each makes one
#      checked call and then stays open and idle) and prints `opened N`; reads VmRSS, VmHWM and
#      the number of open fds of the server -> "RSS with N open" (fds must be >= N);
#   4. closes idle-sessions.mjs's stdin (it checks that all N are still open, closes them, exits
#      0); reads VmRSS and open fds again at once -> "RSS right after closing" (what the server
#      has given back to the OS by then: allocator-dependent, not a leak test);
# and prints, side by side, (RSS with N open - RSS warm) / N: the resident memory per idle session.
BENCH_NAME=idle-sessions.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

N="${1:-10000}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer (got '$N')"
nofile="$(ulimit -n)"
if [ "$nofile" != unlimited ] && (( nofile < N + 100 )); then
  die "ulimit -n is $nofile: each of the client and the server needs N + a few file descriptors"
fi
read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
(( port_hi - port_lo + 1 > N + 100 )) || die "ephemeral port range $port_lo-$port_hi is too small for N=$N"

bench_setup
idle="$BENCH_REPO/interop/node/idle-sessions.mjs"
results="$BENCH_WORK/idle.tsv"
: >"$results"

measure() {   # measure LABEL CMD...
  local label="$1"
  shift
  start_server "$label" "$@"
  local pid="$SERVER_PID"
  echo "## $label server (pid $pid, $SERVER_ADDR)"

  # 2. one warm-up session, closed again (its stdin is a pipe that is already at EOF)
  node "$idle" "$SERVER_ADDR" 1 < <(true) >"$BENCH_WORK/warm.$label.out" 2>&1 {SERVER_STDIN_FD}>&- \
    || { cat "$BENCH_WORK/warm.$label.out" >&2; die "warm-up session against the $label server failed"; }
  server_alive
  local rss_warm
  rss_warm="$(proc_status "$pid" VmRSS)"

  # 3. N idle sessions, held open while we read the server's memory
  local dir="$BENCH_WORK/idle.$label"
  mkdir "$dir"
  mkfifo "$dir/stdin" "$dir/stdout"
  node "$idle" "$SERVER_ADDR" "$N" <"$dir/stdin" >"$dir/stdout" 2>"$dir/stderr" {SERVER_STDIN_FD}>&- &
  local client_pid=$!
  BENCH_PIDS+=("$client_pid")
  local client_in client_out line=""
  exec {client_in}>"$dir/stdin"
  exec {client_out}<"$dir/stdout"
  if ! read -r -t 600 line <&"$client_out"; then
    cat "$dir/stderr" >&2
    die "idle-sessions.mjs against the $label server did not report its sessions opened"
  fi
  case "$line" in
    "opened $N "*) ;;
    *) cat "$dir/stderr" >&2; die "idle-sessions.mjs against the $label server: unexpected line: $line" ;;
  esac
  echo "   $line"
  server_alive
  local rss_open hwm fds threads
  rss_open="$(proc_status "$pid" VmRSS)"
  hwm="$(proc_status "$pid" VmHWM)"
  threads="$(proc_status "$pid" Threads)"
  fds="$(ls "/proc/$pid/fd" | wc -l)"
  (( fds >= N )) || die "the $label server has only $fds open fds with $N sessions open"

  # 4. let the client close them
  exec {client_in}>&-
  local rc=0
  while read -r line <&"$client_out"; do echo "   $line"; done
  exec {client_out}<&-
  wait "$client_pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    cat "$dir/stderr" >&2
    die "idle-sessions.mjs against the $label server exited $rc"
  fi
  server_alive
  local rss_closed fds_closed
  rss_closed="$(proc_status "$pid" VmRSS)"
  fds_closed="$(ls "/proc/$pid/fd" | wc -l)"
  stop_server
  printf '%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n' "$label" "$rss_warm" "$rss_open" "$hwm" "$rss_closed" "$fds" "$threads" "$fds_closed" >>"$results"
}

measure ours "${OUR_SERVER[@]}"
measure reference "${REF_SERVER[@]}"

echo
echo "Idle WebSocket sessions: N=$N, each made one call (square(2)) and then stayed open."
awk -F'\t' -v n="$N" '
  function mib(kb) { return sprintf("%.1f", kb / 1024) }
  { label[NR] = $1; warm[NR] = $2; open_[NR] = $3; hwm[NR] = $4; closed[NR] = $5; fds[NR] = $6; thr[NR] = $7; fdc[NR] = $8
    per[NR] = ($3 - $2) / n }
  END {
    fmt = "%-38s %12s %12s %10s\n"
    printf fmt, "", label[1], label[2], label[2] "/" label[1]
    printf fmt, "RSS warm (after 1 session), MiB", mib(warm[1]), mib(warm[2]), sprintf("%.2fx", warm[2] / warm[1])
    printf fmt, "RSS with " n " sessions open, MiB", mib(open_[1]), mib(open_[2]), sprintf("%.2fx", open_[2] / open_[1])
    printf fmt, "RSS per idle session, KiB", sprintf("%.1f", per[1]), sprintf("%.1f", per[2]), (per[1] > 0 ? sprintf("%.2fx", per[2] / per[1]) : "n/a")
    printf fmt, "peak RSS (VmHWM), MiB", mib(hwm[1]), mib(hwm[2]), sprintf("%.2fx", hwm[2] / hwm[1])
    printf fmt, "RSS right after closing them, MiB", mib(closed[1]), mib(closed[2]), sprintf("%.2fx", closed[2] / closed[1])
    printf fmt, "server open fds with sessions open", fds[1], fds[2], ""
    printf fmt, "server open fds right after closing", fdc[1], fdc[2], ""
    printf fmt, "server threads", thr[1], thr[2], ""
    print "ratio: reference/ours (> 1: ours uses less)"
  }' "$results"
