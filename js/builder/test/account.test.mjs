// The builder's session (src/account.ts) against a fake API: tokens are
// kept, refreshed before they expire and rotated once even when many calls
// need a fresh one, a tab adopts what another tab refreshed, a refused
// refresh signs out; and the pure helpers of the app list and the version
// panel.
import { test } from "node:test"
import assert from "node:assert/strict"
import { importTS } from "./ts.mjs"

const { Session, ApiError, REFRESH_AHEAD_MS } = await importTS("account.ts")
const { groupApps } = await importTS("apps.ts")
const { treePage, diffLines } = await importTS("versions.ts")
const { embedSnippet } = await importTS("share.ts")

function memStore(init = {}) {
  const m = new Map(Object.entries(init))
  return { getItem: k => m.get(k) ?? null, setItem: (k, v) => m.set(k, v), removeItem: k => m.delete(k), m }
}

/** fakeAPI answers like /v1: numbered tokens, refresh rotation with reuse detection. */
function fakeAPI(clock) {
  let n = 0
  const live = new Set()
  const calls = []
  const tokens = () => {
    n++
    live.add(`r${n}`)
    return {
      access_token: `a${n}`, refresh_token: `r${n}`, session_id: "s1",
      expires_at: new Date(clock.now + 15 * 60_000).toISOString(),
      refresh_expires_at: new Date(clock.now + 7 * 86400_000).toISOString(),
    }
  }
  const reply = (status, body) => ({ status, ok: status < 300, json: async () => body })
  const fetch = async (path, init) => {
    const body = init.body ? JSON.parse(init.body) : undefined
    calls.push({ path, method: init.method, auth: init.headers.Authorization, body })
    await new Promise(r => setTimeout(r, 1))
    switch (path) {
      case "/v1/auth/login":
        if (body.password !== "pw") return reply(401, { error: { code: "invalid_credentials", message: "wrong email or password" } })
        if (!body.code) return reply(401, { error: { code: "mfa_required", message: "a two-factor code is required" } })
        return reply(200, { user: { id: "u1", email: body.email, name: "Ann" }, ...tokens() })
      case "/v1/auth/refresh":
        if (!live.delete(body.refresh_token)) return reply(401, { error: { code: "token_reused", message: "reused" } })
        return reply(200, tokens())
      case "/v1/auth/logout":
        return { status: 204, ok: true, json: async () => null }
      default:
        return reply(200, { path, auth: init.headers.Authorization })
    }
  }
  return { fetch, calls }
}

async function signedIn() {
  const clock = { now: Date.parse("2026-01-01T00:00:00Z") }
  const api = fakeAPI(clock)
  const store = memStore()
  const s = new Session({ store, fetch: api.fetch, now: () => clock.now })
  await s.login("ann@example.test", "pw", "123456")
  return { s, clock, api, store }
}

test("login asks for the two-factor code, then keeps the tokens", async () => {
  const clock = { now: Date.parse("2026-01-01T00:00:00Z") }
  const api = fakeAPI(clock)
  const store = memStore()
  const s = new Session({ store, fetch: api.fetch, now: () => clock.now })
  await assert.rejects(s.login("ann@example.test", "nope"), e => e instanceof ApiError && e.code === "invalid_credentials")
  await assert.rejects(s.login("ann@example.test", "pw"), e => e instanceof ApiError && e.code === "mfa_required" && e.status === 401)
  assert.equal(s.signedIn, false)
  await s.login("ann@example.test", "pw", "123456")
  assert.equal(s.user.name, "Ann")
  assert.equal(s.token, "a1")
  // Another page of the same browser starts signed in.
  const again = new Session({ store, fetch: api.fetch, now: () => clock.now })
  assert.equal(again.token, "a1")
  s.stop()
  again.stop()
})

