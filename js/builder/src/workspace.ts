// The workspace of one app: top bar (name, pages, undo/redo, people,
// connection, embed), palette, layers tree, canvas and props panel, with
// everyone's cursors and selections drawn over the canvas.
import type { DocHandle } from "@automerge/automerge-repo/slim"
import { beginDrag, type DragHost, type DragSource, type DropSpot } from "./drag.js"
import { AIPanel } from "./ai.js"
import { Editor, OpError } from "./editor.js"
import { Inspector, titleCase } from "./inspector.js"
import type { Session, User } from "./account.js"
import type { Connection } from "./net.js"
import { Room, setVisitorName, visitorColor, visitorName, type Peer } from "./presence.js"
import { h, renderPage } from "./render.js"
import type { AppDoc, RegistryView } from "./schema.js"
import { shareDialog } from "./share.js"
import { Tree, type TreeNode } from "./tree.js"
import { versionsDialog } from "./versions.js"

/** AccountCtx is who is signed in and their role on the app (accounts on). */
export interface AccountCtx {
  session: Session
  user: User
  role: string // owner, admin, editor or viewer
}

/** canWrite reports whether a role may change the app. */
export function canWrite(role: string): boolean {
  return role === "owner" || role === "admin" || role === "editor"
}

const CATEGORIES = ["layout", "content", "inputs", "data"]

export class Workspace {
  readonly ed: Editor
  readonly room: Room
  private tree: Tree
  private doc: AppDoc
  page = ""
  selected: string | null = null
  private frame = 0
  private els: Record<string, HTMLElement> = {}
  private inspector: Inspector
  private drag: DragHost
  private toastTimer: ReturnType<typeof setTimeout> | undefined
  /** readOnly: the builder of a viewer, who sees everything live and changes nothing. */
  readonly readOnly: boolean

  constructor(
    private root: HTMLElement,
    private conn: Connection,
    readonly handle: DocHandle<AppDoc>,
    readonly reg: RegistryView,
    readonly account?: AccountCtx
  ) {
    const name = account ? account.user.name || account.user.email : visitorName()
    this.readOnly = !!account && !canWrite(account.role)
    this.ed = new Editor(handle, reg, account ? `user:${account.user.id}` : `browser:${name}`)
    this.ed.readOnly = this.readOnly
    this.doc = this.ed.snapshot()
    this.tree = this.ed.tree(this.doc)
    this.page = this.tree.pages[0]?.id ?? ""
    this.layout()
    this.inspector = new Inspector(this.els.inspector, this.ed, m => this.toast(m))
    this.room = new Room(handle as DocHandle<unknown>, {
      name, color: visitorColor(), kind: "human", page: this.page, cursor: null, selection: null,
    })
    this.drag = this.dragHost()
    this.room.onChange = () => this.schedule()
    this.ed.undo.onChange = () => this.schedule()
    handle.on("change", () => this.onDocChange())
    conn.onState(s => {
      const el = this.els.conn
      el.dataset.state = s
      el.textContent = s === "connected" ? "Connected" : s === "offline" ? "Offline" : "Connecting…"
    })
    this.bindKeys()
    this.schedule()
  }

  appName(): string {
    return String(this.doc.meta?.name ?? "Untitled app")
  }

