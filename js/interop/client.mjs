// Helpers for driving unmodified automerge-repo 2.5.x clients in the interop tests.
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

export const DEFAULT_TIMEOUT_MS = 20_000

/**
 * Polls fn() until it returns a truthy value (returned) or timeoutMs passes
 * (throws, with `what` and the last error fn() threw, if any).
 */
export async function waitFor(fn, { timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 25, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs
  let lastErr
  for (;;) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) {
      const e = new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${lastErr.message}` : ""}`)
      if (lastErr) e.cause = lastErr
      throw e
    }
    await new Promise(r => setTimeout(r, intervalMs))
  }
}

/** Rejects after ms, for Promise.race. */
export function timeout(ms, what) {
  let t
  const p = new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`timed out after ${ms} ms: ${what}`)), ms)
  })
  p.cancel = () => clearTimeout(t)
  return p
}

export async function within(promise, ms, what) {
  const t = timeout(ms, what)
  try {
    return await Promise.race([promise, t])
  } finally {
    t.cancel()
  }
}

/**
 * A client pool: creates storage-less (or storage) repos connected to url and
 * tears all of them down (without leaving reconnect timers behind).
 */
export class Clients {
  constructor(url) {
    this.url = url
    this.repos = []
    this.presences = []
  }

  /** New Repo with a WebSocketClientAdapter (retry every retryMs). */
  repo({ retryMs = 500, storage, peerId, connect = true } = {}) {
    const network = connect ? [new WebSocketClientAdapter(this.url, retryMs)] : []
    const repo = new Repo({ network, storage, peerId })
    this.repos.push(repo)
    return repo
  }

  /** Attach a WebSocket adapter to a repo created with connect:false. */
  connect(repo, retryMs = 500) {
    repo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(this.url, retryMs))
  }

  track(presence) {
    this.presences.push(presence)
    return presence
  }

  closeAll() {
    for (const p of this.presences) {
      try {
        p.stop()
      } catch {}
    }
    for (const repo of this.repos) closeRepo(repo)
    this.repos = []
  }
}

/**
 * Disconnects a repo for good. WebSocketClientAdapter.disconnect() does not
 * cancel a reconnect already scheduled by onClose (automerge-repo #324), so
 * neutralise connect() first. disconnect() also removes the socket's error
 * listener before closing it; closing a socket that is still connecting (a
 * reconnect after the server was killed) then makes ws emit an error nobody
 * listens to ("closed before the connection was established"), an uncaught
 * exception after the test. So the socket keeps a listener that ignores it.
 */
export function closeRepo(repo) {
  for (const adapter of [...repo.networkSubsystem.adapters]) {
    adapter.connect = () => {}
    adapter.socket?.addEventListener?.("error", () => {})
    try {
      adapter.disconnect()
    } catch {}
  }
}

/** The server's peerId as seen by a repo with one adapter (undefined if not connected). */
export function serverPeerId(repo) {
  return repo.peers[0]
}

/** Waits until the repo has completed the join/peer handshake with the server. */
export function connected(repo, opts = {}) {
  return waitFor(() => repo.peers.length > 0 && repo.peers[0], { what: `${repo.peerId} connected`, ...opts })
}

/** Waits until the repo has lost its server peer. */
export function disconnected(repo, opts = {}) {
  return waitFor(() => repo.peers.length === 0, { what: `${repo.peerId} disconnected`, ...opts })
}

/** storageId the server announced in its `peer` message (peerMetadata.storageId). */
export function serverStorageId(repo) {
  const pid = serverPeerId(repo)
  return pid ? repo.peerMetadataByPeerId[pid]?.storageId : undefined
}

const sameHeads = (a, b) =>
  Array.isArray(a) && Array.isArray(b) && a.length === b.length && [...a].sort().join() === [...b].sort().join()

/**
 * Waits until the server has acknowledged the handle's current heads, i.e.
 * handle.getSyncInfo(serverStorageId).lastHeads equals handle.heads(). The
 * repo records this from the heads in the server's sync replies.
 */
export function serverHasHeads(repo, handle, opts = {}) {
  return waitFor(
    () => {
      const sid = serverStorageId(repo)
      if (!sid) return false
      return sameHeads(handle.getSyncInfo(sid)?.lastHeads, handle.heads())
    },
    { what: `server to acknowledge heads of ${handle.documentId} from ${repo.peerId}`, ...opts }
  )
}

export function headsEqual(h1, h2) {
  return sameHeads(h1.heads(), h2.heads())
}

/** Waits until every handle is ready and all have identical heads. */
export function converged(handles, opts = {}) {
  return waitFor(
    () => handles.every(h => h.isReady()) && handles.every(h => headsEqual(h, handles[0])),
    { what: `convergence of ${handles.length} replicas of ${handles[0].documentId}`, ...opts }
  )
}

/** JSON-comparable snapshot of a handle's doc. */
export const plain = h => JSON.parse(JSON.stringify(h.doc()))

/** Valid automerge URL of a random document nobody has. */
export { generateAutomergeUrl } from "@automerge/automerge-repo"
