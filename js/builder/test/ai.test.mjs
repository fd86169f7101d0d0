// The builder's AI prompt box, two builders on one app against the real
// server (its offline planner answers: no API key): a live run builds
// components both builders see; a suggest-mode run shows a diff that
// Reject drops and Accept merges.
//
// Needs a server that mounts /v1/generate (the casual binary:
// CASUAL_BIN=/tmp/casual); against one that does not, the tests skip.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { createApp, launch, newPage, openBuilder, shot, startCasual, waitFor } from "./harness.mjs"

let server, browser, alice, bob, appId, hasGenerate = false

before(async () => {
  server = await startCasual()
  const probe = await fetch(`${server.httpUrl}/v1/generate/runs?limit=1`)
  hasGenerate = probe.status !== 404 && probe.status !== 405
  if (!hasGenerate) return
  browser = await launch()
  appId = await createApp(server.httpUrl, "blank")
  alice = await newPage(browser, "Alice Test", "#e11d48")
  bob = await newPage(browser, "Bob Test", "#0891b2")
  await openBuilder(alice, server.httpUrl, appId)
  await openBuilder(bob, server.httpUrl, appId)
})

after(async () => {
  for (const p of [alice, bob]) if (p?.errors.length) console.error("page errors:", p.errors)
  await browser?.close()
  await server?.dispose()
})

const count = p => p.locator(".cx-page [data-id]").count()

async function generate(page, prompt, mode) {
  await page.locator("#ai-prompt").fill(prompt)
  await page.locator("#ai-mode").selectOption(mode)
  await page.locator("#ai-generate").click()
  await page.locator("#ai-status").waitFor({ timeout: 10000 })
  await waitFor(async () => (await page.locator("#ai-status").getAttribute("data-status")) === "done", "the run done", 20000)
}

test("a live run from one builder builds components the other sees", async t => {
  if (!hasGenerate) return t.skip("the server does not mount /v1/generate")
  assert.equal(await count(bob), 0)
  await generate(alice, "a todo list", "live")
  assert.ok(Number(await alice.locator("#ai-applied").innerText()) > 0, "ops applied")
  await bob.locator('.cx-page [data-id="todo-app"]').waitFor({ timeout: 10000 })
  await waitFor(async () => (await bob.locator(".cx-page").innerText()).includes("Todo list"), "Bob sees the todo card")
  await bob.locator('#layers [data-layer-id="todo-add"]').waitFor()
  assert.equal(await alice.locator("#ai-cancel").count(), 0, "no cancel once done")
})

test("a suggestion shows a diff; Reject leaves the document unchanged", async t => {
  if (!hasGenerate) return t.skip("the server does not mount /v1/generate")
  const before = await count(bob)
  await generate(alice, "a login form", "suggest")
  const diff = alice.locator("#ai-diff")
  await diff.waitFor()
  assert.equal(await diff.getAttribute("data-state"), "pending")
  assert.match(await diff.innerText(), /login-card/)
  assert.equal(await count(alice), before, "nothing applied before accepting")
  await shot(alice, "builder-ai.png")
  await alice.locator("#ai-reject").click()
  await waitFor(async () => (await diff.getAttribute("data-state")) === "rejected", "the suggestion rejected")
  await new Promise(r => setTimeout(r, 500))
  assert.equal(await count(bob), before)
  assert.equal(await count(alice), before)
  assert.equal(await bob.locator('.cx-page [data-id="login-card"]').count(), 0)
})

test("Accept merges a suggestion into the shared document", async t => {
  if (!hasGenerate) return t.skip("the server does not mount /v1/generate")
  const before = await count(bob)
  await generate(alice, "a counter", "suggest")
  // The panel still shows the previous suggestion until this run's diff arrives.
  await waitFor(async () => /counter-card/.test(await alice.locator("#ai-diff").innerText()), "the counter suggestion's diff")
  await alice.locator("#ai-accept").click()
  await bob.locator('.cx-page [data-id="counter-card"]').waitFor({ timeout: 10000 })
  await waitFor(async () => (await count(bob)) > before, "Bob has more components")
  await waitFor(async () => (await alice.locator("#ai-diff").getAttribute("data-state")) === "accepted", "accepted")
  assert.deepEqual(alice.errors, [])
  assert.deepEqual(bob.errors, [])
})