  private layout(): void {
    const app = h("div", "b-app")
    const top = h("header", "b-top")
    const logo = h("a", "b-logo", "Casual") as HTMLAnchorElement
    logo.href = "/"
    const name = h("input", "b-appname") as HTMLInputElement
    name.id = "app-name"
    name.oninput = () => this.ed.setAppName(name.value)
    const pages = h("nav", "b-pages")
    pages.id = "pages"
    const undo = button("↶", "Undo (Ctrl+Z)", () => this.undo())
    undo.id = "undo"
    const redo = button("↷", "Redo (Ctrl+Shift+Z)", () => this.redo())
    redo.id = "redo"
    const peers = h("div", "b-peers")
    peers.id = "peers"
    const conn = h("span", "b-conn", "Connecting…")
    conn.id = "conn"
    conn.dataset.state = "connecting"
    const me = button(visitorName(), "Your display name (click to change)", () => this.rename())
    me.id = "me"
    me.classList.add("b-me")
    me.style.setProperty("--peer", visitorColor())
    const acct = this.account
    if (acct) {
      // Signed in: people, embeds and versions live in the accounts API.
      const admin = acct.role === "owner" || acct.role === "admin"
      const share = button("Share", "Share with people, or embed in another site", () =>
        shareDialog(this.root, acct.session, this.handle.documentId, this.appName(), admin))
      share.id = "share-btn"
      const hist = button("History", "Named versions: view, compare, restore", () =>
        versionsDialog(this.root, {
          session: acct.session, app: this.handle.documentId, reg: this.reg, canWrite: !this.readOnly,
          tokens: () => this.doc.theme?.tokens ?? {}, toast: m => this.toast(m),
        }))
      hist.id = "history-btn"
      me.textContent = acct.user.name || acct.user.email
      me.title = `Signed in as ${acct.user.email} (${acct.role}). Click to sign out.`
      me.onclick = () => this.signOut()
      const badge = h("span", "b-badge", this.readOnly ? "View only" : titleCase(acct.role))
      badge.id = "role-badge"
      badge.dataset.role = acct.role
      top.append(logo, name, pages, h("div", "b-spacer"), badge, undo, redo, peers, conn, hist, share, me)
    } else {
      const embed = button("Embed", "Embed this app in another page", () => this.embedDialog())
      embed.id = "embed-btn"
      top.append(logo, name, pages, h("div", "b-spacer"), undo, redo, peers, conn, embed, me)
    }

    const left = h("aside", "b-left")
    const palette = h("section", "b-palette")
    palette.id = "palette"
    palette.append(h("h3", "", "Components"))
    for (const cat of CATEGORIES) {
      const types = this.reg.types.filter(t => t.category === cat)
      if (!types.length) continue
      palette.append(h("div", "b-cat", titleCase(cat)))
      const grid = h("div", "b-chips")
      for (const t of types) {
        const chip = h("div", "b-chip", t.type)
        chip.dataset.palette = t.type
        chip.title = t.description
        chip.onpointerdown = e => beginDrag(this.drag, { kind: "new", type: t.type }, e, titleCase(t.type))
        grid.append(chip)
      }
      palette.append(grid)
    }
    const layersBox = h("section", "b-layers-box")
    layersBox.append(h("h3", "", "Layers"))
    const layers = h("div", "b-layers")
    layers.id = "layers"
    layersBox.append(layers)
    left.append(palette, layersBox)

    const center = h("main", "b-center")
    center.id = "center"
    const artboard = h("div", "b-artboard")
    artboard.id = "artboard"
    const pageHost = h("div", "b-page-host")
    pageHost.id = "page-host"
    const overlay = h("div", "b-overlay")
    overlay.id = "overlay"
    artboard.append(pageHost, overlay)
    center.append(artboard)
    artboard.onpointerdown = e => {
      const el = (e.target as Element).closest<HTMLElement>("[data-id]")
      if (el && this.readOnly) this.select(el.dataset.id!)
      else if (el) beginDrag(this.drag, { kind: "move", id: el.dataset.id! }, e, titleCase(el.dataset.type ?? ""))
      else this.select(null)
    }
    artboard.onpointermove = e => {
      const r = artboard.getBoundingClientRect()
      this.room.setCursor({ x: Math.round(e.clientX - r.left), y: Math.round(e.clientY - r.top) })
    }
    artboard.onpointerleave = () => this.room.setCursor(null)
    artboard.addEventListener("click", e => e.preventDefault()) // links and submits do nothing while designing

    const right = h("aside", "b-right")
    const inspector = h("div", "b-inspector")
    inspector.id = "inspector"
    const ai = new AIPanel(this.handle.documentId, () => this.selected)
    right.append(ai.el, inspector)
    if (this.readOnly) {
      app.classList.add("b-readonly")
      name.readOnly = true
      inspector.inert = true // shows the selection's props, edits nothing
      ai.el.remove()
      palette.remove()
    }

    const toast = h("div", "b-toast")
    toast.id = "toast"
    app.append(top, left, center, right, toast)
    this.root.replaceChildren(app)
    this.els = { app, name, pages, undo, redo, peers, conn, layers, artboard, pageHost, overlay, inspector, toast, me }
  }

  private dragHost(): DragHost {
    return {
      artboard: this.els.artboard,
      pageRoot: () => this.els.pageHost.querySelector<HTMLElement>(".cx-page"),
      layers: this.els.layers,
      tree: () => this.tree,
      page: () => this.page,
      canContain: t => this.reg.canContain(t),
      show: spot => this.showSpot(spot),
      click: src => {
        if (src.kind === "move") this.select(src.id)
      },
      drop: (src, spot) => this.drop(src, spot),
    }
  }

