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
}

const cfg = readConfig<EmbedConfig>()
const root = document.getElementById("root")!
const host = new HostChannel(cfg.origins)

function fail(code: string, title: string, msg: string): void {
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
  let handle: DocHandle<AppDoc>
  try {
    handle = await conn.repo.find<AppDoc>(`automerge:${cfg.app}` as any)
  } catch {
    fail("unavailable", "This app is not available", "It may have been deleted, or the server cannot be reached.")
    return
  }
  new EmbedView(handle, reg, conn.repo.peerId)
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

  /** requestRun asks the executor to run a handler by adding a queued run. */
  private requestRun(handler: string | undefined, component: string, event: string): void {
    if (!handler || !this.doc.handlers?.[handler]) return
    const runId = `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    this.handle.change(d => {
      if (!d.runs) (d as any).runs = {}
      ;(d.runs as any)[runId] = amValue({
        handler, input: { component, event, page: this.page }, status: "queued", by: `embed:${this.peerId}`, at: Date.now(),
      })
    }, { message: `run ${handler} (embed)` })
    host.send({ type: "runRequested", run: runId, handler, component: { id: component } })
  }
}

main().catch(err => fail("error", "Something went wrong", String(err instanceof Error ? err.message : err)))