test("API calls carry the access token, refreshed once shortly before it expires", async () => {
  const { s, clock, api } = await signedIn()
  const r = await s.api("GET", "/v1/apps")
  assert.equal(r.auth, "Bearer a1")
  clock.now += 15 * 60_000 - REFRESH_AHEAD_MS + 1000 // inside the refresh window
  const rs = await Promise.all([s.api("GET", "/v1/apps"), s.api("GET", "/v1/organizations"), s.fresh()])
  assert.deepEqual(rs.slice(0, 2).map(x => x.auth), ["Bearer a2", "Bearer a2"])
  assert.equal(rs[2], "a2")
  assert.equal(api.calls.filter(c => c.path === "/v1/auth/refresh").length, 1, "one rotation for concurrent callers")
  s.stop()
})

test("a tab adopts tokens another tab refreshed instead of reusing the old refresh token", async () => {
  const { s, clock, api, store } = await signedIn()
  const other = new Session({ store, fetch: api.fetch, now: () => clock.now })
  clock.now += 15 * 60_000 - REFRESH_AHEAD_MS + 1000
  await other.refresh()
  assert.equal(other.token, "a2")
  let changed = 0
  s.onChange(() => changed++)
  assert.equal(await s.fresh(), "a2", "the first tab takes the stored tokens")
  assert.equal(changed, 1)
  assert.equal(api.calls.filter(c => c.path === "/v1/auth/refresh").length, 1)
  s.stop()
  other.stop()
})

test("a refused refresh signs out", async () => {
  const { s, clock, api, store } = await signedIn()
  // The refresh token was used elsewhere (and the family revoked).
  await api.fetch("/v1/auth/refresh", { method: "POST", headers: {}, body: JSON.stringify({ refresh_token: "r1" }) })
  store.m.clear()
  clock.now += 15 * 60_000
  await assert.rejects(s.refresh(), e => e.code === "token_reused")
  assert.equal(s.signedIn, false)
  assert.equal(s.token, "")
  assert.equal(store.getItem("casual.session"), null)
})

test("logout ends the session on the server and forgets it", async () => {
  const { s, store, api } = await signedIn()
  await s.logout()
  assert.deepEqual(api.calls.filter(c => c.path === "/v1/auth/logout").map(c => c.auth), ["Bearer a1"])
  assert.equal(s.signedIn, false)
  assert.equal(store.getItem("casual.session"), null)
})

test("the app list groups mine, each organization's and shared apps", () => {
  const apps = [
    { id: "1", owner_id: "me", name: "Mine" },
    { id: "2", owner_id: "x", org_id: "o1", name: "Team app" },
    { id: "3", owner_id: "x", name: "Shared" },
    { id: "4", owner_id: "me", org_id: "o2", name: "Made in an org I left" },
  ]
  const g = groupApps(apps, "me", [{ id: "o1", name: "Team" }])
  assert.deepEqual(g.map(x => [x.title, x.apps.map(a => a.id)]), [["My apps", ["1"]], ["Team", ["2"]], ["Shared with me", ["3", "4"]]])
})

test("a version's tree renders like the document's, and diffs read as lines", () => {
  const p = treePage({
    id: "home", name: "Home", route: "/", index: "V",
    children: [{ id: "c", type: "card", page: "home", index: "V", props: { title: "T" }, children: [{ id: "t", type: "text", page: "home", parent: "c", index: "V" }] }],
  })
  assert.equal(p.children[0].comp.pos.parent, null)
  assert.equal(p.children[0].children[0].parent, "c")
  assert.deepEqual(p.children[0].children[0].comp.props, {})
  const lines = diffLines({
    added: [{ id: "b", type: "button", props: { label: "Go" } }], removed: null,
    changed: [{ id: "t", fields: ["props"], before: { id: "t", type: "text" }, after: { id: "t", type: "text", props: { text: "Hi" } } }],
    pages_added: ["about"], pages_removed: [], pages_changed: null,
  })
  assert.deepEqual(lines, ["+ button b “Go”", "~ text t “Hi”: props", "+ page about"])
})

test("the embed snippet escapes the title and the address", () => {
  assert.equal(embedSnippet("https://x/embed/a?token=t&p=1", 'My "app"'),
    '<iframe src="https://x/embed/a?token=t&amp;p=1" title="My &quot;app&quot;" style="width:100%;height:600px;border:0" loading="lazy"></iframe>')
})
