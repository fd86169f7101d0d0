// Connecting a page to the server: Automerge's wasm, then a Repo with one
// WebSocket to /sync and no local storage (the server is the store).
import { Repo, cbor, initializeWasm } from "@automerge/automerge-repo/slim"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

export interface PageConfig {
  app: string
  sync: string
  wasm: string
  [k: string]: unknown
}

/** readConfig returns the JSON the server put in #casual-config. */
export function readConfig<T extends PageConfig>(): T {
  const el = document.getElementById("casual-config")
  return JSON.parse(el?.textContent || "{}") as T
}

export type ConnState = "connecting" | "connected" | "offline"

export interface Connection {
  repo: Repo
  state: ConnState
  onState(f: (s: ConnState) => void): void
  /** setToken changes the token of the next (re)connection. */
  setToken(token: string): void
  /** onError hears the server's error messages (which automerge-repo ignores). */
  onError(f: (e: ServerError) => void): void
}

/** ServerError is an error message of the server: code, message, document. */
export interface ServerError {
  code: string
  message: string
  documentId?: string
}

// The bytes of CBOR text "error": a frame without them is no error
// message, and is not decoded a second time.
const ERROR_TEXT = [0x65, 0x65, 0x72, 0x72, 0x6f, 0x72]

function mayBeError(b: Uint8Array): boolean {
  const n = Math.min(b.length, 96) - ERROR_TEXT.length
  outer: for (let i = 0; i <= n; i++) {
    for (let j = 0; j < ERROR_TEXT.length; j++) if (b[i + j] !== ERROR_TEXT[j]) continue outer
    return true
  }
  return false
}

/** syncURL is the page's /sync address, with token in the query. */
export function syncURL(cfg: PageConfig, token?: string): string {
  const url = new URL(cfg.sync || "/sync", location.href)
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  if (token) url.searchParams.set("token", token)
  return url.toString()
}

let wasmReady: Promise<void> | undefined

/** loadWasm fetches and instantiates automerge.wasm once per page. */
export function loadWasm(url: string): Promise<void> {
  wasmReady ??= initializeWasm(new URL(url, location.href).toString())
  return wasmReady
}

/**
 * connect opens the page's Repo; token (an embed's, or a signed-in user's
 * access token) rides in the URL query: the automerge-repo client can
 * pass nothing else.
 */
export async function connect(cfg: PageConfig, token?: string): Promise<Connection> {
  await loadWasm(cfg.wasm)
  const adapter = new WebSocketClientAdapter(syncURL(cfg, token), 2000)
  const repo = new Repo({ network: [adapter] })
  const listeners: ((s: ConnState) => void)[] = []
  const errListeners: ((e: ServerError) => void)[] = []
  const receive = adapter.receiveMessage.bind(adapter)
  adapter.receiveMessage = (bytes: Uint8Array) => {
    receive(bytes)
    const b = new Uint8Array(bytes)
    if (!errListeners.length || !mayBeError(b)) return
    try {
      const m = cbor.decode(b) as { type?: string; code?: string; message?: string; documentId?: string }
      if (m?.type !== "error") return
      const e = { code: String(m.code ?? ""), message: String(m.message ?? ""), documentId: m.documentId }
      for (const f of errListeners) f(e)
    } catch {
      // not ours to judge: the adapter already handled the frame
    }
  }
  const conn: Connection = {
    repo,
    state: "connecting",
    onState(f) {
      listeners.push(f)
      f(conn.state)
    },
    onError(f) {
      errListeners.push(f)
    },
    setToken(t) {
      // The adapter reads its url on every reconnect.
      ;(adapter as unknown as { url: string }).url = syncURL(cfg, t)
    },
  }
  const set = (s: ConnState) => {
    if (conn.state === s) return
    conn.state = s
    for (const f of listeners) f(s)
  }
  adapter.on("peer-candidate", () => set("connected"))
  adapter.on("peer-disconnected", () => set(navigator.onLine ? "connecting" : "offline"))
  addEventListener("offline", () => set("offline"))
  addEventListener("online", () => conn.state === "offline" && set("connecting"))
  return conn
}
