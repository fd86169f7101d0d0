#!/usr/bin/env bash
# Cross-node fan-out: the same `casual bench` load against one node, then
# against three nodes sharing PostgreSQL and Redis with the connections
# spread over them (BENCHMARKS.md, "Scale-out"). Uses the local PostgreSQL
# (127.0.0.1:5432, database test, schema casual_bench, recreated) and Redis
# database 1. Heavy: opt-in, not part of CI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p bin && go build -o bin/casual ./cmd/casual
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
REDIS=${REDIS:-redis://127.0.0.1:6379/1}
LOAD=(--rooms 10 --clients 10 --writers 2 --updates 100 --rate 10)
psql "$PG" -qc "DROP SCHEMA IF EXISTS casual_bench CASCADE; CREATE SCHEMA casual_bench" >/dev/null
STORE="$PG&search_path=casual_bench"
pids=()
start() { # $1 port, $2 node id, extra args after
  local port=$1 id=$2; shift 2
  bin/casual serve --addr 127.0.0.1:$port --node-id "$id" --store "$STORE" --data-dir "$(mktemp -d)" --log-level warn "$@" 2>/dev/null & pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "node $id did not start" >&2; exit 1
}
stopall() { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; pids=(); }
trap stopall EXIT

echo "### single node (postgres store)"
start 3901 n1
bin/casual bench --url ws://127.0.0.1:3901/sync "${LOAD[@]}"
stopall
echo
echo "### three nodes (postgres + redis), connections spread over them"
start 3901 n1 --redis "$REDIS"; start 3902 n2 --redis "$REDIS"; start 3903 n3 --redis "$REDIS"
bin/casual bench --url ws://127.0.0.1:3901/sync,ws://127.0.0.1:3902/sync,ws://127.0.0.1:3903/sync "${LOAD[@]}"
