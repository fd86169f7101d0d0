#!/usr/bin/env bash
# The run command (README "Run"): installs the npm packages and bundles the
# builder pages (first run only), builds what the server serves, then
# starts it on the embedded store — no PostgreSQL, Redis or API key needed.
# Arguments go to `casual serve` (e.g. --addr 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh js_deps web quickjs
mkdir -p bin
go build -o bin/casual ./cmd/casual
exec bin/casual serve "$@"
