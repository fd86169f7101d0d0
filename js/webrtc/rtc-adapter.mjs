// WebRTCServerAdapter: an automerge-repo NetworkAdapter that reaches the
// Casual server over a WebRTC peer connection instead of a WebSocket.
//
//   const repo = new Repo({ network: [new WebRTCServerAdapter("https://casual.example", { token })] })
//
// It asks GET /rtc/config for ICE servers, opens two data channels —
// "automerge" (reliable, ordered: the automerge-repo protocol frames) and
// "presence" (ordered:false, maxRetransmits:0: ephemeral messages, loss
// tolerated) — gathers every candidate, POSTs the offer to /rtc/offer and
// applies the answer. Frames larger than the channel's message limit
// travel as fragments: a message starting with 0x00 is "more follows",
// 0x01 "last" (a protocol frame, being a CBOR map, starts with 0xa0-0xbf).
// See signaling/README.md.
//
// Works in browsers (and in any runtime with RTCPeerConnection and fetch).
// There is no automatic reconnect: on "peer-disconnected", make a new
// adapter.
import { NetworkAdapter, cbor } from "@automerge/automerge-repo/slim"

const FRAG_MORE = 0x00
const FRAG_LAST = 0x01
const MAX_CHUNK = 64 * 1024
const DEFAULT_REMOTE_MAX = 65535
const PRESENCE_HIGH_WATER = 64 * 1024
// Flow control of the reliable channel: browsers close a channel whose
// send buffer overflows, so past HIGH_WATER frames wait here.
const HIGH_WATER = 1024 * 1024
const LOW_WATER = 256 * 1024
const GATHER_TIMEOUT_MS = 5000
const READY_TIMEOUT_MS = 10_000

export class WebRTCServerAdapter extends NetworkAdapter {
  #ready = false
  #resolveReady
  #readyPromise = new Promise(r => (this.#resolveReady = r))
  #parts = []
  #partsLen = 0
  #closed = false
  #backlog = []

  /**
   * @param {string} baseUrl  the server, e.g. location.origin
   * @param {{token?: string, presence?: boolean, maxFrameBytes?: number, onError?: (e: Error) => void}} [opts]
   */
  constructor(baseUrl, opts = {}) {
    super()
    this.baseUrl = baseUrl.replace(/\/$/, "").replace(/^ws/, "http")
    this.token = opts.token
    this.presence = opts.presence ?? true
    this.maxFrameBytes = opts.maxFrameBytes ?? 64 * 1024 * 1024
    this.onError = opts.onError ?? (e => console.warn("webrtc adapter:", e))
    this.remotePeerId = undefined
    this.pc = undefined
    this.reliable = undefined
    this.presenceChannel = undefined
  }

  isReady() {
    return this.#ready
  }

  whenReady() {
    return this.#readyPromise
  }

