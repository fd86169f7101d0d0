// The builder page: the home screen (create an app from a template, open
// one, recent apps) and the workspace of one app (workspace.ts). With
// accounts on (cfg.auth) people sign in first (signin.ts), the home screen
// is their app list (apps.ts), and the workspace gets sharing and version
// history; the sync socket then carries their access token.
import "./app.css"
import "./builder.css"
import type { DocHandle } from "@automerge/automerge-repo/slim"
import { ApiError, browserSession, type Session } from "./account.js"
import { showApps } from "./apps.js"
import { connect, readConfig, type Connection, type PageConfig } from "./net.js"
import { showSignIn } from "./signin.js"
import { h } from "./render.js"
import { RegistryView, SCHEMA_VERSION, type AppDoc, type Registry } from "./schema.js"
import { Workspace, type AccountCtx } from "./workspace.js"

interface Template {
  id: string
  name: string
  description: string
}

const cfg = readConfig<PageConfig & { auth?: boolean }>()
const root = document.getElementById("root")!
const session: Session | undefined = cfg.auth ? browserSession() : undefined

async function getJSON<T>(url: string): Promise<T> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  return (await res.json()) as T
}

let conn: Connection | undefined
async function connection(): Promise<Connection> {
  if (!conn && session) {
    // The access token rides on the socket's URL; a refreshed one is used
    // from the next reconnection on.
    conn = await connect(cfg, await session.fresh())
    const c = conn
    session.onChange(() => c.setToken(session.token))
  }
  conn ??= await connect(cfg)
  return conn
}

interface Recent {
  id: string
  name: string
  at: number
}

function recents(): Recent[] {
  try {
    const r = JSON.parse(localStorage.getItem("casual.recent") || "[]")
    return Array.isArray(r) ? r : []
  } catch {
    return []
  }
}

export function remember(id: string, name: string): void {
  const list = recents().filter(r => r.id !== id)
  list.unshift({ id, name, at: Date.now() })
  localStorage.setItem("casual.recent", JSON.stringify(list.slice(0, 12)))
}

