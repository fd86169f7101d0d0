// The app list of a signed-in user (accounts on): their apps, their
// organizations' apps and apps shared with them, with search; create an
// app (blank or from a template, for themselves or an organization), open
// and delete (to the trash, restorable for 30 days through the API).
import type { Session } from "./account.js"
import { h } from "./render.js"

export interface AppInfo {
  id: string
  name: string
  description: string
  owner_id?: string
  org_id?: string
  visibility: string
  updated_at: string
  role?: string
}

interface Org {
  id: string
  name: string
  role: string
}

interface Template {
  id: string
  name: string
  description: string
}

/** groupApps splits a listing into mine, per organization, and shared with me. */
export function groupApps(apps: AppInfo[], me: string, orgs: { id: string; name: string }[]): { title: string; apps: AppInfo[] }[] {
  const mine = apps.filter(a => a.owner_id === me && !a.org_id)
  const groups = [{ title: "My apps", apps: mine }]
  for (const o of orgs) {
    const list = apps.filter(a => a.org_id === o.id)
    if (list.length) groups.push({ title: o.name, apps: list })
  }
  const known = new Set(orgs.map(o => o.id))
  const shared = apps.filter(a => !(a.owner_id === me && !a.org_id) && !(a.org_id && known.has(a.org_id)))
  if (shared.length) groups.push({ title: "Shared with me", apps: shared })
  return groups
}

export async function showApps(root: HTMLElement, session: Session): Promise<void> {
  document.title = "Your apps · Casual"
  const me = session.user!
  const wrap = h("div", "home")
  const head = h("header", "home-head")
  const who = h("span", "auth-user", me.name || me.email)
  who.id = "user-name"
  who.title = me.email
  const out = h("button", "b-btn", "Sign out") as HTMLButtonElement
  out.id = "signout"
  out.onclick = async () => {
    await session.logout().catch(() => {})
    location.assign("/")
  }
  head.append(h("div", "b-logo", "Casual"), h("p", "home-tag", "Build apps together, live."), h("div", "b-spacer"), who, out)
  wrap.append(head)

  const create = h("section", "home-section")
  create.append(h("h2", "", "Start a new app"))
  const form = h("div", "home-open")
  const name = h("input", "b-input") as HTMLInputElement
  name.id = "new-app-name"
  name.placeholder = "Name (optional)"
  const owner = h("select", "b-input") as HTMLSelectElement
  owner.id = "new-app-owner"
  owner.append(new Option("Just me", ""))
  form.append(name, owner)
  const grid = h("div", "home-templates")
  grid.id = "templates"
  const status = h("p", "home-status")
  create.append(form, grid, status)
  wrap.append(create)

  const listSec = h("section", "home-section")
  const search = h("input", "b-input") as HTMLInputElement
  search.id = "app-search"
  search.type = "search"
  search.placeholder = "Search your apps"
  const list = h("div", "app-list")
  list.id = "app-list"
  listSec.append(h("h2", "", "Your apps"), search, list)
  wrap.append(listSec)
  root.replaceChildren(wrap)

  let orgs: Org[] = []
  const load = async () => {
    const q = search.value.trim()
    try {
      const r = await session.api<{ apps: AppInfo[] }>("GET", `/v1/apps?limit=100${q ? `&q=${encodeURIComponent(q)}` : ""}`)
      if (q !== search.value.trim()) return // a newer search is on its way
      drawList(r.apps)
    } catch (err) {
      list.replaceChildren(h("p", "auth-error", `Could not list apps: ${err instanceof Error ? err.message : err}`))
    }
  }
  const drawList = (apps: AppInfo[]) => {
    list.replaceChildren()
    list.dataset.count = String(apps.length)
    if (!apps.length) {
      list.append(h("p", "b-muted", search.value ? "No app matches." : "No apps yet: start one above."))
      return
    }
    for (const g of groupApps(apps, me.id, orgs)) {
      if (!g.apps.length) continue
      list.append(h("h3", "", g.title))
      for (const a of g.apps) list.append(appRow(a))
    }
  }
  const appRow = (a: AppInfo) => {
    const row = h("div", "app-row")
    row.dataset.appId = a.id
    const link = h("a", "app-name", a.name || "Untitled app") as HTMLAnchorElement
    link.href = `/edit/${a.id}`
    const meta = h("span", "b-muted", `${a.visibility} · updated ${new Date(a.updated_at).toLocaleString()}`)
    const del = h("button", "b-btn app-delete", "Delete") as HTMLButtonElement
    del.title = "Move to the trash (restorable for 30 days)"
    del.onclick = async () => {
      if (!confirm(`Delete “${a.name}”? It stays in the trash for 30 days.`)) return
      try {
        await session.api("DELETE", `/v1/apps/${a.id}`)
        row.remove()
      } catch (err) {
        status.textContent = `Could not delete: ${err instanceof Error ? err.message : err}`
      }
    }
    row.append(link, meta, del)
    return row
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  search.oninput = () => {
    clearTimeout(timer)
    timer = setTimeout(load, 200)
  }

  const [orgRes, tplRes] = await Promise.allSettled([
    session.api<{ organizations: Org[] }>("GET", "/v1/organizations"),
    session.api<{ templates: Template[] }>("GET", "/v1/templates"),
  ])
  if (orgRes.status === "fulfilled") {
    orgs = orgRes.value.organizations
    for (const o of orgs) if (["owner", "admin", "editor"].includes(o.role)) owner.append(new Option(o.name, o.id))
  }
  owner.style.display = owner.options.length > 1 ? "" : "none"
  const templates = tplRes.status === "fulfilled" ? tplRes.value.templates : [{ id: "blank", name: "Blank app", description: "One empty page." }]
  for (const t of templates) {
    const card = h("button", "home-template") as HTMLButtonElement
    card.dataset.template = t.id
    card.append(h("strong", "", t.name), h("span", "", t.description))
    card.onclick = async () => {
      status.textContent = `Creating “${name.value.trim() || t.name}”…`
      try {
        const body: Record<string, string> = { name: name.value.trim() || t.name, template: t.id }
        if (owner.value) body.org_id = owner.value
        const app = await session.api<{ id: string }>("POST", "/v1/apps", body)
        location.assign(`/edit/${app.id}`)
      } catch (err) {
        status.textContent = `Could not create the app: ${err instanceof Error ? err.message : err}`
      }
    }
    grid.append(card)
  }
  await load()
}
