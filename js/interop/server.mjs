// Start/stop the server under test for the interop tests.
//
// CASUAL_BIN is the server command: a binary path (`./casual`) or a command
// line split on whitespace (`node js/bench/node-server.mjs`); relative paths
// are relative to the directory npm was started in (INIT_CWD). It is run
// as `$CASUAL_BIN serve --addr 127.0.0.1:PORT --data-dir DIR` (CASUAL_ADDR and
// CASUAL_DATA_DIR are set too) and must answer GET /readyz with 200 when ready
// and serve the automerge-repo WebSocket protocol on /sync.
//
// INTEROP_VERBOSE=1 echoes the server's stderr.
import { spawn } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"

const READY_TIMEOUT_MS = 15_000
const STOP_TIMEOUT_MS = 15_000

/** Returns a free TCP port on 127.0.0.1 (best effort: it is released before use). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** The server command from CASUAL_BIN as [file, ...args]. */
export function serverCommand() {
  const bin = (process.env.CASUAL_BIN || "").trim()
  if (!bin) {
    throw new Error(
      "CASUAL_BIN is not set: point it at the server binary (e.g. CASUAL_BIN=./casual) " +
        'or at the reference server (CASUAL_BIN="node $PWD/js/bench/node-server.mjs")'
    )
  }
  const parts = bin.split(/\s+/)
  // Relative paths are taken relative to where the test run was started
  // (`npm --prefix js run …` runs in js/ but sets INIT_CWD); the server also
  // runs there.
  if (parts[0].includes("/") && !path.isAbsolute(parts[0])) parts[0] = path.resolve(serverCwd(), parts[0])
  return parts
}

/** Directory the server command runs in: where npm was invoked, else cwd. */
export function serverCwd() {
  return process.env.INIT_CWD || process.cwd()
}

/** True when CASUAL_BIN is the Node reference server (some behaviour differs). */
export function isReferenceServer() {
  return /node-server(\/server)?\.mjs/.test(process.env.CASUAL_BIN || "")
}

export class ServerProcess {
  /**
   * @param {{port?: number, dataDir?: string}} [opts]
   */
  constructor(opts = {}) {
    this.port = opts.port
    this.dataDir = opts.dataDir
    this.ownsDataDir = !opts.dataDir
    this.proc = undefined
    this.exit = undefined // Promise<{code, signal}> of the current process
    this.logLines = []
    this.starts = 0
  }

  get addr() {
    return `127.0.0.1:${this.port}`
  }
  get httpUrl() {
    return `http://${this.addr}`
  }
  get syncUrl() {
    return `ws://${this.addr}/sync`
  }

  /** Recent server log lines (stderr and stdout), for failure messages. */
  logs(n = 60) {
    return this.logLines.slice(-n).join("\n")
  }

  get running() {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null
  }

  async start() {
    if (this.running) throw new Error("server already running")
    if (!this.port) this.port = await freePort()
    if (!this.dataDir) this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "casual-interop-"))
    const [file, ...pre] = serverCommand()
    const args = [...pre, "serve", "--addr", this.addr, "--data-dir", this.dataDir]
    this.starts++
    const tag = `[server#${this.starts}]`
    const proc = spawn(file, args, {
      cwd: serverCwd(),
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CASUAL_ADDR: this.addr, CASUAL_DATA_DIR: this.dataDir },
    })
    this.proc = proc
    this.exit = new Promise(resolve => {
      proc.on("exit", (code, signal) => resolve({ code, signal }))
      proc.on("error", err => {
        this.logLines.push(`${tag} spawn error: ${err.message}`)
        resolve({ code: -1, signal: null, error: err })
      })
    })
    const collect = stream => {
      let buf = ""
      stream.setEncoding("utf8")
      stream.on("data", chunk => {
        buf += chunk
        let i
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i)
          buf = buf.slice(i + 1)
          this.logLines.push(`${tag} ${line}`)
          if (this.logLines.length > 2000) this.logLines.splice(0, 1000)
          if (process.env.INTEROP_VERBOSE) process.stderr.write(`${tag} ${line}\n`)
        }
      })
    }
    collect(proc.stdout)
    collect(proc.stderr)
    await this.waitReady()
    return this
  }

  /** Polls GET /readyz until 200; fails early if the process exits. */
  async waitReady(timeoutMs = READY_TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs
    let exited = null
    this.exit.then(e => (exited = e))
    let lastErr = ""
    while (Date.now() < deadline) {
      if (exited) {
        throw new Error(
          `server exited before ready (code=${exited.code} signal=${exited.signal})\n${this.logs()}`
        )
      }
      if (await this.healthy()) return
      lastErr = this._lastHealthErr
      await sleep(50)
    }
    throw new Error(`server not ready within ${timeoutMs} ms (${lastErr})\n${this.logs()}`)
  }

  /** One GET /readyz; true iff it answered 200. */
  async healthy(timeoutMs = 2000) {
    try {
      const res = await fetch(`${this.httpUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) })
      await res.arrayBuffer()
      this._lastHealthErr = `status ${res.status}`
      return res.status === 200
    } catch (err) {
      this._lastHealthErr = String(err.cause?.code || err.message)
      return false
    }
  }

  async #signalAndWait(signal, timeoutMs) {
    if (!this.proc) return
    const proc = this.proc
    if (this.running) proc.kill(signal)
    const timer = new Promise(r => setTimeout(() => r("timeout"), timeoutMs).unref())
    const res = await Promise.race([this.exit, timer])
    if (res === "timeout") {
      proc.kill("SIGKILL")
      await this.exit
      throw new Error(`server did not exit within ${timeoutMs} ms of ${signal}\n${this.logs()}`)
    }
    this.proc = undefined
    return res
  }

  /** Graceful stop: SIGTERM, wait for exit. Returns {code, signal}. */
  stop(timeoutMs = STOP_TIMEOUT_MS) {
    return this.#signalAndWait("SIGTERM", timeoutMs)
  }

  /** Crash: SIGKILL, wait for exit. */
  kill9() {
    return this.#signalAndWait("SIGKILL", 5000)
  }

  /** Stop if running and remove the temp data dir (if we made it). */
  async dispose() {
    try {
      if (this.running) await this.stop()
    } catch {
      if (this.running) await this.kill9().catch(() => {})
    }
    if (this.ownsDataDir && this.dataDir) {
      fs.rmSync(this.dataDir, { recursive: true, force: true })
    }
  }
}

/** Starts a fresh server (free port, temp data dir). */
export async function startServer(opts) {
  const s = new ServerProcess(opts)
  try {
    await s.start()
  } catch (err) {
    await s.dispose().catch(() => {})
    throw err
  }
  return s
}

export const sleep = ms => new Promise(r => setTimeout(r, ms))
