// (f) Crash safety: once the server has acknowledged a client's heads
//     (handle.getSyncInfo(serverStorageId) == handle.heads()), kill -9 of the
//     server loses none of those changes.
//
// The server's storageId comes from its `peer` message (peerMetadata.storageId,
// kept by the client in repo.peerMetadataByPeerId[serverPeerId]); the client
// records the server's heads per storageId from the server's sync replies.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { startServer, isReferenceServer, sleep } from "./server.mjs"
import { Clients, connected, converged, plain, serverHasHeads, serverStorageId, within } from "./client.mjs"

// The Node reference server acknowledges before its (100 ms throttled) save
// completes, so it is not crash safe; give it time to save. Casual must need 0.
const GRACE_MS = Number(process.env.INTEROP_KILL_GRACE_MS ?? (isReferenceServer() ? 1000 : 0))

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

test("acknowledged changes survive kill -9", { timeout: 120_000 }, async () => {
  const N = 200
  const repoA = clients.repo()
  await connected(repoA)
  assert.ok(serverStorageId(repoA), "server announced a storageId")

  const hA = repoA.create({ items: [], counters: {} })
  const hOther = repoA.create({ other: true })
  for (let i = 0; i < N; i++) {
    hA.change(d => {
      d.items.push(i)
      d.counters[`c${i % 17}`] = i
    })
    if (i % 20 === 19) await new Promise(r => setImmediate(r))
  }
  hOther.change(d => {
    d.more = "x"
  })
  await serverHasHeads(repoA, hA)
  await serverHasHeads(repoA, hOther)
  if (GRACE_MS) await sleep(GRACE_MS)
  const expected = plain(hA)
  const expectedOther = plain(hOther)

  await server.kill9()
  await server.start()

  const repoB = clients.repo()
  await connected(repoB)
  const hB = await within(repoB.find(hA.url), 20_000, "B find after crash")
  assert.deepEqual(hB.doc().items, [...Array(N).keys()], `all ${N} changes present`)
  assert.deepEqual(plain(hB), expected)
  const hBo = await within(repoB.find(hOther.url), 20_000, "B find second doc after crash")
  assert.deepEqual(plain(hBo), expectedOther)

  // The original client reconnects by itself and keeps syncing.
  await connected(repoA, { timeoutMs: 30_000 })
  hA.change(d => {
    d.items.push(N)
  })
  await converged([hA, hB])
  assert.equal(hB.doc().items.length, N + 1)
})

test("crash between changes: every acknowledged state survives repeated kill -9", { timeout: 120_000 }, async () => {
  const repoA = clients.repo()
  await connected(repoA)
  const hA = repoA.create({ log: [] })
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) {
      hA.change(d => {
        d.log.push(`${round}:${i}`)
      })
    }
    await serverHasHeads(repoA, hA)
    if (GRACE_MS) await sleep(GRACE_MS)
    const expected = plain(hA)
    await server.kill9()
    await server.start()
    const repoX = clients.repo()
    await connected(repoX)
    const hX = await within(repoX.find(hA.url), 20_000, `find after crash ${round}`)
    assert.deepEqual(plain(hX), expected, `state after crash ${round}`)
    await connected(repoA, { timeoutMs: 30_000 })
  }
})
