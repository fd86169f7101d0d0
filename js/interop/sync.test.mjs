// (a) two storage-less repos create, find, change and converge through the
//     server, including concurrent changes to different keys and to a list;
// (b) a third repo that finds the doc later sees the full state.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { startServer } from "./server.mjs"
import { Clients, connected, converged, serverHasHeads, plain, waitFor, within } from "./client.mjs"

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

test("two clients create, find, change and converge; a late third client sees everything", { timeout: 120_000 }, async t => {
  const repoA = clients.repo()
  const repoB = clients.repo()
  await connected(repoA)
  await connected(repoB)

  // A creates; B finds it once the server has it.
  const hA = repoA.create({ count: 0, items: [], byA: {}, byB: {} })
  hA.change(d => {
    d.count = 1
  })
  await serverHasHeads(repoA, hA)
  const hB = await within(repoB.find(hA.url), 15_000, "B find")
  assert.equal(hB.doc().count, 1, "B sees A's first change")
  assert.deepEqual(plain(hB), plain(hA))

  // Single change A -> B, observed through B's change event.
  const sawTwo = new Promise(res => {
    const on = ({ doc }) => {
      if (doc.count === 2) {
        hB.off("change", on)
        res()
      }
    }
    hB.on("change", on)
  })
  hA.change(d => {
    d.count = 2
  })
  await within(sawTwo, 15_000, "B change event with count=2")

  // And B -> A.
  hB.change(d => {
    d.title = "from B"
  })
  await waitFor(() => hA.doc().title === "from B", { what: "A to see B's title" })

  // Concurrent changes from both sides, to different keys and to one list,
  // made without waiting for each other.
  const N = 25
  for (let i = 0; i < N; i++) {
    hA.change(d => {
      d.byA[`k${i}`] = i
      d.items.push(`a${i}`)
    })
    hB.change(d => {
      d.byB[`k${i}`] = -i
      d.items.push(`b${i}`)
    })
    if (i % 5 === 4) await new Promise(r => setImmediate(r))
  }
  // Concurrent writes to the same key must also resolve to the same winner.
  hA.change(d => {
    d.conflict = "A"
  })
  hB.change(d => {
    d.conflict = "B"
  })
  await converged([hA, hB])
  const docA = plain(hA)
  assert.deepEqual(plain(hB), docA, "A and B hold the same document")
  assert.equal(Object.keys(docA.byA).length, N)
  assert.equal(Object.keys(docA.byB).length, N)
  assert.equal(docA.items.length, 2 * N)
  for (let i = 0; i < N; i++) {
    assert.ok(docA.items.includes(`a${i}`) && docA.items.includes(`b${i}`), `item ${i} present`)
  }
  // Each side's own list items stay in their relative order.
  const aOrder = docA.items.filter(x => x.startsWith("a"))
  assert.deepEqual(aOrder, Array.from({ length: N }, (_, i) => `a${i}`))
  assert.ok(["A", "B"].includes(docA.conflict))

  await t.test("(b) a third repo finds the doc later and sees the full state", async () => {
    await serverHasHeads(repoA, hA)
    await serverHasHeads(repoB, hB)
    const repoC = clients.repo()
    await connected(repoC)
    const hC = await within(repoC.find(hA.url), 15_000, "C find")
    await converged([hA, hB, hC])
    assert.deepEqual(plain(hC), docA)

    // C's edits reach both others; list deletion converges too.
    hC.change(d => {
      d.items.splice(0, 2)
      d.byC = "hello"
    })
    await converged([hA, hB, hC])
    assert.equal(hA.doc().byC, "hello")
    assert.equal(hB.doc().items.length, 2 * N - 2)
    assert.deepEqual(plain(hA), plain(hC))
    assert.deepEqual(plain(hB), plain(hC))
  })

  assert.ok(await server.healthy(), "server still healthy")
})