  private drop(src: DragSource, spot: DropSpot): void {
    try {
      if (src.kind === "new") {
        const typ = this.reg.lookup(src.type)
        const props: Record<string, unknown> = {}
        if (typ?.props.some(p => p.name === "label") && typ.category === "inputs" && src.type !== "button") {
          props.label = titleCase(src.type)
        }
        const id = this.ed.addComponent(src.type, spot.target, props)
        this.select(id)
      } else {
        this.ed.move(src.id, spot.target)
        this.select(src.id)
      }
    } catch (err) {
      this.toast(err instanceof OpError || err instanceof Error ? err.message : String(err))
    }
  }

  private onDocChange(): void {
    this.doc = this.ed.snapshot()
    this.tree = this.ed.tree(this.doc)
    if (!this.tree.page(this.page)) this.setPage(this.tree.pages[0]?.id ?? "")
    if (this.selected && !this.tree.node(this.selected)) this.select(null)
    this.schedule(true)
  }

  private dirtyDoc = true
  /** schedule redraws on the next frame (doc: the document changed too). */
  schedule(doc = false): void {
    this.dirtyDoc ||= doc
    if (this.frame) return
    this.frame = requestAnimationFrame(() => {
      this.frame = 0
      if (this.dirtyDoc) {
        this.dirtyDoc = false
        this.renderDoc()
      }
      this.renderPresence()
    })
  }

  private renderDoc(): void {
    const { name, undo, redo } = this.els
    if (document.activeElement !== name) (name as HTMLInputElement).value = this.appName()
    document.title = `${this.appName()} · Casual`
    undo.toggleAttribute("disabled", !this.ed.undo.canUndo)
    redo.toggleAttribute("disabled", !this.ed.undo.canRedo)
    this.renderPages()
    const page = this.tree.page(this.page)
    if (page) {
      const el = renderPage(page, { mode: "design", reg: this.reg, state: this.doc.state ?? {}, tokens: this.doc.theme?.tokens ?? {} })
      this.els.pageHost.replaceChildren(el)
    } else this.els.pageHost.replaceChildren()
    this.renderLayers()
    this.inspector.show(this.tree.node(this.selected), page, this.tree.pages.length)
  }

  private renderPages(): void {
    const nav = this.els.pages
    if (nav.querySelector("input")) return // renaming
    nav.replaceChildren()
    for (const p of this.tree.pages) {
      const tab = button(p.name || p.id, p.route, () => this.setPage(p.id))
      tab.className = p.id === this.page ? "b-tab b-tab-active" : "b-tab"
      tab.dataset.pageId = p.id
      if (!this.readOnly) tab.ondblclick = () => this.renamePageInline(tab, p.id, p.name)
      nav.append(tab)
    }
    const add = button("+", "Add a page", () => {
      try {
        const id = this.ed.addPage(`Page ${this.tree.pages.length + 1}`)
        this.onDocChange()
        this.setPage(id)
      } catch (err) {
        this.toast(String(err))
      }
    })
    add.id = "add-page"
    add.className = "b-tab b-tab-add"
    if (!this.readOnly) nav.append(add)
  }

  private renamePageInline(tab: HTMLElement, id: string, current: string): void {
    const inp = h("input", "b-tab-input") as HTMLInputElement
    inp.value = current
    tab.replaceWith(inp)
    inp.focus()
    inp.select()
    const done = (save: boolean) => {
      inp.onblur = null
      if (save && inp.value.trim() && inp.value !== current) {
        try {
          this.ed.renamePage(id, inp.value)
        } catch (err) {
          this.toast(String(err))
        }
      }
      inp.remove()
      this.schedule(true)
    }
    inp.onkeydown = e => {
      if (e.key === "Enter") done(true)
      if (e.key === "Escape") done(false)
    }
    inp.onblur = () => done(true)
  }

  setPage(id: string): void {
    if (id === this.page) return
    this.page = id
    this.select(null)
    this.room.set("page", id)
    this.schedule(true)
  }

  select(id: string | null): void {
    if (id === this.selected) return
    this.selected = id
    this.room.set("selection", id)
    this.schedule(true)
  }

  private renderLayers(): void {
    const box = this.els.layers
    const page = this.tree.page(this.page)
    box.replaceChildren()
    if (!page) return
    const pageRow = h("div", "b-layer b-layer-page", `▾ ${page.name}`)
    pageRow.dataset.layerId = ""
    box.append(pageRow)
    const walk = (ns: TreeNode[], depth: number) => {
      for (const n of ns) {
        const row = h("div", n.id === this.selected ? "b-layer b-layer-selected" : "b-layer")
        row.dataset.layerId = n.id
        row.style.paddingLeft = `${8 + depth * 14}px`
        const label = labelOf(n)
        row.append(h("span", "b-layer-type", n.type), h("span", "b-layer-name", label))
        row.onpointerdown = e => this.readOnly ? this.select(n.id) : beginDrag(this.drag, { kind: "move", id: n.id }, e, label || n.type)
        box.append(row)
        walk(n.children, depth + 1)
      }
    }
    walk(page.children, 1)
    const ind = h("div", "b-layer-indicator")
    ind.id = "layer-indicator"
    box.append(ind)
  }