/** appID accepts "automerge:<id>", a builder URL, or a bare id. */
function appID(s: string): string {
  s = s.trim()
  const m = /\/(?:edit|embed)\/([1-9A-HJ-NP-Za-km-z]+)/.exec(s)
  if (m) return m[1]
  return s.replace(/^automerge:/, "").replace(/#.*$/, "")
}

function blankApp(name: string): AppDoc {
  return {
    schema: SCHEMA_VERSION,
    meta: { name, description: "One empty page.", createdAt: new Date().toISOString().replace(/\.\d+Z$/, "Z") },
    pages: { home: { name: "Home", route: "/", index: "V" } },
    components: {}, handlers: {}, state: {}, runs: {},
    theme: { tokens: { primary: "#4f46e5", background: "#ffffff", text: "#111827", radius: 8 } },
  }
}

async function showHome(): Promise<void> {
  document.title = "Casual builder"
  root.replaceChildren()
  const wrap = h("div", "home")
  const head = h("header", "home-head")
  head.append(h("div", "b-logo", "Casual"), h("p", "home-tag", "Build apps together, live."))
  wrap.append(head)

  const create = h("section", "home-section")
  create.append(h("h2", "", "Start a new app"))
  const grid = h("div", "home-templates")
  grid.id = "templates"
  create.append(grid)
  const status = h("p", "home-status")
  create.append(status)
  wrap.append(create)

  const open = h("section", "home-section")
  open.append(h("h2", "", "Open an app"))
  const form = h("form", "home-open") as HTMLFormElement
  const input = h("input", "b-input") as HTMLInputElement
  input.placeholder = "automerge:… or an app address"
  input.id = "open-input"
  const go = h("button", "b-btn b-primary", "Open") as HTMLButtonElement
  form.append(input, go)
  form.onsubmit = e => {
    e.preventDefault()
    const id = appID(input.value)
    if (id) location.assign(`/edit/${id}`)
  }
  open.append(form)
  const rec = recents()
  if (rec.length) {
    const list = h("ul", "home-recent")
    for (const r of rec) {
      const li = h("li")
      const a = h("a", "", r.name || r.id) as HTMLAnchorElement
      a.href = `/edit/${r.id}`
      li.append(a, h("span", "b-muted", ` · ${new Date(r.at).toLocaleString()}`))
      list.append(li)
    }
    open.append(h("h3", "", "Recent"), list)
  }
  wrap.append(open)
  root.append(wrap)

  let templates: Template[] = []
  let canCreate = true
  try {
    const r = await getJSON<{ templates: Template[]; create: boolean }>("/app/templates")
    templates = r.templates
    canCreate = r.create
  } catch (err) {
    templates = [{ id: "blank", name: "Blank app", description: "One empty page." }]
    status.textContent = `Templates unavailable (${err}); a blank app can still be created.`
  }
  for (const t of templates) {
    const card = h("button", "home-template") as HTMLButtonElement
    card.dataset.template = t.id
    card.append(h("strong", "", t.name), h("span", "", t.description))
    card.onclick = () => createApp(t, canCreate, status)
    grid.append(card)
  }
}

async function createApp(t: Template, serverSide: boolean, status: HTMLElement): Promise<void> {
  status.textContent = `Creating “${t.name}”…`
  if (serverSide) {
    const res = await fetch(`/app/new?template=${encodeURIComponent(t.id)}`, { method: "POST" })
    if (res.ok) {
      const { id } = (await res.json()) as { id: string }
      remember(id, t.name)
      location.assign(`/edit/${id}`)
      return
    }
    if (res.status !== 501 || t.id !== "blank") {
      status.textContent = `Could not create the app: ${(await res.text()).slice(0, 200)}`
      return
    }
  }
  // No server-side creation: a blank app is made here and synced up.
  const c = await connection()
  const handle = c.repo.create<AppDoc>(blankApp(t.name))
  history.pushState(null, "", `/edit/${handle.documentId}`)
  await openWorkspace(handle.documentId)
}

/** accountFor asks the API for the signed-in user's role on the app. */
async function accountFor(id: string): Promise<AccountCtx | null> {
  const s = session!
  try {
    const app = await s.api<{ role?: string; name: string }>("GET", `/v1/apps/${id}`)
    return { session: s, user: s.user!, role: app.role || "viewer" }
  } catch (err) {
    const msg = err instanceof ApiError && err.status === 404
      ? "It does not exist, or it is not shared with you. Ask its owner to share it with your email."
      : String(err instanceof Error ? err.message : err)
    root.replaceChildren(errorBox("This app could not be opened", msg))
    return null
  }
}

async function openWorkspace(id: string): Promise<void> {
  root.replaceChildren(h("div", "b-loading", "Opening app…"))
  let handle: DocHandle<AppDoc>
  let registry: Registry
  let account: AccountCtx | undefined
  if (session) {
    const a = await accountFor(id)
    if (!a) return
    account = a
  }
  const c = await connection()
  try {
    ;[registry, handle] = await Promise.all([
      getJSON<Registry>("/app/registry"),
      c.repo.find<AppDoc>(`automerge:${id}` as any),
    ])
  } catch (err) {
    root.replaceChildren(errorBox("This app could not be opened", String(err instanceof Error ? err.message : err)))
    return
  }
  const doc = handle.doc()
  if (!doc || (doc as AppDoc).schema === undefined) {
    root.replaceChildren(errorBox("Not a Casual app", "The document exists but is not an app (no schema field)."))
    return
  }
  if (Number((doc as AppDoc).schema) > SCHEMA_VERSION) {
    root.replaceChildren(errorBox("This app is newer than this builder", "Reload to get the latest builder."))
    return
  }
  const ws = new Workspace(root, c, handle, new RegistryView(registry), account)
  c.onError(e => {
    if (e.documentId && e.documentId !== id) return
    if (e.code === "access_revoked") {
      root.replaceChildren(errorBox("Your access to this app was removed", "Ask its owner to share it with you again."))
    } else if (e.code === "read_only") ws.toast("You can view this app but not change it: your change was not saved")
  })
  remember(id, ws.appName())
  ;(window as any).casual = ws // for tests and the console
}

function errorBox(title: string, msg: string): HTMLElement {
  const box = h("div", "b-error")
  box.id = "open-error"
  const a = h("a", "b-btn", "Back to apps") as HTMLAnchorElement
  a.href = "/"
  box.append(h("h2", "", title), h("p", "", msg), a)
  return box
}

async function start(): Promise<void> {
  if (session) {
    if (!session.signedIn) await showSignIn(root, session, cfg.app ? "Sign in to open this app." : "")
    if (cfg.app) await openWorkspace(cfg.app)
    else await showApps(root, session)
    return
  }
  if (cfg.app) await openWorkspace(cfg.app)
  else await showHome()
}

start()
