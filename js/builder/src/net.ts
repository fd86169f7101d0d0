// Connecting a page to the server: Automerge's wasm, then a Repo with one
// WebSocket to /sync and no local storage (the server is the store).
import { Repo, initializeWasm } from "@automerge/automerge-repo/slim"
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
}

let wasmReady: Promise<void> | undefined

/** loadWasm fetches and instantiates automerge.wasm once per page. */
export function loadWasm(url: string): Promise<void> {
  wasmReady ??= initializeWasm(new URL(url, location.href).toString())
  return wasmReady
}

/** connect opens the page's Repo; token (embeds) rides in the URL query. */
export async function connect(cfg: PageConfig, token?: string): Promise<Connection> {
  await loadWasm(cfg.wasm)
  const url = new URL(cfg.sync || "/sync", location.href)
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:"
  if (token) url.searchParams.set("token", token)
  const adapter = new WebSocketClientAdapter(url.toString(), 2000)
  const repo = new Repo({ network: [adapter] })
  const listeners: ((s: ConnState) => void)[] = []
  const conn: Connection = {
    repo,
    state: "connecting",
    onState(f) {
      listeners.push(f)
      f(conn.state)
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
