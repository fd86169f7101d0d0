// Browser tests of the WebRTC edge (signaling/), in headless Chromium:
//  (a) a page reaches the server over WebRTC with an unmodified
//      automerge-repo Repo and WebRTCServerAdapter, and syncs a document and
//      presence with a Node WebSocket client;
//  (b) two pages open a direct data channel through the signaling relay.
//
// The server: CASUAL_URL (http://host:port of a running server with
// /rtc/* and /signal mounted), else CASUAL_BIN spawned like the interop
// tests, else signaling/internal/testserver built with `go build`.
// Chromium: CHROMIUM_PATH, default /usr/bin/chromium.
//
//   node --test js/webrtc/
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"
import { chromium } from "playwright-core"
import { startServer } from "../interop/server.mjs"
import { Clients, connected, waitFor, within, generateAutomergeUrl } from "../interop/client.mjs"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "../..")

let base, server, browser, dir, clients
const pageLogs = []

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "casual-webrtc-"))
  await esbuild.build({
    entryPoints: [path.join(here, "page.mjs")],
    bundle: true,
    format: "esm",
    platform: "browser",
    // @automerge/automerge's "webpack" entry embeds its wasm as base64.
    conditions: ["webpack"],
    outfile: path.join(dir, "page.js"),
    logLevel: "error",
  })
  fs.writeFileSync(
    path.join(dir, "index.html"),
    '<!doctype html><meta charset="utf-8"><title>casual webrtc</title><script type="module" src="page.js"></script>\n'
  )
  base = process.env.CASUAL_URL?.replace(/\/$/, "")
  if (!base) {
    if (!process.env.CASUAL_BIN) {
      const bin = path.join(dir, "testserver")
      execFileSync("go", ["build", "-o", bin, "./signaling/internal/testserver"], { cwd: repoRoot, stdio: "inherit" })
      process.env.CASUAL_BIN = bin
    }
    server = await startServer()
    base = server.httpUrl
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      // Host candidates with real addresses, loopback included, so pages
      // and the server connect on one machine without STUN or mDNS.
      "--allow-loopback-in-peer-connection",
      // The test pages are served by page.route, so Chromium does not
      // know they come from 127.0.0.1 and its Local Network Access checks
      // would block their WebSocket to the relay.
      "--disable-features=WebRtcHideLocalIpsWithMdns,LocalNetworkAccessChecks",
    ],
  })
  clients = new Clients(base.replace(/^http/, "ws") + "/sync")
})

