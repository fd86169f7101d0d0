#!/usr/bin/env node
// Reference automerge-repo sync server (the configuration of
// automerge-repo-sync-server: Repo + NodeWSServerAdapter + NodeFSStorageAdapter,
// sharePolicy false), with the same CLI surface as `casual serve`, so the
// interop tests and `casual bench` can run against it as a baseline.
//
//   node js/bench/node-server.mjs serve --addr 127.0.0.1:3030 --data-dir DIR
//
// Env: CASUAL_ADDR, CASUAL_DATA_DIR (flags win), CASUAL_PEER_ID (default
// storage-server-<hostname>), CASUAL_LOG_LEVEL=debug. Serves GET /readyz
// (200 when ready) and the WebSocket endpoint /sync on one HTTP server.
// Logs JSON lines to stderr.
// SIGTERM/SIGINT: stop accepting, flush ready docs to disk, exit 0.
import http from "node:http"
import os from "node:os"
import fs from "node:fs"
import path from "node:path"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const DEBUG = (process.env.CASUAL_LOG_LEVEL || "").toLowerCase() === "debug"

function log(level, msg, fields = {}) {
  if (level === "debug" && !DEBUG) return
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + "\n"
  )
}

function usage(code) {
  process.stderr.write(
    "usage: node-server.mjs serve [--addr HOST:PORT] [--data-dir DIR]\n"
  )
  process.exit(code)
}

function parseArgs(argv) {
  const args = [...argv]
  const cmd = args.shift()
  if (cmd !== "serve") usage(2)
  const opts = {
    addr: process.env.CASUAL_ADDR || "127.0.0.1:3030",
    dataDir: process.env.CASUAL_DATA_DIR || "./data",
  }
  while (args.length) {
    let a = args.shift()
    let v
    const eq = a.indexOf("=")
    if (a.startsWith("--") && eq > 0) {
      v = a.slice(eq + 1)
      a = a.slice(0, eq)
    }
    const val = () => (v !== undefined ? v : args.length ? args.shift() : usage(2))
    switch (a) {
      case "--addr":
      case "-addr":
        opts.addr = val()
        break
      case "--data-dir":
      case "-data-dir":
        opts.dataDir = val()
        break
      case "-h":
      case "--help":
        usage(0)
        break
      default:
        log("error", "unknown flag", { flag: a })
        usage(2)
    }
  }
  const i = opts.addr.lastIndexOf(":")
  if (i < 0) {
    log("error", "bad --addr, want HOST:PORT", { addr: opts.addr })
    process.exit(2)
  }
  opts.host = opts.addr.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0"
  opts.port = Number(opts.addr.slice(i + 1))
  return opts
}

const opts = parseArgs(process.argv.slice(2))
fs.mkdirSync(opts.dataDir, { recursive: true })

const wss = new WebSocketServer({ noServer: true, maxPayload: 100 * 1024 * 1024 })
const adapter = new NodeWSServerAdapter(wss)
const peerId = process.env.CASUAL_PEER_ID || `storage-server-${os.hostname()}`
const repo = new Repo({
  network: [adapter],
  storage: new NodeFSStorageAdapter(path.resolve(opts.dataDir)),
  peerId,
  sharePolicy: async () => false,
})

let ready = false
let stopping = false

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x")
  if (url.pathname === "/readyz" || url.pathname === "/healthz") {
    const ok = url.pathname === "/healthz" || (ready && !stopping)
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" })
    res.end(ok ? "ok\n" : "not ready\n")
    return
  }
  res.writeHead(404, { "content-type": "text/plain" })
  res.end("not found\n")
})

server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "http://x")
  if (url.pathname !== "/sync" || stopping) {
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n")
    return
  }
  wss.handleUpgrade(req, socket, head, ws => {
    log("debug", "ws connected", { remote: req.socket.remoteAddress + ":" + req.socket.remotePort })
    wss.emit("connection", ws, req)
  })
})

// The adapter only registers its 'connection' listener once the repo has
// resolved its storageId (adapter.connect sets peerId); don't accept
// connections before that. Don't call repo.storageId() here: a second
// concurrent StorageSubsystem.id() on a fresh data dir generates a second
// UUID and may overwrite the first, so the storageId would change on restart.
for (let i = 0; i < 3000 && !adapter.peerId; i++) await new Promise(r => setTimeout(r, 10))
if (!adapter.peerId) {
  log("error", "network adapter did not start")
  process.exit(1)
}
const storageId = adapter.peerMetadata?.storageId

server.listen(opts.port, opts.host, () => {
  ready = true
  const a = server.address()
  log("info", "listening", {
    addr: `${a.address}:${a.port}`,
    dataDir: opts.dataDir,
    peerId,
    storageId,
    impl: "automerge-repo reference (node)",
  })
})
server.on("error", err => {
  log("error", "listen failed", { err: String(err) })
  process.exit(1)
})

async function shutdown(sig) {
  if (stopping) return
  stopping = true
  log("info", "shutting down", { signal: sig })
  server.close()
  for (const ws of wss.clients) ws.terminate()
  try {
    // repo.shutdown()/flush() throw on unavailable handles; flush ready ones only.
    const ids = Object.values(repo.handles)
      .filter(h => h.isReady())
      .map(h => h.documentId)
    await repo.flush(ids)
  } catch (err) {
    log("error", "flush failed", { err: String(err) })
  }
  log("info", "stopped")
  process.exit(0)
}
process.on("SIGTERM", () => void shutdown("SIGTERM"))
process.on("SIGINT", () => void shutdown("SIGINT"))
