// Two builders (two browser contexts, two visitors) on one app, in
// headless Chromium against the real server: drags, prop edits, cursors
// and per-user undo reach the other builder live.
//
//   node --test js/builder/test/      (CASUAL_BIN optional, see harness.mjs)
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { createApp, drag, launch, newPage, openBuilder, order, shot, startCasual, waitFor } from "./harness.mjs"

let server, browser, alice, bob, appId

before(async () => {
  server = await startCasual()
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

const canvas = p => p.locator(".cx-page")
const comp = (p, type) => p.locator(`.cx-page [data-type="${type}"]`)

test("components dropped from the palette appear in both builders", async () => {
  await drag(alice, alice.locator('[data-palette="heading"]'), canvas(alice))
  await comp(bob, "heading").waitFor({ timeout: 10000 })
  // Below the heading: drop near the bottom of the page.
  await drag(alice, alice.locator('[data-palette="text"]'), { locator: canvas(alice), fy: 0.95 })
  await drag(bob, bob.locator('[data-palette="button"]'), { locator: canvas(bob), fy: 0.95 })
  await comp(alice, "button").waitFor({ timeout: 10000 })
  await comp(bob, "text").waitFor({ timeout: 10000 })
  const types = await alice.$$eval(".cx-page [data-id]", els => els.map(e => e.dataset.type))
  assert.deepEqual(types, ["heading", "text", "button"])
  await waitFor(async () => JSON.stringify(await order(bob)) === JSON.stringify(await order(alice)), "same order in both")
})

test("a component dragged in one builder moves in the other", async () => {
  const [heading, , button] = await order(alice)
  // Drag the button onto the top edge of the heading: it goes first.
  await drag(alice, comp(alice, "button"), { locator: comp(alice, "heading"), fy: 0.1 })
  await waitFor(async () => (await order(alice))[0] === button, "button first in Alice's canvas")
  await waitFor(async () => (await order(bob))[0] === button, "button first in Bob's canvas")
  assert.equal((await order(bob))[1], heading)
})

test("a prop edited in one builder shows in the other", async () => {
  await comp(alice, "text").click()
  const field = alice.locator('#inspector [name="props.text"]')
  await field.fill("Hello from Alice")
  await waitFor(async () => (await comp(bob, "text").innerText()).includes("Hello from Alice"), "Bob sees the text")
})

test("each builder sees the other's cursor, name and selection", async () => {
  const box = await alice.locator("#artboard").boundingBox()
  await alice.mouse.move(box.x + 300, box.y + 200, { steps: 4 })
  const aliceCursor = bob.locator('.b-cursor[data-peer="Alice Test"]')
  await aliceCursor.waitFor({ timeout: 10000 })
  assert.match(await aliceCursor.innerText(), /Alice Test/)
  const bobBox = await bob.locator("#artboard").boundingBox()
  await bob.mouse.move(bobBox.x + 500, bobBox.y + 120, { steps: 4 })
  await alice.locator('.b-cursor[data-peer="Bob Test"]').waitFor({ timeout: 10000 })
  // Alice selected the text component: Bob sees it outlined with her name.
  await bob.locator(".b-remote-sel", { hasText: "Alice Test" }).waitFor({ timeout: 10000 })
  await bob.locator('#peers [data-peer="Alice Test"]').waitFor()
  await alice.locator('#peers [data-peer="Bob Test"]').waitFor()
  await shot(alice, "builder-alice.png")
  await shot(bob, "builder-bob.png")
})

test("undo in one builder reverts only that user's own change", async () => {
  await comp(alice, "heading").click()
  await alice.locator('#inspector [name="props.text"]').fill("Alice heading")
  await comp(bob, "button").click()
  await bob.locator('#inspector [name="props.label"]').fill("Bob button")
  for (const p of [alice, bob]) {
    await waitFor(async () => (await comp(p, "heading").innerText()).includes("Alice heading"), "heading edited")
    await waitFor(async () => (await comp(p, "button").innerText()).includes("Bob button"), "button edited")
  }
  await alice.locator("#undo").click()
  for (const p of [alice, bob]) {
    await waitFor(async () => (await comp(p, "heading").innerText()).trim() === "Heading", "heading back to its default")
    assert.match(await comp(p, "button").innerText(), /Bob button/, "Bob's edit survives Alice's undo")
  }
  await alice.locator("#redo").click()
  await waitFor(async () => (await comp(bob, "heading").innerText()).includes("Alice heading"), "redo reaches Bob")
})

test("the layers tree reparents by drag", async () => {
  await drag(bob, bob.locator('[data-palette="card"]'), { locator: canvas(bob), fy: 0.97 })
  await comp(alice, "card").waitFor({ timeout: 10000 })
  const textRow = alice.locator(`#layers [data-layer-id="${await comp(alice, "text").getAttribute("data-id")}"]`)
  const cardRow = alice.locator(`#layers [data-layer-id="${await comp(alice, "card").getAttribute("data-id")}"]`)
  await drag(alice, textRow, cardRow)
  await bob.locator('.cx-page [data-type="card"] [data-type="text"]').waitFor({ timeout: 10000 })
  assert.match(await bob.locator('.cx-page [data-type="card"]').innerText(), /Hello from Alice/)
})

test("pages added in one builder show in the other", async () => {
  await alice.locator("#add-page").click()
  await bob.locator("#pages .b-tab", { hasText: "Page 2" }).waitFor({ timeout: 10000 })
  await bob.locator("#pages .b-tab", { hasText: "Page 2" }).click()
  await bob.locator(".cx-page .cx-empty").waitFor()
  await bob.locator("#pages .b-tab", { hasText: "Home" }).click()
  assert.deepEqual(alice.errors, [])
  assert.deepEqual(bob.errors, [])
})

test("a new visitor creates an app from a template and gets an embed snippet", async () => {
  const page = await newPage(browser, "Carol Test", "#16a34a")
  await page.goto(server.httpUrl + "/")
  await page.locator('[data-template="todo"]').waitFor()
  await shot(page, "builder-home.png")
  await page.locator('[data-template="todo"]').click()
  await page.waitForURL(/\/edit\//)
  await page.locator('.cx-page [data-id="title"]').waitFor({ timeout: 15000 })
  assert.equal(await page.locator("#app-name").inputValue(), "Todo list")
  await page.locator("#embed-btn").click()
  await page.locator('#embed-dialog [name="origins"]').fill("https://www.example.com")
  await page.locator("#embed-dialog button", { hasText: "Create embed code" }).click()
  const snippet = page.locator("#embed-snippet")
  await waitFor(async () => (await snippet.inputValue()).includes("/embed/"), "the snippet")
  assert.match(await snippet.inputValue(), /^<iframe src="http:\/\/127\.0\.0\.1:\d+\/embed\/\w+\?token=[\w-]+\.[\w-]+"/)
  await shot(page, "builder-embed-dialog.png")
  assert.deepEqual(page.errors, [])
})
