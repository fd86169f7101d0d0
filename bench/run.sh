#!/usr/bin/env bash
# Runs the BENCHMARKS.md scenarios with `casual bench` against casual and
# against the Node automerge-repo reference server (js/bench/node-server.mjs),
# one server at a time on this machine. Heavy: opt-in, not part of CI.
#
#   bash bench/run.sh              # all scenarios, both servers
#   bash bench/run.sh hot idle     # some scenarios: hot hotfull ack idle coldload
#   SERVERS=casual bash bench/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh js_deps
mkdir -p bin && go build -o bin/casual ./cmd/casual
ulimit -n 20000 || true

SCENARIOS=("$@"); [ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(hot hotfull ack idle coldload)
SERVERS=${SERVERS:-"casual node"}
PORT=${PORT:-3999}
URL="ws://127.0.0.1:$PORT/sync"

start() { # $1 = casual|node; sets PID
  local dir; dir=$(mktemp -d)
  case $1 in
    casual) bin/casual serve --addr 127.0.0.1:$PORT --data-dir "$dir" --log-level warn 2>/dev/null & PID=$! ;;
    node) node js/bench/node-server.mjs serve --addr 127.0.0.1:$PORT --data-dir "$dir" 2>/dev/null & PID=$! ;;
  esac
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && return; sleep 0.1; done
  echo "server $1 did not start" >&2; exit 1
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }

run() { # $1 server, $2 scenario
  echo "### $2 — $1"
  case $2 in
    hot)  bin/casual bench --url "$URL" --rooms 1 --clients 50 --writers 5 --updates 200 --rate 20 --light-readers --pid "$PID" ;;
    hotfull) bin/casual bench --url "$URL" --rooms 1 --clients 50 --writers 5 --updates 200 --rate 20 --pid "$PID" ;;
    ack)  bin/casual bench --url "$URL" --rooms 20 --clients 2 --writers 1 --updates 100 --rate 10 --light-readers ;;
    idle) bin/casual bench --url "$URL" --rooms 1000 --clients 10 --idle --hold 30s --connect-concurrency 32 --timeout 5m --pid "$PID" ;;
  esac
  echo
}

for scenario in "${SCENARIOS[@]}"; do
  if [ "$scenario" = coldload ]; then
    echo "### coldload — casual (store + Automerge load of a 1 MB, 100k-change document)"
    CASUAL_BENCH_DOC_OUT=/tmp/casual-coldload.automerge \
      go test -run '^$' -bench 'BenchmarkLoad1MB' -benchtime 5x ./store/embedded/ | grep -E '^Benchmark'
    echo "### coldload — node (JS Automerge 3.5 loading the same bytes)"
    node js/bench/coldload.mjs /tmp/casual-coldload.automerge
    echo
    continue
  fi
  for server in $SERVERS; do
    start "$server"; run "$server" "$scenario"; stop
  done
done