  private showSpot(spot: DropSpot | null): void {
    for (const id of ["drop-indicator", "layer-indicator"]) {
      const el = document.getElementById(id)
      if (el) el.style.display = "none"
    }
    if (!spot) return
    let el: HTMLElement | null
    if (spot.area === "canvas") {
      el = document.getElementById("drop-indicator")
      if (!el) {
        el = h("div", "b-drop")
        el.id = "drop-indicator"
        this.els.overlay.append(el)
      }
    } else el = document.getElementById("layer-indicator")
    if (!el) return
    const r = spot.line ?? spot.box!
    el.className = spot.line ? "b-drop b-drop-line" : "b-drop b-drop-box"
    Object.assign(el.style, { display: "block", left: `${r.x}px`, top: `${r.y}px`, width: `${r.w}px`, height: `${r.h}px` })
  }

  private renderPresence(): void {
    const { overlay, artboard, peers } = this.els
    const ab = artboard.getBoundingClientRect()
    const keep = overlay.querySelector("#drop-indicator")
    overlay.replaceChildren()
    if (keep) overlay.append(keep)
    const box = (id: string, cls: string, color: string, label: string) => {
      const el = artboard.querySelector<HTMLElement>(`.cx-page [data-id="${CSS.escape(id)}"]`)
      if (!el) return
      const r = el.getBoundingClientRect()
      const b = h("div", cls)
      Object.assign(b.style, { left: `${r.left - ab.left}px`, top: `${r.top - ab.top}px`, width: `${r.width}px`, height: `${r.height}px` })
      b.style.setProperty("--peer", color)
      if (label) b.append(h("span", "b-sel-tag", label))
      overlay.append(b)
    }
    if (this.selected) box(this.selected, "b-sel", "#2563eb", "")
    const list = this.room.peers()
    for (const p of list) {
      if (p.kind === "ai") {
        if (p.target && p.status === "running") box(p.target, "b-remote-sel b-ai-sel", p.color, `✦ ${p.name}`)
        continue
      }
      if (p.page !== this.page) continue
      if (p.selection) box(p.selection, "b-remote-sel", p.color, p.name)
      if (p.cursor) overlay.append(cursorEl(p))
    }
    peers.replaceChildren()
    for (const p of list) {
      const ai = p.kind === "ai"
      if (ai && (p.status === "done" || p.status === "cancelled" || p.status === "failed")) continue // a finished run lingers until its presence expires
      const av = h("span", ai ? "b-avatar b-avatar-ai" : "b-avatar", ai ? "✦" : initials(p.name))
      av.title = ai
        ? `${p.name} (AI${p.status ? `, ${p.status}` : ""})`
        : `${p.name}${p.page && p.page !== this.page ? ` (on ${this.tree.page(p.page)?.name ?? "another page"})` : ""}`
      av.dataset.peer = p.name
      av.dataset.kind = p.kind
      av.style.setProperty("--peer", p.color)
      av.onclick = () => p.page && this.setPage(p.page)
      peers.append(av)
    }
  }

  undo(): void {
    this.ed.undoStep() || this.toast("Nothing to undo")
  }

  redo(): void {
    this.ed.redoStep() || this.toast("Nothing to redo")
  }

  private bindKeys(): void {
    addEventListener("keydown", e => {
      const t = e.target as HTMLElement
      const typing = t.matches?.("input, textarea, select, [contenteditable]")
      const mod = e.ctrlKey || e.metaKey
      if (this.readOnly) {
        if (e.key === "Escape" && !typing) this.select(null)
        return
      }
      if (mod && !typing && e.key.toLowerCase() === "z") {
        e.preventDefault()
        if (e.shiftKey) this.redo()
        else this.undo()
      } else if (mod && !typing && e.key.toLowerCase() === "y") {
        e.preventDefault()
        this.redo()
      } else if (!typing && (e.key === "Delete" || e.key === "Backspace") && this.selected) {
        e.preventDefault()
        this.ed.remove(this.selected)
      } else if (e.key === "Escape" && !typing) this.select(null)
    })
    // Pointer positions move with scrolling and resizing.
    this.els.artboard.parentElement!.addEventListener("scroll", () => this.schedule(), { passive: true })
    addEventListener("resize", () => this.schedule())
  }

