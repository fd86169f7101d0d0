// Shared setup of the browser tests: the server (CASUAL_BIN, else the
// test-only devserver in web/ui/internal/devserver, built after the pages
// are bundled), headless Chromium, and small helpers.
import { execFileSync } from "node:child_process"
import crypto from "node:crypto"
import fs from "node:fs"
import http from "node:http"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { chromium } from "playwright-core"
import { startServer } from "../../interop/server.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(here, "../../..")
export const screenshots = path.join(repoRoot, "artifacts/screenshots")

// The servers under test sign embed tokens with this key, so tests can
// also sign tokens the endpoint would refuse to (expired ones).
export const EMBED_KEY = "casual-browser-tests-embed-key-0001"

export async function startCasual() {
  if (!process.env.CASUAL_BIN) {
    execFileSync("bash", ["scripts/build-web.sh"], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] })
    const bin = path.join(os.tmpdir(), `casual-devserver-${process.pid}`)
    execFileSync("go", ["build", "-o", bin, "./web/ui/internal/devserver"], { cwd: repoRoot, stdio: "inherit" })
    process.on("exit", () => fs.rmSync(bin, { force: true }))
    process.env.CASUAL_BIN = bin
  }
  process.env.CASUAL_EMBED_KEY ||= EMBED_KEY
  return startServer()
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  })
}

/** newPage opens a context with a fixed visitor name and collects page errors. */
export async function newPage(browser, name, color = "#e11d48") {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 860 } })
  await ctx.addInitScript(
    ([n, c]) => {
      localStorage.setItem("casual.name", n)
      localStorage.setItem("casual.color", c)
    },
    [name, color]
  )
  const page = await ctx.newPage()
  page.errors = []
  page.on("pageerror", e => page.errors.push(e.message))
  return page
}

export async function createApp(base, template) {
  const res = await fetch(`${base}/app/new?template=${template}`, { method: "POST" })
  if (res.status !== 201) throw new Error(`create app: ${res.status} ${await res.text()}`)
  return (await res.json()).id
}

export async function openBuilder(page, base, id) {
  await page.goto(`${base}/edit/${id}`)
  await page.locator('#conn[data-state="connected"]').waitFor({ timeout: 15000 })
  await page.locator(".cx-page").waitFor()
}

/** drag presses at from's centre (or point) and releases over to. */
export async function drag(page, from, to) {
  const a = await point(from)
  const b = await point(to)
  await page.mouse.move(a.x, a.y)
  await page.mouse.down()
  await page.mouse.move(a.x + 8, a.y + 8, { steps: 2 })
  await page.mouse.move(b.x, b.y, { steps: 10 })
  await page.mouse.up()
}

async function point(p) {
  if (typeof p.x === "number" && typeof p.y === "number") return p
  // A Locator (it has a locator method), or {locator, fx, fy}.
  const loc = typeof p.locator === "function" ? p : p.locator
  // The canvas re-renders on every change: retry while it is replaced.
  const box = await waitFor(() => loc.boundingBox({ timeout: 2000 }), `a box for ${loc}`, 5000)
  return { x: box.x + (p.fx ?? 0.5) * box.width, y: box.y + (p.fy ?? 0.5) * box.height }
}

export async function shot(page, name) {
  fs.mkdirSync(screenshots, { recursive: true })
  await page.screenshot({ path: path.join(screenshots, name) })
}

/** order returns the component ids in the canvas in document order. */
export function order(page) {
  return page.$$eval(".cx-page [data-id]", els => els.map(e => e.dataset.id))
}

/** signToken signs embed claims like ui.SignEmbedToken (HMAC-SHA256). */
export function signToken(claims, key = EMBED_KEY) {
  const payload = Buffer.from(JSON.stringify({ v: 1, ...claims })).toString("base64url")
  const sig = crypto.createHmac("sha256", key).update(payload).digest("base64url")
  return `${payload}.${sig}`
}

/** hostServer serves, on another port, a page that iframes ?src=. */
export async function hostServer() {
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, "http://x")
    const src = u.searchParams.get("src") || ""
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" })
    res.end(`<!doctype html><meta charset="utf-8"><title>Host page</title>
<style>body{font:15px system-ui;margin:24px;background:#f1f5f9} iframe{width:860px;height:560px;border:1px solid #cbd5e1;border-radius:8px;background:#fff}</style>
<h1>A host page on another origin</h1>
<iframe id="casual-app" src="${src.replace(/"/g, "&quot;")}"></iframe>
<script>
window.messages = []
const frame = document.getElementById("casual-app")
const EMBED_ORIGIN = new URL(frame.src).origin
addEventListener("message", e => {
  if (e.origin !== EMBED_ORIGIN || e.source !== frame.contentWindow) return
  const m = e.data
  if (!m || m.protocol !== "casual-embed" || m.version !== 1) return
  window.messages.push(m)
})
window.navigateEmbed = page =>
  frame.contentWindow.postMessage({ protocol: "casual-embed", version: 1, type: "navigate", page }, EMBED_ORIGIN)
</script>`)
  })
  await new Promise(r => srv.listen(0, "127.0.0.1", r))
  const origin = `http://127.0.0.1:${srv.address().port}`
  return { origin, close: () => new Promise(r => srv.close(r)) }
}

export async function waitFor(fn, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  let last
  while (Date.now() < deadline) {
    try {
      last = await fn()
      if (last) return last
    } catch (err) {
      last = err
    }
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`)
}
