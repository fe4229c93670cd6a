#!/usr/bin/env bash
# Runs one client against one server of the interop harness:
#   interop/run-pair.sh SERVER CLIENT TRANSPORT     SERVER, CLIENT: node | python; TRANSPORT: ws | http
# Starts the server on 127.0.0.1:0 with a pipe on its stdin (it exits when the pipe closes),
# reads the port from its first stdout line, runs the client, stops the server, and exits with the
# client's status. Runs setup.sh first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
server="${1:?usage: run-pair.sh node|python node|python ws|http}"
client="${2:?usage: run-pair.sh node|python node|python ws|http}"
transport="${3:?usage: run-pair.sh node|python node|python ws|http}"
"$here/setup.sh"

cmd_for() {
  case "$1:$2" in
    node:server) echo "node $here/node/server.mjs" ;;
    node:client) echo "node $here/node/client.mjs" ;;
    python:server) echo "$here/.venv/bin/python $here/python/server.py" ;;
    python:client) echo "$here/.venv/bin/python $here/python/client.py" ;;
    *) echo "unknown peer '$1'" >&2; exit 2 ;;
  esac
}
server_cmd="$(cmd_for "$server" server)"
client_cmd="$(cmd_for "$client" client)"

fifo_dir="$(mktemp -d)"
trap 'exec 3>&- 2>/dev/null || true; [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null; rm -rf "$fifo_dir"' EXIT
mkfifo "$fifo_dir/stdin" "$fifo_dir/stdout"
$server_cmd 127.0.0.1:0 <"$fifo_dir/stdin" >"$fifo_dir/stdout" &
srv_pid=$!
exec 3>"$fifo_dir/stdin"          # keep the server's stdin open while we run
exec 4<"$fifo_dir/stdout"
if ! read -r -t 30 line <&4; then
  echo "run-pair.sh: $server server printed no 'listening on' line" >&2
  exit 1
fi
case "$line" in
  "listening on "*) addr="${line#listening on }" ;;
  *) echo "run-pair.sh: unexpected first line from server: $line" >&2; exit 1 ;;
esac
cat <&4 >/dev/null 3>&- &          # drain the rest of the server's stdout (without holding its stdin)
echo "# $client client -> $server server over $transport at $addr"
set +e
$client_cmd "$transport" "$addr" 3>&- 4<&-
rc=$?
set -e
exec 3>&-                           # closing stdin stops the server
wait "$srv_pid" 2>/dev/null || true
srv_pid=""
exit $rc
