#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine that already has Go,
# Node 20 and npm. Idempotent, and fast when everything is already in place.
#
#   bash scripts/setup.sh            # all steps
#   bash scripts/setup.sh js_deps    # only the named steps
#
# To add a step: write a function named step_<name> and add <name> to STEPS.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STEPS=(js_deps web quickjs chromium staticcheck)

log() { printf 'setup: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $*"
  fi
}

# npm ci in js/ when node_modules is missing or older than package-lock.json.
step_js_deps() {
  local dir="$ROOT/js"
  command -v npm >/dev/null 2>&1 || die "npm not found (need Node 20 + npm)"
  local marker="$dir/node_modules/.package-lock.json"
  if [ -f "$marker" ] && [ ! "$dir/package-lock.json" -nt "$marker" ] && [ ! "$dir/package.json" -nt "$marker" ]; then
    log "js deps: up to date"
    return
  fi
  log "js deps: npm ci in js/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  # npm ci may leave the marker older than a freshly touched lockfile.
  touch "$marker"
  log "js deps: done"
}

# Debian's chromium, for browser tests driven by playwright-core.
step_chromium() {
  if [ -x /usr/bin/chromium ]; then
    log "chromium: present"
    return
  fi
  command -v apt-get >/dev/null 2>&1 || die "chromium missing and apt-get not available"
  log "chromium: apt-get install chromium (takes a minute)"
  export DEBIAN_FRONTEND=noninteractive
  local aptlog
  aptlog="$(mktemp -t setup-apt.XXXXXX)"
  if ! { as_root apt-get update -qq && as_root apt-get install -y -qq chromium; } >"$aptlog" 2>&1; then
    tail -n 30 "$aptlog" >&2
    die "apt-get install chromium failed (log: $aptlog)"
  fi
  rm -f "$aptlog"
  [ -x /usr/bin/chromium ] || die "chromium install did not produce /usr/bin/chromium"
  log "chromium: done"
}

# The browser pages (js/builder) bundled into web/ui/dist, which the Go
# binary embeds: must run before go build / go test.
step_web() {
  bash "$ROOT/scripts/build-web.sh"
}

# The QuickJS engine for JavaScript handlers, compiled to wasm32-wasi
# (never committed; cached in build/).
step_quickjs() {
  bash "$ROOT/scripts/build-quickjs.sh"
}

# staticcheck, pinned, into bin/ (the test script runs it from there).
STATICCHECK_VERSION=v0.8.2
step_staticcheck() {
  local bin="$ROOT/bin/staticcheck"
  if [ -x "$bin" ] && "$bin" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
    log "staticcheck: present"
    return
  fi
  log "staticcheck: go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
  GOBIN="$ROOT/bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" >&2
  log "staticcheck: done"
}

main() {
  local steps=("$@")
  [ ${#steps[@]} -gt 0 ] || steps=("${STEPS[@]}")
  local s
  for s in "${steps[@]}"; do
    declare -F "step_$s" >/dev/null || die "unknown step: $s (known: ${STEPS[*]})"
    "step_$s"
  done
}

main "$@"
