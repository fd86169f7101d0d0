// The embed page in an iframe of a host page on another origin, in
// headless Chromium against the real server: it shows the app with a valid
// token and follows the builder's edits live, talks the postMessage
// protocol, and refuses wrong or expired tokens with a clear message
// without connecting.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import {
  createApp, hostServer, launch, newPage, openBuilder, shot, signToken, startCasual, waitFor,
} from "./harness.mjs"

let server, browser, host, landing, counter, builder

before(async () => {
  server = await startCasual()
  browser = await launch()
  host = await hostServer()
  landing = await createApp(server.httpUrl, "landing")
  counter = await createApp(server.httpUrl, "counter")
})

after(async () => {
  await browser?.close()
  await host?.close()
  await server?.dispose()
})

async function mintToken(app, body) {
  const res = await fetch(`${server.httpUrl}/app/${app}/embed-token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  })
  assert.equal(res.status, 200, await res.clone().text())
  return (await res.json()).token
}

/** openHost loads the host page framing the embed, and watches sockets. */
async function openHost(app, token, name = "Host Visitor") {
  const page = await newPage(browser, name)
  page.sockets = []
  page.on("websocket", ws => page.sockets.push(ws.url()))
  const src = `${server.httpUrl}/embed/${app}?token=${encodeURIComponent(token)}`
  await page.goto(`${host.origin}/?src=${encodeURIComponent(src)}`)
  return { page, frame: page.frameLocator("#casual-app") }
}

const messages = page => page.evaluate(() => window.messages)

test("the embed shows the app, emits ready and follows the builder live", async () => {
  const token = await mintToken(landing, { mode: "view", origins: [host.origin] })
  const { page, frame } = await openHost(landing, token)
  await frame.locator("h1", { hasText: "Build apps together, live" }).waitFor({ timeout: 15000 })
  const ready = await waitFor(async () => (await messages(page)).find(m => m.type === "ready"), "ready event")
  assert.equal(ready.app, landing)
  assert.equal(ready.page.route, "/")
  assert.deepEqual(ready.pages.map(p => p.id).sort(), ["about", "home"])
  assert.ok(page.sockets.some(u => u.includes("/sync?token=")), `the embed's socket carries its token: ${page.sockets}`)

  builder = await newPage(browser, "Builder Person")
  await openBuilder(builder, server.httpUrl, landing)
  await builder.locator('.cx-page [data-id="headline"]').click()
  await builder.locator('#inspector [name="props.text"]').fill("Edited live in the builder")
  await frame.locator("h1", { hasText: "Edited live in the builder" }).waitFor({ timeout: 10000 })
  await shot(page, "embed-host.png")
  assert.deepEqual(page.errors, [])
})

test("the host navigates the embed and hears navigated and componentClicked", async () => {
  const token = await mintToken(landing, { mode: "view", origins: [host.origin] })
  const { page, frame } = await openHost(landing, token)
  await waitFor(async () => (await messages(page)).some(m => m.type === "ready"), "ready event")
  await page.evaluate(() => window.navigateEmbed("about"))
  await frame.locator("h1", { hasText: "About us" }).waitFor({ timeout: 10000 })
  const nav = await waitFor(async () => (await messages(page)).find(m => m.type === "navigated"), "navigated event")
  assert.equal(nav.page.id, "about")
  await frame.locator("h1", { hasText: "About us" }).click()
  const click = await waitFor(async () => (await messages(page)).find(m => m.type === "componentClicked"), "componentClicked")
  assert.deepEqual(click.component, { id: "about-title", type: "heading" })
  // An unknown page is answered with an error, not a navigation.
  await page.evaluate(() => window.navigateEmbed("nope"))
  const err = await waitFor(async () => (await messages(page)).find(m => m.type === "error"), "error event")
  assert.equal(err.code, "unknown_page")
})

test("a host that is not among the token's origins cannot frame the embed", async () => {
  // A token for another origin: the CSP keeps the host from framing it at all.
  const token = await mintToken(landing, { mode: "view", origins: ["https://elsewhere.example"] })
  const { page } = await openHost(landing, token)
  await waitFor(() => page.frames().some(f => f.url().startsWith("chrome-error:")), "the frame to be blocked")
  assert.deepEqual(await messages(page), [])
})

test("a wrong token is refused with a clear message and the embed does not connect", async () => {
  const good = await mintToken(landing, { mode: "view", origins: [host.origin] })
  const [payload, sig] = good.split(".")
  const tampered = `${payload}.${sig.slice(0, -3)}${sig.endsWith("AAA") ? "BBB" : "AAA"}`
  const { page, frame } = await openHost(landing, tampered)
  const box = frame.locator("#embed-error")
  await box.waitFor({ timeout: 10000 })
  assert.equal(await box.getAttribute("data-error"), "invalid")
  assert.match(await box.innerText(), /not valid/)
  // A token for another app is refused the same way.
  const other = await mintToken(counter, { mode: "view", origins: [host.origin] })
  const wrongApp = await openHost(landing, other)
  await wrongApp.frame.locator('#embed-error[data-error="wrong_app"]').waitFor({ timeout: 10000 })
  await shot(page, "embed-invalid.png")
  assert.deepEqual(page.sockets, [])
  assert.deepEqual(wrongApp.page.sockets, [])
})

test("an expired token is refused with a clear message", async () => {
  const expired = signToken({ app: landing, mode: "view", origins: [host.origin], exp: Math.floor(Date.now() / 1000) - 60 })
  const { page, frame } = await openHost(landing, expired)
  const box = frame.locator("#embed-error")
  await box.waitFor({ timeout: 10000 })
  assert.equal(await box.getAttribute("data-error"), "expired")
  assert.match(await box.innerText(), /expired/)
  assert.deepEqual(page.sockets, [])
  await shot(page, "embed-expired.png")
  // The same claims, still valid, are accepted: the signature scheme matches Go's.
  const valid = signToken({ app: landing, mode: "view", origins: [host.origin], exp: Math.floor(Date.now() / 1000) + 600 })
  const ok = await openHost(landing, valid)
  await ok.frame.locator(".cx-page").waitFor({ timeout: 15000 })
})

test("run mode turns a click into a run in the document (which the executor then runs)", async () => {
  const token = await mintToken(counter, { mode: "run", origins: [host.origin] })
  const { page, frame } = await openHost(counter, token)
  await frame.locator("button", { hasText: "+" }).click()
  const req = await waitFor(async () => (await messages(page)).find(m => m.type === "runRequested"), "runRequested")
  assert.equal(req.handler, "inc")
  const view = await newPage(browser, "Run Watcher")
  await openBuilder(view, server.httpUrl, counter)
  const run = await waitFor(
    () => view.evaluate(id => window.casual.ed.snapshot().runs?.[id], req.run),
    "the run in the builder's replica"
  )
  assert.equal(run.handler, "inc")
  // Queued by the click; the casual binary's executor picks it up at once
  // (the devserver has none, so there it stays queued).
  assert.ok(["queued", "running", "completed"].includes(run.status), `run status ${run.status}`)
  assert.deepEqual(run.input, { component: "increment", event: "click", page: "home" })

  // A view-only embed never writes.
  const viewToken = await mintToken(counter, { mode: "view", origins: [host.origin] })
  const v = await openHost(counter, viewToken)
  await v.frame.locator("button", { hasText: "+" }).click()
  await waitFor(async () => (await messages(v.page)).some(m => m.type === "componentClicked"), "click event")
  assert.ok(!(await messages(v.page)).some(m => m.type === "runRequested"))
})
