// (c) Ephemeral relay: raw handle.broadcast()/"ephemeral-message" and the
//     Presence API. A message from A reaches B and C with A's peerId as
//     senderId, and is never echoed back to A.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { Presence } from "@automerge/automerge-repo"
import { startServer } from "./server.mjs"
import { Clients, connected, serverHasHeads, waitFor, within } from "./client.mjs"

let server
let clients

before(async () => {
  server = await startServer()
  clients = new Clients(server.syncUrl)
})

after(async () => {
  clients?.closeAll()
  await server?.dispose()
})

function recorder(handle) {
  const got = []
  handle.on("ephemeral-message", ({ senderId, message }) => got.push({ senderId, message }))
  return got
}

test("ephemeral messages and Presence are relayed to the doc's other peers", { timeout: 120_000 }, async t => {
  const repoA = clients.repo()
  const repoB = clients.repo()
  const repoC = clients.repo()
  await Promise.all([connected(repoA), connected(repoB), connected(repoC)])

  const hA = repoA.create({ title: "presence" })
  await serverHasHeads(repoA, hA)
  const hB = await within(repoB.find(hA.url), 15_000, "B find")
  const hC = await within(repoC.find(hA.url), 15_000, "C find")

  const gotA = recorder(hA)
  const gotB = recorder(hB)
  const gotC = recorder(hC)

  await t.test("raw broadcast A -> B, C", async () => {
    hA.broadcast({ cursor: 5, user: "alice", bytes: new Uint8Array([1, 2, 3]) })
    const match = m => m.senderId === repoA.peerId && m.message?.user === "alice"
    await waitFor(() => gotB.some(match) && gotC.some(match), { what: "B and C to receive A's broadcast" })
    const m = gotB.find(match)
    assert.equal(m.message.cursor, 5)
    assert.deepEqual(Uint8Array.from(m.message.bytes), new Uint8Array([1, 2, 3]))

    // Several messages in a row all arrive, in order (count strictly increases).
    for (let i = 0; i < 10; i++) hA.broadcast({ seq: i })
    const seqs = got => got.filter(m => m.senderId === repoA.peerId && "seq" in m.message).map(m => m.message.seq)
    await waitFor(() => seqs(gotB).length === 10 && seqs(gotC).length === 10, {
      what: "10 sequenced messages at B and C",
    })
    assert.deepEqual(seqs(gotB), [...Array(10).keys()])
    assert.deepEqual(seqs(gotC), [...Array(10).keys()])

    // B -> A and C as well.
    hB.broadcast({ from: "bob" })
    const fromBob = m => m.senderId === repoB.peerId && m.message?.from === "bob"
    await waitFor(() => gotA.some(fromBob) && gotC.some(fromBob), { what: "A and C to receive B's broadcast" })
  })

  await t.test("Presence API snapshot, update and goodbye", async () => {
    const pA = clients.track(new Presence({ handle: hA }))
    const pB = clients.track(new Presence({ handle: hB }))
    const pC = clients.track(new Presence({ handle: hC }))
    const updatesB = []
    pB.on("update", e => updatesB.push(e))
    const goodbyesC = []
    pC.on("goodbye", e => goodbyesC.push(e))

    pA.start({ initialState: { name: "alice", cursor: 0 }, heartbeatMs: 1000 })
    pB.start({ initialState: { name: "bob", cursor: 0 }, heartbeatMs: 1000 })
    pC.start({ initialState: { name: "carol", cursor: 0 }, heartbeatMs: 1000 })

    const stateOf = (p, peerId) => p.getPeerStates().value[peerId]?.value
    await waitFor(
      () =>
        stateOf(pB, repoA.peerId)?.name === "alice" &&
        stateOf(pC, repoA.peerId)?.name === "alice" &&
        stateOf(pA, repoB.peerId)?.name === "bob" &&
        stateOf(pA, repoC.peerId)?.name === "carol",
      { what: "everyone to see everyone's presence snapshot" }
    )

    pA.broadcast("cursor", 7)
    await waitFor(() => stateOf(pB, repoA.peerId)?.cursor === 7 && stateOf(pC, repoA.peerId)?.cursor === 7, {
      what: "A's cursor update at B and C",
    })
    const upd = updatesB.find(e => e.peerId === repoA.peerId && e.channel === "cursor" && e.value === 7)
    assert.ok(upd, "B got an update event from A's peerId")

    pA.stop()
    await waitFor(() => goodbyesC.some(e => e.peerId === repoA.peerId) && !stateOf(pC, repoA.peerId), {
      what: "C to see A's goodbye",
    })
    pB.stop()
    pC.stop()
  })

  // The server must not echo a peer's own messages back to it.
  assert.equal(
    gotA.filter(m => m.senderId === repoA.peerId).length,
    0,
    "A never receives its own ephemeral messages"
  )
  // Every relayed message names a client as sender, never the server.
  for (const m of [...gotA, ...gotB, ...gotC]) {
    assert.ok([repoA.peerId, repoB.peerId, repoC.peerId].includes(m.senderId), `senderId ${m.senderId}`)
  }
  assert.ok(await server.healthy())
})
