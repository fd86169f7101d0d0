#!/usr/bin/env bash
# Builds the browser pages (js/builder, TypeScript) into web/ui/dist, which
# the Go binary embeds: run it before `go build` whenever js/builder
# changed. Fast when nothing changed (compares timestamps with the last
# build's stamp). Needs js/node_modules (bash scripts/setup.sh js_deps).
#
#   bash scripts/build-web.sh          # build if out of date
#   bash scripts/build-web.sh --force  # always build
#   bash scripts/build-web.sh --check  # also type-check with tsc
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=web/ui/dist
stamp=$out/.stamp
force=0 check=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --check) check=1 ;;
    *) echo "build-web: unknown argument $a" >&2; exit 2 ;;
  esac
done

if [ ! -d js/node_modules/esbuild ]; then
  bash scripts/setup.sh js_deps
fi

if [ "$check" = 1 ]; then
  (cd js && node node_modules/typescript/bin/tsc -p builder/tsconfig.json)
fi

if [ "$force" = 0 ] && [ -f "$stamp" ] && [ -f "$out/builder.js" ] && [ -f "$out/embed.js" ] && [ -f "$out/automerge.wasm" ] &&
  [ -z "$(find js/builder/src js/builder/build.mjs js/package-lock.json -newer "$stamp" -print -quit)" ]; then
  echo "build-web: up to date" >&2
  exit 0
fi

node js/builder/build.mjs >&2
touch "$stamp"
