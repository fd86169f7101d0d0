// Package execute runs app logic — JavaScript handlers and uploaded WASM
// modules — in wazero with hard limits, and is the executor peer that
// does the runs queued in app documents and writes their results back.
//
// Pieces, outermost first:
//   - Executor (Open) wires everything for a server node and serves the
//     HTTP API (Routes): queue a run, wait for it, list and read the
//     execution history, upload modules.
//   - Peer holds replicas of the documents it is asked to Watch, through
//     the sync server like any client; it claims each queued run (see Peer
//     for how one executor wins among several), runs it on the Engine, and
//     writes status, output or error, logs, metrics and the handler's state
//     patch into the document as its own changes.
//   - Engine runs one Job under Limits: JavaScript on a pool of warm QuickJS
//     instances (QuickJS 2021-03-27 compiled to wasm32-wasi by
//     scripts/build-quickjs.sh from execute/guest), WASM modules on a fresh
//     instance per run. Guests get no filesystem, network or environment;
//     an instance that breaks a limit is closed, never reused.
//   - History records executions (memory, bbolt on disk, or PostgreSQL's
//     executions table in execute/postgres, shared by nodes) and is the
//     fence that lets one executor hold a run, under a renewed lease;
//     historytest is the contract every History passes. BlobStore keeps
//     uploaded modules by content hash (memory, or a directory).
//
// A handler's source is an ES module whose default export is a function,
// sync or async, called with ctx = {input, state, event}; it returns
// {output?, state?}, and state is a patch merged into the app's state map
// (a null value deletes a key). An uploaded module is a WASI preview1
// command that reads {input, state, event} as JSON on stdin and writes
// {output?, state?} as JSON on stdout; its stderr lines become the logs.
package execute
