// Browser bundle for the WebRTC tests: an automerge-repo Repo that reaches
// the server over WebRTC, and a minimal mesh peer that opens direct data
// channels to the other peers of a room through the signaling relay.
import { Repo } from "@automerge/automerge-repo"
import { WebRTCServerAdapter } from "./rtc-adapter.mjs"

/**
 * Joins the relay for doc as peerId. The newcomer offers to everyone
 * already there; candidates trickle through the relay. Every data channel
 * is labelled "chat".
 */
export function joinMesh(baseUrl, doc, peerId, { token, iceServers = [] } = {}) {
  const q = new URLSearchParams({ doc, peer: peerId })
  if (token) q.set("token", token)
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/signal?${q}`)
  const mesh = { self: undefined, peers: [], received: [], errors: [], channels: new Map(), conns: new Map() }
  const send = m => ws.send(JSON.stringify(m))
  let chain = Promise.resolve() // handle relay messages one at a time, in order

  const connFor = remote => {
    let c = mesh.conns.get(remote)
    if (c) return c
    const pc = new RTCPeerConnection({ iceServers })
    c = { pc, pending: [] }
    mesh.conns.set(remote, c)
    pc.onicecandidate = e => send({ type: "candidate", to: remote, candidate: e.candidate ? e.candidate.toJSON() : { candidate: "" } })
    pc.ondatachannel = e => channel(remote, e.channel)
    return c
  }
  const channel = (remote, dc) => {
    dc.onopen = () => mesh.channels.set(remote, dc)
    dc.onmessage = e => mesh.received.push({ from: remote, data: e.data })
  }
  const described = async c => {
    for (const cand of c.pending.splice(0)) await c.pc.addIceCandidate(cand)
  }
  const call = async remote => {
    const c = connFor(remote)
    channel(remote, c.pc.createDataChannel("chat"))
    await c.pc.setLocalDescription(await c.pc.createOffer())
    send({ type: "offer", to: remote, sdp: c.pc.localDescription.sdp })
  }
  const handle = async m => {
    switch (m.type) {
      case "peers":
        mesh.self = m.self
        mesh.peers = [...m.peers]
        for (const p of m.peers) await call(p)
        break
      case "peer-joined":
        mesh.peers.push(m.peerId)
        break
      case "peer-left":
        mesh.peers = mesh.peers.filter(p => p !== m.peerId)
        mesh.conns.get(m.peerId)?.pc.close()
        mesh.conns.delete(m.peerId)
        mesh.channels.delete(m.peerId)
        break
      case "offer": {
        const c = connFor(m.from)
        await c.pc.setRemoteDescription({ type: "offer", sdp: m.sdp })
        await described(c)
        await c.pc.setLocalDescription(await c.pc.createAnswer())
        send({ type: "answer", to: m.from, sdp: c.pc.localDescription.sdp })
        break
      }
      case "answer": {
        const c = connFor(m.from)
        await c.pc.setRemoteDescription({ type: "answer", sdp: m.sdp })
        await described(c)
        break
      }
      case "candidate": {
        if (!m.candidate?.candidate) break // end of candidates
        const c = connFor(m.from)
        if (c.pc.remoteDescription) await c.pc.addIceCandidate(m.candidate)
        else c.pending.push(m.candidate)
        break
      }
      case "error":
        mesh.errors.push(m)
        break
    }
  }
  ws.onmessage = e => {
    const m = JSON.parse(e.data)
    chain = chain.then(() => handle(m)).catch(err => mesh.errors.push({ code: "client", message: String(err) }))
  }
  mesh.send = (remote, text) => mesh.channels.get(remote).send(text)
  mesh.sendRaw = text => ws.send(text)
  mesh.close = () => {
    ws.close()
    for (const c of mesh.conns.values()) c.pc.close()
  }
  mesh.ready = new Promise((resolve, reject) => {
    ws.onopen = resolve
    ws.onerror = () => reject(new Error("relay connection failed"))
  })
  return mesh
}

globalThis.casualTest = { Repo, WebRTCServerAdapter, joinMesh }
