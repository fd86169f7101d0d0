// The builder's AI prompt box, two builders on one app against the real
// server (its offline planner answers: no API key): a live run builds
// components both builders see; a suggest-mode run shows a diff that
// Reject drops and Accept merges; Components works inside the selected
// component, Optimize evens out the layout, Explain shows the app or the
// selected component in words.
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

async function generate(page, prompt, mode, button = "#ai-generate") {
  await page.locator("#ai-prompt").fill(prompt)
  await page.locator("#ai-mode").selectOption(mode)
  await page.locator(button).click()
  await page.locator("#ai-status").waitFor({ timeout: 10000 })
  await waitFor(async () => (await page.locator("#ai-status").getAttribute("data-status")) === "done", "the run done", 20000)
}

/** select selects a component through its row in the layers panel. */
async function select(page, id) {
  await page.locator(`#layers [data-layer-id="${id}"]`).click()
  await page.locator(`#layers .b-layer-selected[data-layer-id="${id}"]`).waitFor()
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

test("Components needs a selection, then builds inside the selected container", async t => {
  if (!hasGenerate) return t.skip("the server does not mount /v1/generate")
  await alice.locator("#ai-prompt").fill("a contact form")
  await alice.locator("#ai-components").click()
  await waitFor(async () => /Select a component first/.test(await alice.locator("#ai-box").innerText()), "the selection hint")
  assert.equal(await bob.locator('.cx-page [data-id="contact-form"]').count(), 0, "nothing built without a selection")

  await select(alice, "todo-app")
  const started = alice.waitForResponse(r => r.url().endsWith("/v1/generate/components") && r.request().method() === "POST")
  await generate(alice, "a contact form", "live", "#ai-components")
  const res = await started
  assert.equal(res.status(), 202)
  assert.deepEqual(JSON.parse(res.request().postData()).selection, ["todo-app"])
  assert.equal(await alice.locator("#ai-kind").innerText(), "components")
  // Bob sees the form inside the card Alice had selected.
  await bob.locator('.cx-page [data-id="todo-app"] [data-id="contact-form"]').waitFor({ timeout: 10000 })
  await bob.locator('.cx-page [data-id="todo-app"] [data-id="contact-title"]').waitFor()
})

test("Optimize runs on the whole app without a prompt", async t => {
  if (!hasGenerate) return t.skip("the server does not mount /v1/generate")
  await alice.locator("#ai-prompt").fill("")
  const started = alice.waitForResponse(r => r.url().endsWith("/v1/generate/optimize") && r.request().method() === "POST")
  await alice.locator("#ai-optimize").click()
  assert.equal((await started).status(), 202)
  await waitFor(async () => (await alice.locator("#ai-status").getAttribute("data-status")) === "done", "the optimize run done", 20000)
  assert.equal(await alice.locator("#ai-kind").innerText(), "optimize")
  // The todo card now holds the contact form too, and has no gap of its own: evened out.
  assert.ok(Number(await alice.locator("#ai-applied").innerText()) > 0, "layout updates applied")
  assert.equal(await alice.locator("#ai-skipped").innerText(), "0")
})

test("Explain shows the selected component, or the whole app, in words", async t => {
  if (!hasGenerate) return t.skip("the server does not mount /v1/generate")
  await select(alice, "todo-add")
  await alice.locator("#ai-explain").click()
  const ex = alice.locator("#ai-explanation")
  await waitFor(async () => (await ex.count()) > 0 && (await ex.getAttribute("data-of")) === "todo-add", "the component explained")
  assert.match(await ex.innerText(), /About todo-add/)
  assert.match(await ex.innerText(), /todo-add is .* inside todo-add-row\..*On click it runs addTodo/s)

  await alice.keyboard.press("Escape")
  await alice.locator("#artboard").click({ position: { x: 5, y: 5 } }) // empty artboard: nothing selected
  await alice.locator("#layers .b-layer-selected").waitFor({ state: "detached" })
  await alice.locator("#ai-explain").click()
  await waitFor(async () => (await ex.getAttribute("data-of")) === "", "the app explained")
  assert.match(await ex.innerText(), /About this app/)
  assert.match(await ex.innerText(), /has \d+ page\(s\) and \d+ component\(s\)/)
  assert.deepEqual(alice.errors, [])
})
