// Accounts in the builder, in headless Chromium against the real server
// run with --auth on: a new user signs up, creates an app, shares it with
// a teammate (editor) and a client (viewer), shares a read-only embed on
// another site, names a version and restores it, and revokes the embed.
// Every rule is checked where the user would see it: live in the other
// builders, in the embed, and (for the viewer's write) never at all.
import { describe, test, before, after } from "node:test"
import assert from "node:assert/strict"
import crypto from "node:crypto"
import { hostServer, launch, newPage, shot, startCasual, waitFor } from "./harness.mjs"

let server, browser, host, alice, bob, carol, appId, embedURL, embedPage

const PASSWORD = "correct horse battery staple"
const users = {
  alice: { name: "Alice Owner", email: "alice@example.test" },
  bob: { name: "Bob Editor", email: "bob@example.test" },
  carol: { name: "Carol Client", email: "carol@example.test" },
}

// The test-only devserver (what harness.mjs builds without CASUAL_BIN) has
// no accounts: this suite needs the casual binary.
const skip = process.env.CASUAL_BIN ? false : "needs the casual binary in CASUAL_BIN (the devserver has no accounts)"

describe("accounts in the builder (--auth on)", { skip }, () => {
  before(async () => {
    process.env.CASUAL_AUTH = "on"
    server = await startCasual()
    browser = await launch()
    host = await hostServer()
    // The teammate and the client already have accounts.
    for (const u of [users.bob, users.carol]) await api("POST", "/v1/auth/register", { ...u, password: PASSWORD })
  })

  after(async () => {
    for (const p of [alice, bob, carol]) if (p?.errors.length) console.error("page errors:", p.errors)
    await browser?.close()
    await host?.close()
    await server?.dispose()
  })

  async function api(method, path, body, token) {
    const headers = { "Content-Type": "application/json" }
    if (token) headers.Authorization = `Bearer ${token}`
    const res = await fetch(server.httpUrl + path, { method, headers, body: body && JSON.stringify(body) })
    const data = res.status === 204 ? null : await res.json()
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`)
    return data
  }

  const headline = p => p.locator('.cx-page [data-id="headline"]')
  const headlineText = async p => (await headline(p).innerText()).trim()

  /** signIn fills the sign-in form the builder shows a signed-out visitor. */
  async function signIn(page, u, code = "") {
    await page.locator("#auth-form").waitFor({ timeout: 20000 })
    await page.locator('#auth-form [name="email"]').fill(u.email)
    await page.locator('#auth-form [name="password"]').fill(PASSWORD)
    await page.locator("#auth-submit").click()
    if (code) {
      await page.locator('#auth-form [name="code"]').waitFor({ state: "visible" })
      await page.locator('#auth-form [name="code"]').fill(code)
      await page.locator("#auth-submit").click()
    }
  }

  async function openApp(page) {
    await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 20000 })
    await headline(page).waitFor({ timeout: 20000 })
  }

  test("a new user signs up and creates an app from a template", async () => {
    alice = await newPage(browser, "ignored when signed in")
    await alice.goto(server.httpUrl + "/")
    await alice.locator("#auth-switch").click()
    await alice.locator('#auth-form [name="name"]').fill(users.alice.name)
    await alice.locator('#auth-form [name="email"]').fill(users.alice.email)
    await alice.locator('#auth-form [name="password"]').fill(PASSWORD)
    await shot(alice, "accounts-signup.png")
    await alice.locator("#auth-submit").click()
    await alice.locator("#app-list").waitFor({ timeout: 20000 })
    assert.equal(await alice.locator("#user-name").innerText(), users.alice.name)
    await alice.locator("#new-app-name").fill("Client site")
    await alice.locator('[data-template="landing"]').click()
    await alice.waitForURL(/\/edit\//)
    appId = new URL(alice.url()).pathname.split("/").pop()
    await openApp(alice)
    assert.equal(await alice.locator("#app-name").inputValue(), "Client site")
    assert.equal(await alice.locator("#role-badge").getAttribute("data-role"), "owner")
    // Same-origin endpoints that take no header (AI, executor) get her token as a strict cookie.
    const [cookie] = (await alice.context().cookies()).filter(c => c.name === "casual_token")
    assert.equal(cookie?.sameSite, "Strict")
    // The app list shows it, and search finds it.
    const list = await newPage(browser, "list")
    await list.context().addInitScript(s => localStorage.setItem("casual.session", s),
      await alice.evaluate(() => localStorage.getItem("casual.session")))
    await list.goto(server.httpUrl + "/")
    await list.locator(`#app-list [data-app-id="${appId}"]`).waitFor({ timeout: 20000 })
    await list.locator("#app-search").fill("nothing like it")
    await list.locator('#app-list[data-count="0"]').waitFor()
    await list.locator("#app-search").fill("client")
    await list.locator(`#app-list [data-app-id="${appId}"]`).waitFor()
    await shot(list, "accounts-apps.png")
    await list.context().close()
  })

  test("the owner invites a teammate as editor and a client as viewer", async () => {
    await alice.locator("#share-btn").click()
    const dlg = alice.locator("#share-dialog")
    for (const [u, role] of [[users.bob, "editor"], [users.carol, "viewer"]]) {
      await dlg.locator('[name="email"]').fill(u.email)
      await dlg.locator('[name="role"]').selectOption(role)
      await dlg.locator("#share-add").click()
      await dlg.locator(`#share-members [data-email="${u.email}"][data-role="${role}"]`).waitFor({ timeout: 20000 })
    }
    await shot(alice, "accounts-share.png")
    await dlg.locator("button", { hasText: "Close" }).click()
  })

  test("the editor's change appears live in the owner's builder", async () => {
    bob = await newPage(browser, "Bob")
    await bob.goto(`${server.httpUrl}/edit/${appId}`)
    await signIn(bob, users.bob)
    await openApp(bob)
    assert.equal(await bob.locator("#role-badge").getAttribute("data-role"), "editor")
    await headline(bob).click()
    await bob.locator('#inspector [name="props.text"]').fill("Edited by Bob")
    await waitFor(async () => (await headlineText(alice)) === "Edited by Bob", "Alice sees Bob's edit", 20000)
    // Everyone sees who else is here, by account name.
    await alice.locator(`#peers [data-peer="${users.bob.name}"]`).waitFor({ timeout: 20000 })
  })

  test("the viewer sees the app live and read-only, and their write never reaches the owner", async () => {
    carol = await newPage(browser, "Carol")
    await carol.goto(`${server.httpUrl}/edit/${appId}`)
    await signIn(carol, users.carol)
    await openApp(carol)
    assert.equal(await carol.locator("#role-badge").getAttribute("data-role"), "viewer")
    assert.equal(await carol.locator("#role-badge").innerText(), "View only")
    assert.ok(await carol.locator(".b-app.b-readonly").count(), "the builder is marked read-only")
    assert.equal(await carol.locator("#palette").count(), 0, "no palette to drag from")
    assert.equal(await carol.locator("#add-page").count(), 0, "no page to add")
    assert.ok(await carol.locator("#app-name").evaluate(el => el.readOnly), "the app name cannot be edited")
    assert.equal(await headlineText(carol), "Edited by Bob")
    await shot(carol, "accounts-viewer.png")
    // The UI refuses writes...
    const refused = await carol.evaluate(() => {
      try {
        window.casual.ed.setAppName("Renamed by Carol")
        return ""
      } catch (err) {
        return err.message
      }
    })
    assert.match(refused, /view this app but not change it/)
    // ...and a write forced into her replica is refused by the server.
    await carol.evaluate(() => window.casual.handle.change(d => { d.meta.name = "Hacked by Carol" }))
    // The server answers read_only, and her builder says the change was not saved.
    await carol.locator("#toast", { hasText: "not saved" }).waitFor({ timeout: 20000 })
    // Bob writes after Carol: once Alice has Bob's change, Carol's would have arrived too.
    await bob.locator('#inspector [name="props.text"]').fill("Bob again")
    await waitFor(async () => (await headlineText(alice)) === "Bob again", "Alice sees Bob's second edit", 20000)
    await waitFor(async () => (await headlineText(carol)) === "Bob again", "Carol still follows live", 20000)
    assert.equal(await alice.locator("#app-name").inputValue(), "Client site")
    assert.equal(await alice.evaluate(() => window.casual.ed.snapshot().meta.name), "Client site")
    // The server's document (a snapshot of it, as a version) does not have it either.
    const token = await alice.evaluate(() => JSON.parse(localStorage.getItem("casual.session")).tokens.access_token)
    const v = await api("POST", `/v1/apps/${appId}/versions`, { label: "After the client's attempt" }, token)
    const state = await api("GET", `/v1/apps/${appId}/versions/${v.id}`, undefined, token)
    assert.equal(state.meta.name, "Client site")
  })

  test("a read-only embed renders in a host page on another origin", async () => {
    await alice.locator("#share-btn").click()
    const dlg = alice.locator("#share-dialog")
    await dlg.locator('[name="embed-mode"]').selectOption("read")
    await dlg.locator("#embed-create").click()
    const snippet = dlg.locator("#embed-snippet")
    await waitFor(async () => (await snippet.inputValue()).includes("/embed/"), "the embed snippet", 20000)
    embedURL = await snippet.getAttribute("data-url")
    assert.match(embedURL, new RegExp(`^${server.httpUrl}/embed/${appId}\\?token=`))
    await dlg.locator("#share-embeds .share-row").first().waitFor()
    await dlg.locator("button", { hasText: "Close" }).click()

    const page = await newPage(browser, "Visitor")
    page.sockets = []
    page.on("websocket", ws => page.sockets.push(ws.url()))
    await page.goto(`${host.origin}/?src=${encodeURIComponent(embedURL)}`)
    const frame = page.frameLocator("#casual-app")
    await frame.locator("h1", { hasText: "Bob again" }).waitFor({ timeout: 20000 })
    // It follows the builder live.
    await headline(alice).click()
    await alice.locator('#inspector [name="props.text"]').fill("Version one")
    await frame.locator("h1", { hasText: "Version one" }).waitFor({ timeout: 20000 })
    assert.ok(page.sockets.some(u => u.includes("/sync?token=")))
    await shot(page, "accounts-embed.png")
    assert.deepEqual(page.errors, [])
    embedPage = page // stays open until the embed is revoked
  })

  test("the owner names a version, changes the app, restores it, and the editor sees the restore live", async () => {
    await waitFor(async () => (await headlineText(bob)) === "Version one", "Bob is up to date", 20000)
    await alice.locator("#history-btn").click()
    const dlg = alice.locator("#versions-dialog")
    await dlg.locator('[name="version-label"]').fill("Approved by the client")
    await dlg.locator("#version-create").click()
    const row = dlg.locator('#version-list [data-label="Approved by the client"]')
    await row.waitFor({ timeout: 20000 })
    await dlg.locator("button", { hasText: "Close" }).click()

    await headline(alice).click()
    await alice.locator('#inspector [name="props.text"]').fill("A change to undo")
    await waitFor(async () => (await headlineText(bob)) === "A change to undo", "Bob sees the change", 20000)

    await alice.locator("#history-btn").click()
    // The version, viewed as it was, and compared with now.
    await row.locator('[data-action="view"]').click()
    await dlg.locator("#version-view h1", { hasText: "Version one" }).waitFor({ timeout: 20000 })
    await row.locator('[data-action="diff"]').click()
    await dlg.locator("#version-diff li", { hasText: "headline" }).waitFor({ timeout: 20000 })
    await shot(alice, "accounts-history.png")
    await row.locator('[data-action="restore"]').click()
    await waitFor(async () => (await headlineText(bob)) === "Version one", "Bob sees the restore live", 20000)
    await waitFor(async () => (await headlineText(alice)) === "Version one", "Alice sees the restore", 20000)
    await dlg.locator("button", { hasText: "Close" }).click()
    // The viewer gets no restore button.
    await carol.locator("#history-btn").click()
    await carol.locator('#versions-dialog #version-list [data-label="Approved by the client"]').waitFor({ timeout: 20000 })
    assert.equal(await carol.locator('#versions-dialog [data-action="restore"]').count(), 0)
    assert.equal(await carol.locator("#versions-dialog #version-create").count(), 0)
  })

  test("revoking the embed stops it", async () => {
    await alice.locator("#share-btn").click()
    const dlg = alice.locator("#share-dialog")
    await dlg.locator("#share-embeds .share-row button", { hasText: "Revoke" }).click()
    await dlg.locator("#share-embeds li", { hasText: "No embed links" }).waitFor({ timeout: 20000 })
    await dlg.locator("button", { hasText: "Close" }).click()
    // The embed that is open says so at once (the server withdraws its access live)...
    const open = embedPage.frameLocator("#casual-app")
    await open.locator('#embed-error[data-error="revoked"]').waitFor({ timeout: 20000 })
    // ...and stops following the app.
    await headline(alice).click()
    await alice.locator('#inspector [name="props.text"]').fill("After the revoke")
    await waitFor(async () => (await headlineText(bob)) === "After the revoke", "Bob sees Alice's edit", 20000)
    assert.equal(await open.locator("h1", { hasText: "After the revoke" }).count(), 0)
    // A fresh load of the link is refused before anything connects.
    const page = await newPage(browser, "Visitor again")
    page.sockets = []
    page.on("websocket", ws => page.sockets.push(ws.url()))
    await page.goto(`${host.origin}/?src=${encodeURIComponent(embedURL)}`)
    const box = page.frameLocator("#casual-app").locator("#embed-error")
    await box.waitFor({ timeout: 20000 })
    assert.equal(await box.getAttribute("data-error"), "revoked")
    assert.deepEqual(page.sockets, [], "a revoked embed never connects")
    await shot(page, "accounts-embed-revoked.png")
    // The token no longer opens the sync socket either (the accounts API says why).
    const token = new URL(embedURL).searchParams.get("token")
    await assert.rejects(api("GET", `/v1/apps/${appId}`, undefined, token), /token_revoked/)
  })

  test("a run-mode embed's clicks run handlers without write access to the app", async () => {
    const { access_token: token } = await api("POST", "/v1/auth/login", { email: users.bob.email, password: PASSWORD })
    const app = await api("POST", "/v1/apps", { name: "Embedded counter", template: "counter" }, token)
    const share = await api("POST", `/v1/apps/${app.id}/shares`, { kind: "embed", mode: "run", expires_in: 3600 }, token)
    assert.match(share.url, /\/embed\//)
    const page = await newPage(browser, "Run visitor")
    await page.goto(`${host.origin}/?src=${encodeURIComponent(share.url)}`)
    const frame = page.frameLocator("#casual-app")
    const value = frame.locator('[data-id="value"]')
    await value.waitFor({ timeout: 20000 })
    await frame.locator("button", { hasText: "+" }).click()
    await frame.locator("button", { hasText: "+" }).click()
    // The executor ran "inc" twice and the embed shows the new state live.
    await waitFor(async () => (await value.innerText()).includes("2"), "the count reaching 2 in the embed", 30000)
    const runs = await api("GET", `/v1/apps/${app.id}/executions`, undefined, token)
    const list = runs.executions ?? runs.runs ?? runs
    assert.equal(list.filter(r => r.handler === "inc" && r.status === "completed").length, 2)
    // The share token queues runs, but writes nothing else: the document stays read-only to it.
    const shareToken = new URL(share.url).searchParams.get("token")
    await assert.rejects(api("PUT", `/v1/apps/${app.id}`, { name: "renamed by a visitor" }, shareToken), /: 40[13] /)
    await shot(page, "accounts-embed-run.png")
    assert.deepEqual(page.errors, [])
    await page.context().close()
  })

  test("sign-in asks for the two-factor code when it is on", async () => {
    const dave = { name: "Dave Twofactor", email: "dave@example.test" }
    const reg = await api("POST", "/v1/auth/register", { ...dave, password: PASSWORD })
    const enr = await api("POST", "/v1/auth/2fa/enable", undefined, reg.access_token)
    const { backup_codes } = await api("POST", "/v1/auth/2fa/verify", { code: totp(enr.secret) }, reg.access_token)
    const page = await newPage(browser, "Dave")
    await page.goto(server.httpUrl + "/")
    // A code of the current step was just used to enrol: sign in with a backup code.
    await signIn(page, dave, backup_codes[0])
    await page.locator("#app-list").waitFor({ timeout: 20000 })
    assert.equal(await page.locator("#user-name").innerText(), dave.name)
    // Signing out ends the session: the sign-in form is back.
    await page.locator("#signout").click()
    await page.locator("#auth-form").waitFor({ timeout: 20000 })
    assert.deepEqual(page.errors, [])
  })

  test("nobody saw a page error", () => {
    for (const p of [alice, bob, carol]) assert.deepEqual(p.errors, [])
  })

})

/** totp is RFC 6238 (SHA-1, 6 digits, 30 s) of a base32 secret. */
function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
  let bits = ""
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0")
  const key = Buffer.from(bits.match(/.{8}/g).map(b => parseInt(b, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)))
  const mac = crypto.createHmac("sha1", key).update(counter).digest()
  const o = mac[mac.length - 1] & 0xf
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0")
}
