#!/usr/bin/env bash
# Installs the interop harness's pinned environments:
#   interop/node_modules  (npm ci from package-lock.json: capnweb 0.12.0, ws, playwright-core,
#                          typescript, esbuild)
#   interop/.venv         (python3.11 venv with requirements.txt: py-capnweb 0.5.0 + deps)
# Idempotent and safe to run from several processes at once (flock on interop/.setup.lock).
# Quiet on success; on failure prints what failed and exits non-zero.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here" || exit 1

fail() {
  echo "interop/setup.sh: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "---- output ----" >&2
    tail -n 60 "$2" >&2
    echo "----------------" >&2
  fi
  exit 1
}

command -v flock >/dev/null 2>&1 || fail "flock not found (util-linux)"
exec 9>"$here/.setup.lock" || fail "cannot open lock file $here/.setup.lock"
flock 9 || fail "cannot take lock on $here/.setup.lock"

log="$(mktemp "${TMPDIR:-/tmp}/interop-setup.XXXXXX")" || fail "mktemp failed"
trap 'rm -f "$log"' EXIT

# ---------------------------------------------------------------- node
node_stamp="node_modules/.interop-setup-stamp"
if [ ! -f "$node_stamp" ] || [ package-lock.json -nt "$node_stamp" ] || [ package.json -nt "$node_stamp" ]; then
  command -v node >/dev/null 2>&1 || fail "node not found on PATH"
  command -v npm >/dev/null 2>&1 || fail "npm not found on PATH"
  if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    fail "npm ci failed in $here" "$log"
  fi
  node -e 'import("capnweb").then(() => import("ws")).then(() => import("playwright-core")).then(() => import("typescript")).then(() => import("esbuild"))' >"$log" 2>&1 \
    || fail "node_modules installed but capnweb/ws/playwright-core/typescript/esbuild do not import" "$log"
  touch "$node_stamp"
fi

# ---------------------------------------------------------------- python
py=""
if command -v python3.11 >/dev/null 2>&1; then
  py="python3.11"
elif command -v python3 >/dev/null 2>&1 && \
     python3 -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
  py="python3"
else
  fail "need python3.11 (or python3 that is 3.11) on PATH"
fi

req_hash="$(sha256sum requirements.txt | cut -d' ' -f1)" || fail "cannot hash requirements.txt"
py_stamp=".venv/.interop-requirements-sha256"
if [ ! -x .venv/bin/python ] || [ ! -f "$py_stamp" ] || [ "$(cat "$py_stamp" 2>/dev/null)" != "$req_hash" ]; then
  if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
    rm -rf .venv
    "$py" -m venv .venv >"$log" 2>&1 || { rm -rf .venv; fail "'$py -m venv .venv' failed" "$log"; }
  fi
  rm -f "$py_stamp"
  if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input \
       -r requirements.txt >"$log" 2>&1; then
    fail "pip install -r requirements.txt failed" "$log"
  fi
  .venv/bin/python -c 'import capnweb.server, capnweb.client' >"$log" 2>&1 \
    || fail "py-capnweb installed but does not import" "$log"
  echo "$req_hash" > "$py_stamp"
fi
exit 0