  private async signOut(): Promise<void> {
    if (!this.account || !confirm(`Sign out ${this.account.user.email}?`)) return
    await this.account.session.logout().catch(() => {})
    location.assign("/")
  }

  private rename(): void {
    const n = prompt("Your display name", visitorName())?.trim()
    if (!n) return
    setVisitorName(n.slice(0, 40))
    this.els.me.textContent = n.slice(0, 40)
    this.room.set("name", n.slice(0, 40))
    this.ed.actor = `browser:${n.slice(0, 40)}`
  }

  toast(msg: string): void {
    const t = this.els.toast
    t.textContent = msg
    t.classList.add("b-toast-show")
    clearTimeout(this.toastTimer)
    this.toastTimer = setTimeout(() => t.classList.remove("b-toast-show"), 3500)
  }

  private embedDialog(): void {
    const back = h("div", "b-modal-back")
    const dlg = h("div", "b-modal")
    dlg.id = "embed-dialog"
    dlg.append(h("h2", "", "Embed this app"))
    const mode = h("select", "b-input") as HTMLSelectElement
    mode.name = "mode"
    mode.append(new Option("View only", "view"), new Option("Interactive (run handlers)", "run"))
    const page = h("select", "b-input") as HTMLSelectElement
    page.name = "page"
    page.append(new Option("All pages", ""))
    for (const p of this.tree.pages) page.append(new Option(p.name, p.id))
    const origins = h("textarea", "b-input") as HTMLTextAreaElement
    origins.name = "origins"
    origins.rows = 3
    origins.placeholder = "https://www.example.com\n(one origin per line: the sites allowed to show this app)"
    const ttl = h("select", "b-input") as HTMLSelectElement
    ttl.name = "ttl"
    ttl.append(new Option("1 day", "24h"), new Option("30 days", "720h"), new Option("1 year", "8760h"))
    ttl.value = "720h"
    const out = h("textarea", "b-input b-snippet") as HTMLTextAreaElement
    out.readOnly = true
    out.rows = 4
    out.id = "embed-snippet"
    out.style.display = "none"
    const msg = h("p", "b-muted")
    const make = button("Create embed code", "", async () => {
      const res = await fetch(`/app/${this.handle.documentId}/embed-token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          mode: mode.value, page: page.value, ttl: ttl.value,
          origins: origins.value.split(/[\s,]+/).filter(Boolean),
        }),
      })
      const body = await res.json().catch(() => ({}))
      if (!res.ok) {
        msg.textContent = body?.error?.message ?? `error ${res.status}`
        return
      }
      const src = `${location.origin}${body.path}`
      out.value = `<iframe src="${src}" title="${this.appName().replace(/"/g, "&quot;")}" style="width:100%;height:600px;border:0" loading="lazy"></iframe>`
      out.style.display = "block"
      out.select()
      msg.textContent = `Expires ${new Date(body.expires).toLocaleString()}. Only the origins listed may show it.`
    })
    make.classList.add("b-primary")
    const close = button("Close", "", () => back.remove())
    dlg.append(row("Mode", mode), row("Page", page), row("Allowed origins", origins), row("Valid for", ttl), out, msg)
    const actions = h("div", "b-actions")
    actions.append(close, make)
    dlg.append(actions)
    back.append(dlg)
    back.onpointerdown = e => e.target === back && back.remove()
    this.root.append(back)
  }
}

function button(text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = h("button", "b-btn", text) as HTMLButtonElement
  if (title) b.title = title
  b.onclick = onClick
  return b
}

function row(label: string, el: HTMLElement): HTMLElement {
  const r = h("label", "i-row")
  r.append(h("span", "i-label", label), el)
  return r
}

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map(w => w[0]!.toUpperCase()).join("") || "?"
}

function labelOf(n: TreeNode): string {
  const p = n.comp.props ?? {}
  for (const k of ["text", "label", "title", "name"]) {
    if (typeof p[k] === "string" && p[k]) return String(p[k]).slice(0, 40)
  }
  return ""
}

function cursorEl(p: Peer): HTMLElement {
  const c = h("div", "b-cursor")
  c.dataset.peer = p.name
  c.style.left = `${p.cursor!.x}px`
  c.style.top = `${p.cursor!.y}px`
  c.style.setProperty("--peer", p.color)
  c.innerHTML = `<svg width="16" height="16" viewBox="0 0 16 16"><path d="M1 1 L1 13 L4.5 9.5 L7 15 L9 14 L6.5 8.5 L11.5 8.5 Z" fill="currentColor" stroke="white" stroke-width="1"/></svg>`
  c.append(h("span", "b-cursor-name", p.name))
  return c
}
