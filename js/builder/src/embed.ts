// The embed page: one app, live, inside someone else's page. The server
// only serves this page for a valid token; the token also rides on the
// WebSocket (/sync?token=…). Talks to the host page with the versioned
// postMessage protocol in protocol.ts.
import "./app.css"
import "./embed.css"
import type { DocHandle } from "@automerge/automerge-repo/slim"
import { amValue, plain } from "./doc.js"
import { connect, readConfig, type PageConfig } from "./net.js"
import { HostChannel } from "./protocol.js"
import { h, renderPage } from "./render.js"
import { RegistryView, type AppDoc, type Registry } from "./schema.js"
import { Tree, type TreePage } from "./tree.js"

interface EmbedConfig extends PageConfig {
  page: string
  lockPage: boolean
  mode: "view" | "run"
  origins: string[]
  token: string
  expires: number
  /** auth: the server runs with accounts; the token is a share token. */
  auth?: boolean
}

const cfg = readConfig<EmbedConfig>()
const root = document.getElementById("root")!
const host = new HostChannel(cfg.origins)
/** stopped: the embed showed an error and draws the app no more. */
let stopped = false

function fail(code: string, title: string, msg: string): void {
  stopped = true
  const box = h("div", "e-error")
  box.id = "embed-error"
  box.dataset.error = code
  box.append(h("h1", "", title), h("p", "", msg))
  root.replaceChildren(box)
  host.send({ type: "error", code, message: title })
}

async function main(): Promise<void> {
  if (cfg.expires * 1000 <= Date.now()) {
    // The token expired after the server rendered the page (a cached
    // tab): don't connect.
    fail("expired", "This embed link has expired", "Ask the app's owner for a new embed code.")
    return
  }
  root.replaceChildren(h("div", "e-loading", "Loading…"))
  const [registry, conn] = await Promise.all([
    fetch("/app/registry").then(r => r.json() as Promise<Registry>),
    connect(cfg, cfg.token),
  ])
  const reg = new RegistryView(registry)
  // When the socket drops after having worked, ask the server whether the
  // token still holds (a revoked or expired embed share): if not, say so
  // and stop, instead of showing a stale app that retries forever.
  let connected = false
  conn.onState(s => {
    if (s === "connected") connected = true
    else if (connected && !stopped) recheck().then(refused => {
      if (refused) conn.repo.shutdown().catch(() => {})
    })
  })
  // Access withdrawn while open (the share revoked): the server says so
  // on the socket; the page then says why.
  conn.onError(e => {
    if (stopped || (e.documentId && e.documentId !== cfg.app)) return
    if (["access_revoked", "unauthorized", "forbidden"].includes(e.code)) {
      recheck().then(refused => {
        if (!refused) fail("unavailable", "This app is not available any more", e.message)
        conn.repo.shutdown().catch(() => {})
      })
    }
  })
  let handle: DocHandle<AppDoc>
  try {
    handle = await conn.repo.find<AppDoc>(`automerge:${cfg.app}` as any)
  } catch {
    fail("unavailable", "This app is not available", "It may have been deleted, or the server cannot be reached.")
    return
  }
  new EmbedView(handle, reg, conn.repo.peerId)
}

/** recheck loads this page again; true if the server now refuses the token. */
async function recheck(): Promise<boolean> {
  let res: Response
  try {
    res = await fetch(location.href, { cache: "no-store", credentials: "omit" })
  } catch {
    return false // offline: the socket retries
  }
  if (res.status !== 401 && res.status !== 403) return false
  const page = new DOMParser().parseFromString(await res.text(), "text/html")
  const box = page.getElementById("embed-error")
  fail(box?.dataset.error || "invalid", box?.querySelector("h1")?.textContent || "This embed link is not valid any more",
    box?.querySelector("p")?.textContent || "")
  return true
}

class EmbedView {
  private page = ""
  private doc!: AppDoc
  private tree!: Tree
  private frame = 0
  private readySent = false

