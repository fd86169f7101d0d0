// (g) Rich-text marks: casual's Automerge core (automerge-go, 2023) predates
//     marks, but it keeps their changes as they are: a mark made by one
//     client is stored and reaches a fresh client intact, like on the Node
//     reference server. Other docs and clients are unaffected throughout.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import * as A from "@automerge/automerge"
import { startServer, isReferenceServer, sleep } from "./server.mjs"
import { Clients, connected, converged, plain, serverHasHeads, waitFor, within } from "./client.mjs"

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

test("a doc using rich-text marks does not hurt the server or other clients", { timeout: 120_000 }, async t => {
  // Healthy traffic on another doc, between other clients.
  const repoB = clients.repo()
  const repoC = clients.repo()
  await Promise.all([connected(repoB), connected(repoC)])
  const hB = repoB.create({ n: 0 })
  await serverHasHeads(repoB, hB)
  const hC = await within(repoC.find(hB.url), 15_000, "C find healthy doc")

  // The bad peer: one doc that already existed on the server before marks
  // were added, and one new doc whose very first sync carries marks.
  const repoA = clients.repo()
  await connected(repoA)
  const hPlain = repoA.create({ text: "hello world", n: 1 })
  await serverHasHeads(repoA, hPlain)
  const prePlain = plain(hPlain)

  hPlain.change(d => {
    A.mark(d, ["text"], { start: 0, end: 5, expand: "after" }, "bold", true)
  })
  const hMarked = repoA.create({ text: "marked text" })
  hMarked.change(d => {
    A.mark(d, ["text"], { start: 0, end: 6, expand: "after" }, "italic", true)
    d.after = "mark"
  })
  assert.equal(A.marks(hMarked.doc(), ["text"]).length, 1, "the client really made a mark")

  // Keep the healthy pair busy while the server deals with the marks.
  for (let i = 1; i <= 20; i++) {
    ;(i % 2 ? hB : hC).change(d => {
      d.n = i
      d[`k${i}`] = i
    })
    await sleep(50)
  }
  await converged([hB, hC])
  for (let i = 1; i <= 20; i++) assert.equal(hC.doc()[`k${i}`], i, `k${i} at C`)
  // n was written by both sides, maybe concurrently: either last write may win.
  assert.ok([19, 20].includes(hC.doc().n))
  assert.ok(await server.healthy(), "server healthy after marks")

  await t.test("server process is still running and serving new clients", async () => {
    assert.ok(server.running, "server process alive")
    const repoD = clients.repo()
    await connected(repoD)
    const hD = await within(repoD.find(hB.url), 15_000, "D find healthy doc")
    await converged([hB, hC, hD])
    assert.deepEqual(plain(hD), plain(hB))
    // A brand-new doc from a new client still syncs.
    const hNew = repoD.create({ fresh: true })
    await serverHasHeads(repoD, hNew)
    const hNewC = await within(repoC.find(hNew.url), 15_000, "C find fresh doc")
    assert.equal(hNewC.doc().fresh, true)
  })

  await t.test("the doc's state from before the marks is still served", async () => {
    const repoE = clients.repo()
    await connected(repoE)
    const hE = await within(repoE.find(hPlain.url), 15_000, "E find pre-mark doc")
    await waitFor(() => hE.doc().text === prePlain.text && hE.doc().n === 1, { what: "pre-mark content at E" })
    const eMarks = A.marks(hE.doc(), ["text"])
    t.diagnostic(`marks seen by a fresh client: ${JSON.stringify(eMarks)} (reference server: ${isReferenceServer()})`)
    await waitFor(() => A.marks(hE.doc(), ["text"]).length === 1, { what: "bold mark at E" })
    assert.equal(A.marks(hE.doc(), ["text"])[0].name, "bold")
    const hM = await within(repoE.find(hMarked.url), 15_000, "E find doc created with marks")
    await waitFor(() => hM.doc().after === "mark" && A.marks(hM.doc(), ["text"]).length === 1, { what: "italic mark at E" })
    assert.equal(A.marks(hM.doc(), ["text"])[0].name, "italic")
  })

  assert.ok(await server.healthy(), "server healthy at the end")
})