after(async () => {
  clients?.closeAll()
  await browser?.close()
  await server?.dispose()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

/** A page on the server's origin (so fetch to /rtc/* is same-origin) whose files come from the bundle dir. */
async function openPage(name) {
  const page = await browser.newPage()
  page.on("console", m => pageLogs.push(`[${name}] ${m.type()}: ${m.text()}`))
  page.on("pageerror", e => pageLogs.push(`[${name}] pageerror: ${e.message}`))
  await page.route(`${base}/__webrtc/**`, route => {
    const file = path.join(dir, path.basename(new URL(route.request().url()).pathname))
    return fs.existsSync(file) ? route.fulfill({ path: file }) : route.fulfill({ status: 404 })
  })
  await page.goto(`${base}/__webrtc/index.html`)
  await page.waitForFunction(() => globalThis.casualTest)
  return page
}

/** Runs fn, printing the pages' console on failure. */
async function withLogs(fn) {
  try {
    await fn()
  } catch (err) {
    err.message += `\n--- page logs ---\n${pageLogs.slice(-40).join("\n")}\n--- server logs ---\n${server?.logs(30) ?? "(external)"}`
    throw err
  }
}

async function metric(name, labels) {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split("\n").find(l => l.startsWith(name + labels + " "))
  return line ? Number(line.split(" ").pop()) : 0
}

test("a page syncs a document and presence with the server over WebRTC", { timeout: 120_000 }, () =>
  withLogs(async () => {
    const page = await openPage("a")
    const url = await page.evaluate(async () => {
      const { Repo, WebRTCServerAdapter } = globalThis.casualTest
      const adapter = new WebRTCServerAdapter(location.origin)
      const repo = new Repo({ network: [adapter] })
      await repo.networkSubsystem.whenReady()
      if (repo.peers.length === 0) throw new Error("the server never answered join over the data channel")
      const h = repo.create({ title: "from the browser", count: 0 })
      const got = []
      let presenceFrames = 0
      adapter.presenceChannel.addEventListener("message", () => presenceFrames++)
      h.on("ephemeral-message", e => got.push({ senderId: e.senderId, message: e.message }))
      const same = (a, b) => Array.isArray(a) && a.length === b.length && [...a].sort().join() === [...b].sort().join()
      const acked = () => {
        const sid = repo.peerMetadataByPeerId[repo.peers[0]]?.storageId
        return !!sid && same(h.getSyncInfo(sid)?.lastHeads, h.heads())
      }
      Object.assign(globalThis, { repo, adapter, h, got, acked, presence: () => presenceFrames })
      return h.url
    })
    await page.waitForFunction(() => globalThis.acked())

    const node = clients.repo()
    await connected(node)
    const hn = await within(node.find(url), 15_000, "Node client find")
    assert.equal(hn.doc().title, "from the browser")

    hn.change(d => {
      d.count = 1
    })
    await page.waitForFunction(() => globalThis.h.doc().count === 1)
    await page.evaluate(() => globalThis.h.change(d => (d.count = 2)))
    await waitFor(() => hn.doc().count === 2, { what: "the browser's change at the Node client" })

    // Presence both ways; the page's goes out on the unreliable channel and
    // the server's comes back on it.
    const gotN = []
    hn.on("ephemeral-message", e => gotN.push(e))
    const inBefore = await metric("casual_rtc_presence_frames_total", '{result="received"}')
    await page.evaluate(() => globalThis.h.broadcast({ cursor: 42 }))
    await waitFor(() => gotN.some(e => e.message?.cursor === 42), { what: "the browser's presence at the Node client" })
    assert.ok((await metric("casual_rtc_presence_frames_total", '{result="received"}')) > inBefore, "server got it on the presence channel")
    hn.broadcast({ cursor: 7 })
    await page.waitForFunction(() => globalThis.got.some(e => e.message?.cursor === 7))
    assert.ok((await page.evaluate(() => globalThis.presence())) > 0, "presence arrived on the presence channel")

    // A frame over the channel's 64 KiB message limit travels in fragments,
    // both ways: 100 KiB of random bytes does not compress below it.
    const fragments = await page.evaluate(() => {
      const frags = { in: 0, out: 0 }
      const rel = globalThis.adapter.reliable
      rel.addEventListener("message", e => typeof e.data !== "string" && new Uint8Array(e.data)[0] <= 1 && frags.in++)
      const send = rel.send.bind(rel)
      rel.send = b => (b[0] <= 1 && frags.out++, send(b))
      globalThis.frags = frags
      const blob = new Uint8Array(100 * 1024)
      for (let i = 0; i < blob.length; i += 65536) crypto.getRandomValues(blob.subarray(i, i + 65536))
      globalThis.h.change(d => (d.blob = blob))
      return blob.reduce((a, b) => a + b, 0)
    })
    await waitFor(() => hn.doc().blob?.length === 100 * 1024, { what: "100 KiB from the browser" })
    assert.equal(hn.doc().blob.reduce((a, b) => a + b, 0), fragments)
    const blob2 = new Uint8Array(100 * 1024).map(() => Math.floor(Math.random() * 256))
    hn.change(d => {
      d.blob2 = blob2
    })
    await page.waitForFunction(() => globalThis.h.doc().blob2?.length === 100 * 1024)
    const frags = await page.evaluate(() => globalThis.frags)
    assert.ok(frags.out >= 2 && frags.in >= 2, `fragments sent ${frags.out}, received ${frags.in}`)

    const peersBefore = await metric("casual_rtc_peers", "")
    assert.ok(peersBefore >= 1)
    await page.evaluate(() => globalThis.adapter.disconnect())
    await waitFor(async () => (await metric("casual_rtc_peers", "")) === peersBefore - 1, {
      what: "the server to release the peer connection",
    })
    await page.close()
  })
)

test("two pages open a direct data channel through the relay", { timeout: 120_000 }, () =>
  withLogs(async () => {
    const doc = generateAutomergeUrl().slice("automerge:".length)
    const alice = await openPage("alice")
    const bob = await openPage("bob")
    const join = (page, peer) =>
      page.evaluate(
        async ([doc, peer]) => {
          globalThis.mesh = globalThis.casualTest.joinMesh(location.origin, doc, peer)
          await globalThis.mesh.ready
        },
        [doc, peer]
      )
    await join(alice, "alice")
    await alice.waitForFunction(() => globalThis.mesh.self === "alice")
    await join(bob, "bob")
    // Bob learns from the relay who is already in the room.
    await bob.waitForFunction(() => globalThis.mesh.peers.includes("alice"))
    assert.deepEqual(await bob.evaluate(() => globalThis.mesh.peers), ["alice"])
    await alice.waitForFunction(() => globalThis.mesh.channels.has("bob"))
    await bob.waitForFunction(() => globalThis.mesh.channels.has("alice"))

    await bob.evaluate(() => globalThis.mesh.send("alice", "hello from bob"))
    await alice.waitForFunction(() => globalThis.mesh.received.some(m => m.from === "bob" && m.data === "hello from bob"))
    await alice.evaluate(() => globalThis.mesh.send("bob", "hi bob"))
    await bob.waitForFunction(() => globalThis.mesh.received.some(m => m.from === "alice" && m.data === "hi bob"))

    // Bad input gets a precise error, and the relay connection stays up.
    await alice.evaluate(() => {
      globalThis.mesh.sendRaw('{"type":"offer","to":"bob","sdp":"v=0\\r\\nnot sdp"}')
      globalThis.mesh.sendRaw('{"type":"candidate","to":"carol","candidate":{"candidate":""}}')
    })
    await alice.waitForFunction(() => globalThis.mesh.errors.some(e => e.code === "unknown_peer"))
    const errors = await alice.evaluate(() => globalThis.mesh.errors)
    assert.deepEqual(
      errors.map(e => e.code),
      ["invalid_sdp", "unknown_peer"]
    )

    await bob.evaluate(() => globalThis.mesh.close())
    await alice.waitForFunction(() => !globalThis.mesh.peers.includes("bob"))
    await alice.evaluate(() => globalThis.mesh.close())
    await alice.close()
    await bob.close()
  })
)
