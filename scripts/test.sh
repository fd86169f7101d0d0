#!/usr/bin/env bash
# The test command (README "Test"; .ci/run calls exactly this). Installs
# what is missing (scripts/setup.sh), then: go vet, staticcheck, every Go
# test with the race detector — including the JS interop and browser
# suites, which the Go tests run against the built binary — and a short run
# of every fuzz target.
#
# Needs PostgreSQL on 127.0.0.1:5432 (trust, database test) and Redis on
# 127.0.0.1:6379, as .ci/run starts them. FUZZTIME sets each fuzz run
# (default 50000x: a count of inputs, not a duration — Go 1.26's fuzz
# coordinator can report a spurious "context deadline exceeded" when a
# duration ends on a loaded machine, golang/go#75804).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh

echo "== go vet"
go vet ./...

echo "== staticcheck"
bin/staticcheck ./...

echo "== go test -race"
go test -race -count=1 -timeout 30m ./...

echo "== fuzz (${FUZZTIME:-50000x} each)"
fuzz() { go test -run='^$' -fuzz="^$1\$" -fuzztime="${FUZZTIME:-50000x}" "$2"; }
fuzz FuzzDecodeMessage ./collab/wire
fuzz FuzzFrameParser ./collab
fuzz FuzzReceiveSyncMessage ./crdt
fuzz FuzzLineSplitter ./generate
fuzz FuzzToolCallArguments ./generate
fuzz FuzzParseRetryAfter ./generate
fuzz FuzzParseOp ./canvas
fuzz FuzzDecodeMessage ./rooms/redisbus
fuzz FuzzDecodeMessage ./signaling
fuzz FuzzVerifyEmbedToken ./web/ui
fuzz FuzzVerifyToken ./accounts
fuzz FuzzParseExport ./accounts
fuzz FuzzDecodeCursor ./accounts
fuzz FuzzGuestAnswer ./execute