  constructor(
    private handle: DocHandle<AppDoc>,
    private reg: RegistryView,
    private peerId: string
  ) {
    this.page = cfg.page
    handle.on("change", () => this.schedule())
    host.onCommand = m => this.command(m)
    root.addEventListener("click", e => this.click(e))
    root.addEventListener("submit", e => e.preventDefault())
    this.draw()
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => {
      this.frame = 0
      this.draw()
    })
  }

  private current(): TreePage | undefined {
    return this.tree.page(this.page) ?? (cfg.lockPage ? undefined : this.tree.pages[0])
  }

  private draw(): void {
    if (stopped) return
    this.doc = plain(this.handle.doc()) as AppDoc
    this.tree = Tree.build(this.doc, t => this.reg.canContain(t))
    const page = this.current()
    if (!page) {
      fail("page_missing", "This page is not available", "The page this embed shows was removed from the app.")
      return
    }
    if (page.id !== this.page) this.page = page.id
    document.title = String(this.doc.meta?.name ?? "App")
    const el = renderPage(page, {
      mode: cfg.mode === "run" ? "run" : "view", reg: this.reg,
      state: this.doc.state ?? {}, tokens: this.doc.theme?.tokens ?? {},
    })
    const shell = h("div", `e-app e-${cfg.mode}`)
    shell.append(el)
    root.replaceChildren(shell)
    if (!this.readySent) {
      this.readySent = true
      host.send({ type: "ready", app: cfg.app, mode: cfg.mode, page: this.pageInfo(page), pages: this.pageList() })
    }
  }

  private pageInfo(p: TreePage) {
    return { id: p.id, name: p.name, route: p.route }
  }

  private pageList() {
    return cfg.lockPage ? [] : this.tree.pages.map(p => this.pageInfo(p))
  }

  private navigate(target: { page?: string; route?: string }): boolean {
    const p = this.tree.pages.find(x => (target.page && x.id === target.page) || (target.route && x.route === target.route))
    if (!p || (cfg.lockPage && p.id !== cfg.page)) return false
    if (p.id !== this.page) {
      this.page = p.id
      this.draw()
    }
    host.send({ type: "navigated", page: this.pageInfo(p) })
    return true
  }

  private command(m: Record<string, unknown>): void {
    if (m.type === "navigate") {
      const ok = this.navigate({ page: typeof m.page === "string" ? m.page : undefined, route: typeof m.route === "string" ? m.route : undefined })
      if (!ok) host.send({ type: "error", code: "unknown_page", message: "no such page in this embed", replyTo: m.id })
      return
    }
    host.send({ type: "error", code: "unknown_command", message: `unknown command ${String(m.type).slice(0, 40)}`, replyTo: m.id })
  }

  private click(e: Event): void {
    const target = e.target as Element
    const comp = target.closest<HTMLElement>("[data-id]")
    const link = target.closest<HTMLAnchorElement>("a[href]")
    if (link) {
      const href = link.getAttribute("href") ?? ""
      if (href.startsWith("/") && !href.startsWith("//")) {
        e.preventDefault()
        this.navigate({ route: href })
      } else if (href === "#" || href === "") e.preventDefault()
      else link.target = "_blank" // never navigate the frame away from the app
    }
    if (!comp) return
    const id = comp.dataset.id!
    const n = this.tree.node(id)
    if (!n) return
    host.send({ type: "componentClicked", component: { id, type: n.type }, page: this.pageInfo(this.current()!) })
    if (cfg.mode === "run") this.requestRun(n.comp.handlers?.click, id, "click")
  }

  /**
   * requestRun asks the executor to run a handler. With accounts on, a run
   * embed's share token gives no write access to the document, so the run
   * is queued through the API, which accepts run-mode shares; otherwise it
   * is added to the document's runs as a queued run. Either way the result
   * arrives in the document, live.
   */
  private requestRun(handler: string | undefined, component: string, event: string): void {
    if (!handler || !this.doc.handlers?.[handler]) return
    const input = { component, event, page: this.page }
    if (cfg.auth) {
      fetch(`/v1/apps/${encodeURIComponent(cfg.app)}/execute`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${cfg.token}` },
        body: JSON.stringify({ handler, input }),
      }).then(async r => {
        const body = await r.json().catch(() => ({}))
        if (!r.ok) {
          host.send({ type: "error", code: "run_refused", message: body?.error?.message ?? `run refused (${r.status})` })
          return
        }
        host.send({ type: "runRequested", run: body.id, handler, component: { id: component } })
      }).catch(err => host.send({ type: "error", code: "run_failed", message: String(err) }))
      return
    }
    const runId = `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    this.handle.change(d => {
      if (!d.runs) (d as any).runs = {}
      ;(d.runs as any)[runId] = amValue({
        handler, input, status: "queued", by: `embed:${this.peerId}`, at: Date.now(),
      })
    }, { message: `run ${handler} (embed)` })
    host.send({ type: "runRequested", run: runId, handler, component: { id: component } })
  }
}

main().catch(err => fail("error", "Something went wrong", String(err instanceof Error ? err.message : err)))