  #forceReady() {
    if (!this.#ready) {
      this.#ready = true
      this.#resolveReady()
    }
  }

  connect(peerId, peerMetadata) {
    this.peerId = peerId
    this.peerMetadata = peerMetadata ?? {}
    // A peer connection takes longer than a WebSocket to come up; the
    // Repo's find() waits for readiness before asking, so wait for the
    // server's peer message (or give up) rather than WebSocket's 1 s.
    setTimeout(() => this.#forceReady(), READY_TIMEOUT_MS)
    this.#open().catch(err => {
      this.onError(err)
      this.#forceReady()
      this.#teardown()
    })
  }

  async #open() {
    const cfg = await this.#json(await fetch(`${this.baseUrl}/rtc/config`))
    const pc = new RTCPeerConnection({ iceServers: cfg.iceServers ?? [] })
    this.pc = pc
    const rel = pc.createDataChannel("automerge")
    this.reliable = rel
    rel.binaryType = "arraybuffer"
    rel.onmessage = e => this.#onReliable(e.data)
    rel.onopen = () =>
      this.#sendFrame(
        cbor.encode({
          type: "join",
          senderId: this.peerId,
          peerMetadata: this.peerMetadata,
          supportedProtocolVersions: ["1"],
        })
      )
    rel.onclose = () => this.#teardown()
    rel.bufferedAmountLowThreshold = LOW_WATER
    rel.onbufferedamountlow = () => {
      while (this.#backlog.length && rel.readyState === "open" && rel.bufferedAmount <= HIGH_WATER) {
        rel.send(this.#backlog.shift())
      }
    }
    if (this.presence) {
      const pres = pc.createDataChannel("presence", { ordered: false, maxRetransmits: 0 })
      pres.binaryType = "arraybuffer"
      pres.onmessage = e => typeof e.data !== "string" && this.#onFrame(new Uint8Array(e.data))
      this.presenceChannel = pres
    }
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "failed" || pc.connectionState === "closed") this.#teardown()
    }
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)
    const res = await fetch(`${this.baseUrl}/rtc/offer`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "offer", sdp: pc.localDescription.sdp, token: this.token }),
    })
    const answer = await this.#json(res)
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp })
  }

  async #json(res) {
    const body = await res.json().catch(() => ({}))
    if (!res.ok) {
      const e = body.error ?? {}
      throw new Error(`${res.url}: ${res.status} ${e.code ?? ""} ${e.message ?? ""}`.trim())
    }
    return body
  }

  #onReliable(data) {
    if (typeof data === "string") return // the protocol is binary
    const b = new Uint8Array(data)
    if (b.length === 0 || (b[0] !== FRAG_MORE && b[0] !== FRAG_LAST)) {
      this.#parts = []
      this.#partsLen = 0
      this.#onFrame(b)
      return
    }
    this.#partsLen += b.length - 1
    if (this.#partsLen > this.maxFrameBytes) {
      this.onError(new Error(`frame over ${this.maxFrameBytes} bytes`))
      this.disconnect()
      return
    }
    this.#parts.push(b.subarray(1))
    if (b[0] === FRAG_LAST) {
      const frame = new Uint8Array(this.#partsLen)
      let off = 0
      for (const p of this.#parts) {
        frame.set(p, off)
        off += p.length
      }
      this.#parts = []
      this.#partsLen = 0
      this.#onFrame(frame)
    }
  }

  #onFrame(bytes) {
    let msg
    try {
      msg = cbor.decode(bytes)
    } catch (err) {
      this.onError(err)
      return
    }
    if (msg.type === "peer") {
      this.remotePeerId = msg.senderId
      this.#forceReady()
      this.emit("peer-candidate", { peerId: msg.senderId, peerMetadata: msg.peerMetadata ?? {} })
    } else if (msg.type === "error") {
      this.onError(new Error(`server error ${msg.code ?? ""}: ${msg.message}`))
    } else {
      this.emit("message", msg)
    }
  }

  send(message) {
    if ("data" in message && message.data?.byteLength === 0) throw new Error("Tried to send a zero-length message")
    if (this.#closed || this.reliable?.readyState !== "open") return // like a closed socket: dropped
    this.#sendFrame(cbor.encode(message), message.type === "ephemeral")
  }

  #limit() {
    return Math.min(this.pc?.sctp?.maxMessageSize || DEFAULT_REMOTE_MAX, MAX_CHUNK)
  }

  #sendFrame(frame, ephemeral = false) {
    const limit = this.#limit()
    const pres = this.presenceChannel
    if (ephemeral && pres?.readyState === "open" && frame.length <= limit) {
      // Latest wins: when the channel is congested, skip this update.
      if (pres.bufferedAmount <= PRESENCE_HIGH_WATER) pres.send(frame)
      return
    }
    if (frame.length <= limit) {
      this.#pushReliable(frame)
      return
    }
    for (let off = 0; off < frame.length; off += limit - 1) {
      const end = Math.min(off + limit - 1, frame.length)
      const piece = new Uint8Array(end - off + 1)
      piece[0] = end === frame.length ? FRAG_LAST : FRAG_MORE
      piece.set(frame.subarray(off, end), 1)
      this.#pushReliable(piece)
    }
  }

  #pushReliable(b) {
    if (this.#backlog.length || this.reliable.bufferedAmount > HIGH_WATER) this.#backlog.push(b)
    else this.reliable.send(b)
  }

  #teardown() {
    if (this.#closed) return
    this.#closed = true
    this.#backlog = []
    try {
      this.pc?.close()
    } catch {}
    if (this.remotePeerId) this.emit("peer-disconnected", { peerId: this.remotePeerId })
  }

  disconnect() {
    this.#teardown()
  }
}

/** Resolves when the peer connection has gathered its candidates (or after 5 s: send what there is). */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve()
  return new Promise(resolve => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return
      pc.removeEventListener("icegatheringstatechange", done)
      clearTimeout(t)
      resolve()
    }
    const t = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done)
      resolve()
    }, GATHER_TIMEOUT_MS)
    pc.addEventListener("icegatheringstatechange", done)
  })
}
