#!/usr/bin/env node
// Thin entry point for the reference Node automerge-repo server. The real code
// lives in js/bench/node-server.mjs so that it resolves its packages from the
// single node_modules tree in js/ (run scripts/setup.sh first).
//
//   node bench/node-server/server.mjs serve --addr 127.0.0.1:3030 --data-dir DIR
await import(new URL("../../js/bench/node-server.mjs", import.meta.url))
