#!/usr/bin/env bash
# Installs what the browser-facing tests need from Debian's packages, when it is missing:
#   /usr/bin/chromium  (headless, driven by playwright-core from interop/node_modules:
#                       tests/tests/browser.rs; playwright's own browser download is never used)
#   /usr/sbin/nginx    (the reverse proxy in front of our server: tests/tests/origin.rs)
# As root it runs `apt-get update` and `apt-get install -y chromium nginx`; as another user it
# fails, saying what to install. Idempotent and safe to run from several processes at once
# (flock on interop/.browser-setup.lock). Quiet on success; on failure prints what failed and
# exits non-zero.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here" || exit 1

fail() {
  echo "interop/browser-setup.sh: $1" >&2
  if [ -n "${2:-}" ] && [ -f "$2" ]; then
    echo "---- output ----" >&2
    tail -n 60 "$2" >&2
    echo "----------------" >&2
  fi
  exit 1
}

# Debian package -> the program the tests run.
declare -A programs=([chromium]=/usr/bin/chromium [nginx]=/usr/sbin/nginx)

missing_packages() {
  local package
  for package in "${!programs[@]}"; do
    [ -x "${programs[$package]}" ] || echo "$package"
  done
}

[ -z "$(missing_packages)" ] && exit 0

command -v flock >/dev/null 2>&1 || fail "flock not found (util-linux)"
exec 9>"$here/.browser-setup.lock" || fail "cannot open lock file $here/.browser-setup.lock"
flock 9 || fail "cannot take lock on $here/.browser-setup.lock"

# Another process may have installed them while this one waited for the lock.
mapfile -t missing < <(missing_packages)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  fail "missing ${missing[*]}; install as root: apt-get update && apt-get install -y ${missing[*]}"
fi
command -v apt-get >/dev/null 2>&1 \
  || fail "missing ${missing[*]} and no apt-get: install Debian's ${missing[*]} packages (or the same programs at ${programs[*]})"

log="$(mktemp "${TMPDIR:-/tmp}/browser-setup.XXXXXX")" || fail "mktemp failed"
trap 'rm -f "$log"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update >"$log" 2>&1 || fail "apt-get update failed" "$log"
apt-get install -y "${missing[@]}" >"$log" 2>&1 || fail "apt-get install -y ${missing[*]} failed" "$log"

for package in "${missing[@]}"; do
  [ -x "${programs[$package]}" ] || fail "installed $package, but ${programs[$package]} is not there" "$log"
done
exit 0
