#!/usr/bin/env bash
# Builds the executor's JavaScript engine: QuickJS 2021-03-27 for
# wasm32-wasi with casual's guest main (execute/guest/guest.c), patched by
# execute/guest/quickjs-wasi.patch. Output: build/quickjs.wasm (never
# committed; tests find it there or at $CASUAL_QUICKJS_WASM).
#
#   bash scripts/build-quickjs.sh          # build if out of date
#   FORCE=1 bash scripts/build-quickjs.sh  # rebuild
#
# Needs clang, lld, wasi-libc and the wasm32 compiler runtime (installed
# with apt-get when missing) and npm (QuickJS's sources come from the npm
# package qjsc@0.3.0, cached under build/cache). About 20 s on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${CASUAL_QUICKJS_WASM:-$ROOT/build/quickjs.wasm}"
CACHE="$ROOT/build/cache"
QJSC_VERSION=0.3.0
QJS_DIR=quickjs_2021_03_27
GUEST="$ROOT/execute/guest"

log() { printf 'build-quickjs: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The inputs that decide the output; a change to any of them rebuilds.
inputs=("$GUEST/guest.c" "$GUEST/quickjs-wasi.patch" "${BASH_SOURCE[0]}")
stamp() { cat "${inputs[@]}" | sha256sum | cut -d' ' -f1; }

if [ -z "${FORCE:-}" ] && [ -f "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$(stamp)" ]; then
  log "up to date: $OUT"
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root for: $*"
  fi
}

# Toolchain: Debian's clang 14 targets wasm32-wasi with wasi-libc's sysroot.
have_toolchain() {
  command -v clang >/dev/null 2>&1 && command -v wasm-ld >/dev/null 2>&1 &&
    [ -f /usr/lib/wasm32-wasi/libc.a ] &&
    ls /usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1
}
if ! have_toolchain; then
  command -v apt-get >/dev/null 2>&1 || die "clang/lld/wasi-libc missing and apt-get not available"
  log "installing clang lld wasi-libc libclang-rt-14-dev-wasm32 (a minute)"
  aptlog="$(mktemp -t build-quickjs-apt.XXXXXX)"
  if ! { as_root apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq clang lld wasi-libc libclang-rt-14-dev-wasm32; } >"$aptlog" 2>&1; then
    tail -n 30 "$aptlog" >&2
    die "apt-get install failed (log: $aptlog)"
  fi
  rm -f "$aptlog"
  have_toolchain || die "toolchain still incomplete after apt-get install"
fi

# Sources: the npm package's copy of QuickJS, fetched once.
src="$CACHE/qjsc-$QJSC_VERSION/package/deps/$QJS_DIR"
if [ ! -f "$src/quickjs.c" ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found (QuickJS sources come from npm qjsc@$QJSC_VERSION)"
  log "fetching QuickJS sources (npm pack qjsc@$QJSC_VERSION)"
  rm -rf "$CACHE/qjsc-$QJSC_VERSION"
  mkdir -p "$CACHE/qjsc-$QJSC_VERSION"
  (cd "$CACHE/qjsc-$QJSC_VERSION" && npm pack --silent "qjsc@$QJSC_VERSION" >/dev/null && tar xzf "qjsc-$QJSC_VERSION.tgz")
  [ -f "$src/quickjs.c" ] || die "qjsc@$QJSC_VERSION has no $QJS_DIR/quickjs.c"
fi

# A fresh patched copy for every build, so the patch always applies to
# pristine sources.
work="$(mktemp -d -t build-quickjs.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp "$src"/*.c "$src"/*.h "$src/VERSION" "$work/"
(cd "$work" && patch -s -p1 <"$GUEST/quickjs-wasi.patch") || die "quickjs-wasi.patch does not apply"
cp "$GUEST/guest.c" "$work/"

log "compiling (about 20 s)"
CFLAGS=(--target=wasm32-wasi --sysroot=/usr -O2 -funsigned-char -D_GNU_SOURCE -DNDEBUG
  -DCONFIG_VERSION='"2021-03-27"' -DCONFIG_BIGNUM)
objs=()
pids=()
for f in quickjs libregexp libunicode cutils libbf guest; do
  warn=(-Wno-everything)
  [ "$f" = guest ] && warn=(-Wall -Werror -Wno-unused-parameter)
  clang "${CFLAGS[@]}" "${warn[@]}" -c "$work/$f.c" -o "$work/$f.o" &
  pids+=($!)
  objs+=("$work/$f.o")
done
for p in "${pids[@]}"; do wait "$p" || die "compile failed"; done

mkdir -p "$(dirname "$OUT")"
clang --target=wasm32-wasi --sysroot=/usr -O2 "${objs[@]}" -o "$OUT.tmp" \
  -Wl,-z,stack-size=1048576 -Wl,--stack-first -Wl,--strip-all -lm
mv "$OUT.tmp" "$OUT"
stamp >"$OUT.stamp"
log "built $OUT ($(stat -c %s "$OUT") bytes)"
