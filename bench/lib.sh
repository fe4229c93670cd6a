# Shared by bench/compare.sh and bench/idle-sessions.sh (sourced, not run).
#
# Provides: bench_setup (build our interop-server in release, run interop/setup.sh),
# start_server / stop_server (readiness = the server's `listening on HOST:PORT` line; stdin is a
# pipe we hold, so the reference server also exits if this script dies), readers for
# /proc/PID/{stat,status,task/*/schedstat}, and an EXIT trap that stops every process started here.

set -euo pipefail

BENCH_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_WORK="$(mktemp -d "${TMPDIR:-/tmp}/capnweb-bench.XXXXXX")"
BENCH_PIDS=()          # every background process we started (servers, stdout drains)
BENCH_NAME="${BENCH_NAME:-bench}"

die() {
  echo "$BENCH_NAME: FAIL: $*" >&2
  exit 1
}

bench_cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${BENCH_PIDS[@]}"; do
    local i
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$BENCH_WORK"
  if [ "$rc" -ne 0 ]; then
    echo "$BENCH_NAME: FAILED (exit $rc)" >&2
  fi
  exit "$rc"
}
trap bench_cleanup EXIT
trap 'die "interrupted"' INT TERM
trap 'echo "$BENCH_NAME: command failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

# The two servers. REF_SERVER: the reference (npm capnweb 0.12.0 under Node); OUR_SERVER: ours.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$BENCH_REPO/target}"
export CARGO_TARGET_DIR
OUR_SERVER=("$CARGO_TARGET_DIR/release/examples/interop-server")
REF_SERVER=(node "$BENCH_REPO/interop/node/server.mjs")

bench_setup() {
  echo "# cargo build --release --example interop-server (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$BENCH_REPO" && cargo build --release --quiet --example interop-server) \
    || die "cargo build --release --example interop-server failed"
  [ -x "${OUR_SERVER[0]}" ] || die "no binary at ${OUR_SERVER[0]} after the build"
  echo "# interop/setup.sh"
  "$BENCH_REPO/interop/setup.sh" || die "interop/setup.sh failed"
  echo "# node $(node --version); our server $(git -C "$BENCH_REPO" rev-parse --short HEAD)$(git -C "$BENCH_REPO" diff --quiet HEAD -- capnweb capnweb-macros examples || echo ' (uncommitted changes)')"
}

# start_server NAME CMD...   Starts `CMD 127.0.0.1:0` with a pipe on stdin (held open here) and
# stdout on a pipe; waits (at most 30 s) for its first line, which must be `listening on HOST:PORT`.
# Sets SERVER_PID, SERVER_ADDR, SERVER_NAME. Its stderr goes to $BENCH_WORK/NAME.stderr.
start_server() {
  SERVER_NAME="$1"
  shift
  local dir="$BENCH_WORK/$SERVER_NAME.$RANDOM$RANDOM"
  mkdir "$dir"
  mkfifo "$dir/stdin" "$dir/stdout"
  SERVER_STDERR="$dir/stderr"
  "$@" 127.0.0.1:0 <"$dir/stdin" >"$dir/stdout" 2>"$SERVER_STDERR" &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  exec {SERVER_STDIN_FD}>"$dir/stdin"
  exec {SERVER_STDOUT_FD}<"$dir/stdout"
  local line=""
  if ! read -r -t 30 line <&"$SERVER_STDOUT_FD"; then
    cat "$SERVER_STDERR" >&2
    die "$SERVER_NAME server ($*) printed no 'listening on' line within 30 s"
  fi
  case "$line" in
    "listening on "*) SERVER_ADDR="${line#listening on }" ;;
    *) cat "$SERVER_STDERR" >&2; die "$SERVER_NAME server: unexpected first line: $line" ;;
  esac
  # Keep draining its stdout (without holding its stdin) so it never blocks on a full pipe.
  cat <&"$SERVER_STDOUT_FD" >"$dir/stdout.rest" {SERVER_STDIN_FD}>&- &
  BENCH_PIDS+=("$!")
  exec {SERVER_STDOUT_FD}<&-
  [ -r "/proc/$SERVER_PID/stat" ] || die "$SERVER_NAME server pid $SERVER_PID is not running"
}

# server_alive: fails loudly if the current server has exited.
server_alive() {
  if ! kill -0 "$SERVER_PID" 2>/dev/null || [ "$(proc_state "$SERVER_PID")" = Z ]; then
    cat "$SERVER_STDERR" >&2
    die "$SERVER_NAME server (pid $SERVER_PID) died"
  fi
}

# stop_server: closes its stdin, sends SIGTERM, waits (5 s, then SIGKILL).
stop_server() {
  exec {SERVER_STDIN_FD}>&-
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  local i
  for i in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "$BENCH_NAME: $SERVER_NAME server did not exit 5 s after SIGTERM; killing it" >&2
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
}

proc_state() {
  local stat
  stat="$(<"/proc/$1/stat")" || return 0
  stat="${stat##*) }"
  echo "${stat%% *}"
}

# utime + stime of the whole process (dead threads included), in clock ticks (USER_HZ).
proc_cpu_ticks() {
  local stat f
  stat="$(<"/proc/$1/stat")"
  stat="${stat##*) }"             # fields from 3 (state) on; comm may contain spaces
  read -r -a f <<<"$stat"
  echo $(( f[11] + f[12] ))       # fields 14 (utime) and 15 (stime)
}

# Sum of the first field of /proc/PID/task/*/schedstat: CPU time of the live threads, in ns.
proc_cpu_ns() {
  local total=0 t ns rest
  for t in /proc/"$1"/task/*/schedstat; do
    if read -r ns rest <"$t" 2>/dev/null; then total=$(( total + ns )); fi
  done
  echo "$total"
}

# A field of /proc/PID/status in kB (VmRSS, VmHWM, ...) or as is (Threads).
proc_status() {
  local key value rest
  while read -r key value rest; do
    if [ "$key" = "$2:" ]; then echo "$value"; return 0; fi
  done <"/proc/$1/status"
  die "no $2 in /proc/$1/status"
}

CLK_TCK="$(getconf CLK_TCK)"
