// (d) A request for a doc the server lacks is answered doc-unavailable (find
//     rejects), the server remembers the interest, and when the doc appears
//     later (its creator connects) the server pushes it to the waiting client.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { startServer } from "./server.mjs"
import { Clients, connected, converged, generateAutomergeUrl, plain, serverHasHeads, waitFor, within } from "./client.mjs"

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

test("find of an unknown doc rejects as unavailable", { timeout: 60_000 }, async () => {
  const repo = clients.repo()
  await connected(repo)
  const url = generateAutomergeUrl()
  const t0 = Date.now()
  await assert.rejects(within(repo.find(url), 30_000, "find to settle"), /unavailable/)
  // The JS client only gives up after 60 s unless the server says doc-unavailable.
  assert.ok(Date.now() - t0 < 30_000)
  assert.equal(repo.handles[url.slice("automerge:".length)].state, "unavailable")
  assert.ok(await server.healthy())
})

test("the server remembers a request for an unknown doc and pushes the doc when it appears", { timeout: 90_000 }, async () => {
  // A creates the doc offline: the server has never heard of it.
  const repoA = clients.repo({ connect: false })
  const hA = repoA.create({ hello: "world", list: [1, 2, 3] })
  hA.change(d => {
    d.more = true
  })

  // B asks for it first: unavailable. find() with allowableStates hands us
  // the unavailable handle instead of rejecting; a plain find() rejects.
  const repoB = clients.repo()
  await connected(repoB)
  const hB = await within(
    repoB.find(hA.url, { allowableStates: ["ready", "unavailable"] }),
    30_000,
    "B find (allowing unavailable)"
  )
  assert.equal(hB.state, "unavailable")
  await assert.rejects(repoB.find(hA.url), /unavailable/)

  const changed = new Promise(res => hB.once("change", ({ doc }) => res(doc)))

  // A connects: it announces the doc to the server, which pushes it to B.
  clients.connect(repoA)
  await connected(repoA)
  await serverHasHeads(repoA, hA)

  const doc = await within(changed, 20_000, "B change event carrying the doc")
  assert.equal(doc.hello, "world")
  await within(hB.whenReady(), 20_000, "B handle ready")
  assert.equal(hB.state, "ready")
  await converged([hA, hB])
  assert.deepEqual(plain(hB), { hello: "world", list: [1, 2, 3], more: true })

  // From now on the doc syncs both ways.
  hB.change(d => {
    d.fromB = 1
  })
  hA.change(d => {
    d.fromA = 2
  })
  await converged([hA, hB])
  assert.equal(hA.doc().fromB, 1)
  assert.equal(hB.doc().fromA, 2)
  // And a plain find() from a fresh repo works now.
  const repoC = clients.repo()
  await connected(repoC)
  const hC = await within(repoC.find(hA.url), 15_000, "C find")
  await converged([hA, hB, hC])
  assert.ok(await server.healthy())
})
