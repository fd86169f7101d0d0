// Who else is in the room: display names, colours, cursors and selections,
// shared with automerge-repo's Presence (ephemeral messages the server
// relays, never stored).
import { Presence, type DocHandle } from "@automerge/automerge-repo/slim"

export interface PeerInfo {
  name: string
  color: string
  kind: "human" | "ai" | "embed"
  page: string | null
  cursor: { x: number; y: number } | null // in the artboard's coordinates
  selection: string | null
  // AI participants: the run, its status and the component being worked on.
  runId?: string
  status?: string
  target?: string | null
}

export interface Peer extends PeerInfo {
  peerId: string
}

const ADJECTIVES = ["Amber", "Brave", "Calm", "Daring", "Eager", "Fuzzy", "Gentle", "Happy", "Jolly", "Keen",
  "Lucky", "Mellow", "Nimble", "Plucky", "Quick", "Rosy", "Sunny", "Swift", "Witty", "Zesty"]
const ANIMALS = ["Otter", "Panda", "Fox", "Heron", "Koala", "Lynx", "Marten", "Narwhal", "Owl", "Puffin",
  "Quokka", "Raven", "Seal", "Tapir", "Urchin", "Vole", "Walrus", "Yak", "Zebra", "Badger"]
export const COLORS = ["#e11d48", "#7c3aed", "#0891b2", "#16a34a", "#ea580c", "#db2777", "#2563eb", "#ca8a04", "#0d9488", "#9333ea"]

function pick<T>(xs: T[]): T {
  const b = new Uint32Array(1)
  crypto.getRandomValues(b)
  return xs[b[0] % xs.length]
}

/** visitorName returns this browser's display name, generated on first visit. */
export function visitorName(): string {
  let n = localStorage.getItem("casual.name")
  if (!n) {
    n = `${pick(ADJECTIVES)} ${pick(ANIMALS)}`
    localStorage.setItem("casual.name", n)
  }
  return n
}

export function setVisitorName(n: string): void {
  localStorage.setItem("casual.name", n)
}

export function visitorColor(): string {
  let c = localStorage.getItem("casual.color")
  if (!c) {
    c = pick(COLORS)
    localStorage.setItem("casual.color", c)
  }
  return c
}

/** Room wraps Presence for one document. */
export class Room {
  private presence: Presence<PeerInfo>
  private lastCursor = 0
  private pendingCursor: ReturnType<typeof setTimeout> | undefined
  onChange: () => void = () => {}

  constructor(handle: DocHandle<unknown>, initial: PeerInfo) {
    this.presence = new Presence<PeerInfo>({ handle })
    for (const ev of ["update", "snapshot", "goodbye", "pruning"] as const) {
      this.presence.on(ev, () => this.onChange())
    }
    this.presence.start({ initialState: initial, heartbeatMs: 5000, peerTtlMs: 20000 })
    addEventListener("pagehide", () => this.presence.stop())
  }

  get local(): PeerInfo {
    return this.presence.getLocalState()
  }

  set<K extends keyof PeerInfo>(k: K, v: PeerInfo[K]): void {
    this.presence.broadcast(k, v)
  }

  /** setCursor broadcasts the pointer at most every 40 ms, keeping the last. */
  setCursor(c: PeerInfo["cursor"]): void {
    const now = performance.now()
    clearTimeout(this.pendingCursor)
    if (now - this.lastCursor >= 40) {
      this.lastCursor = now
      this.set("cursor", c)
    } else {
      this.pendingCursor = setTimeout(() => this.setCursor(c), 40 - (now - this.lastCursor))
    }
  }

  peers(): Peer[] {
    const out: Peer[] = []
    for (const [peerId, st] of Object.entries(this.presence.getPeerStates().value)) {
      const v = st.value as Partial<PeerInfo> | undefined
      if (!v || typeof v.name !== "string") continue
      if (v.kind === "ai") {
        // The AI's cursor is the id of the component it is working on.
        const c = v.cursor as unknown
        out.push({
          peerId, name: v.name.slice(0, 60), color: typeof v.color === "string" ? v.color : "#9333ea",
          kind: "ai", page: null, cursor: null, selection: null,
          runId: typeof v.runId === "string" ? v.runId : undefined, status: typeof v.status === "string" ? v.status : undefined,
          target: typeof c === "string" ? c : null,
        })
        continue
      }
      const cur = v.cursor && typeof v.cursor === "object" && typeof v.cursor.x === "number" ? v.cursor : null
      out.push({
        peerId, name: v.name.slice(0, 60), color: typeof v.color === "string" ? v.color : "#64748b",
        kind: v.kind ?? "human", page: v.page ?? null, cursor: cur, selection: v.selection ?? null,
      })
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  stop(): void {
    this.presence.stop()
  }
}
