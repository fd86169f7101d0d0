// The Share dialog of a signed-in builder: the people an app is shared
// with (add by email as editor or viewer, remove), and its embed links
// (read-only or run, with an expiry; revoke). Members and shares are
// managed by the app's admins; others see the list only.
import type { Session } from "./account.js"
import { h } from "./render.js"

interface Member {
  user_id: string
  name: string
  email: string
  role: string
}

interface Share {
  id: string
  kind: string
  mode: string
  expires_at: string
  revoked_at?: string
  token?: string
  url?: string
}

const EXPIRY: [string, number][] = [["1 day", 86400], ["7 days", 7 * 86400], ["30 days", 30 * 86400], ["1 year", 365 * 86400]]

/** embedSnippet is the iframe code for an embed link. */
export function embedSnippet(url: string, title: string): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;")
  return `<iframe src="${esc(url)}" title="${esc(title)}" style="width:100%;height:600px;border:0" loading="lazy"></iframe>`
}

export function shareDialog(host: HTMLElement, session: Session, app: string, appName: string, admin: boolean): void {
  const back = h("div", "b-modal-back")
  const dlg = h("div", "b-modal b-modal-wide")
  dlg.id = "share-dialog"
  const msg = h("p", "b-muted share-msg")
  msg.id = "share-msg"
  const fail = (err: unknown) => (msg.textContent = err instanceof Error ? err.message : String(err))

  // People
  const people = h("ul", "share-list")
  people.id = "share-members"
  const email = h("input", "b-input") as HTMLInputElement
  email.name = "email"
  email.type = "email"
  email.placeholder = "teammate@example.com"
  const role = h("select", "b-input") as HTMLSelectElement
  role.name = "role"
  role.append(new Option("Can edit", "editor"), new Option("Can view", "viewer"))
  const add = h("button", "b-btn b-primary", "Share") as HTMLButtonElement
  add.id = "share-add"
  const addForm = h("form", "share-add") as HTMLFormElement
  addForm.append(email, role, add)
  addForm.onsubmit = async e => {
    e.preventDefault()
    if (!email.value.trim()) return
    try {
      const m = await session.api<Member>("POST", `/v1/apps/${app}/members`, { email: email.value.trim(), role: role.value })
      msg.textContent = `${m.name || m.email} can now ${m.role === "viewer" ? "view" : "edit"} this app.`
      email.value = ""
      await loadMembers()
    } catch (err) {
      fail(err)
    }
  }
  const loadMembers = async () => {
    const r = await session.api<{ members: Member[] }>("GET", `/v1/apps/${app}/members`)
    people.replaceChildren()
    if (!r.members.length) people.append(h("li", "b-muted", "Only you (and your organization's admins) so far."))
    for (const m of r.members) {
      const li = h("li", "share-row")
      li.dataset.email = m.email
      li.dataset.role = m.role
      li.append(h("span", "share-who", `${m.name} <${m.email}>`), h("span", "share-role", m.role))
      if (admin) {
        const rm = h("button", "b-btn", "Remove") as HTMLButtonElement
        rm.onclick = async () => {
          try {
            await session.api("DELETE", `/v1/apps/${app}/members/${m.user_id}`)
            await loadMembers()
          } catch (err) {
            fail(err)
          }
        }
        li.append(rm)
      }
      people.append(li)
    }
  }

  // Embeds
  const embeds = h("ul", "share-list")
  embeds.id = "share-embeds"
  const mode = h("select", "b-input") as HTMLSelectElement
  mode.name = "embed-mode"
  mode.append(new Option("Read-only", "read"), new Option("Interactive (run handlers)", "run"))
  const ttl = h("select", "b-input") as HTMLSelectElement
  ttl.name = "embed-expiry"
  for (const [label, secs] of EXPIRY) ttl.append(new Option(label, String(secs)))
  ttl.value = String(30 * 86400)
  const make = h("button", "b-btn b-primary", "Create embed link") as HTMLButtonElement
  make.id = "embed-create"
  const snippet = h("textarea", "b-input b-snippet") as HTMLTextAreaElement
  snippet.id = "embed-snippet"
  snippet.readOnly = true
  snippet.rows = 3
  snippet.style.display = "none"
  make.onclick = async () => {
    try {
      const s = await session.api<Share>("POST", `/v1/apps/${app}/shares`, { kind: "embed", mode: mode.value, expires_in: Number(ttl.value) })
      snippet.value = embedSnippet(s.url!, appName)
      snippet.dataset.url = s.url!
      snippet.style.display = "block"
      snippet.select()
      msg.textContent = `Anyone with this link can ${s.mode === "run" ? "use" : "see"} the app until ${new Date(s.expires_at).toLocaleString()}, or until you revoke it.`
      await loadEmbeds()
    } catch (err) {
      fail(err)
    }
  }
  const loadEmbeds = async () => {
    const r = await session.api<{ shares: Share[] }>("GET", `/v1/apps/${app}/shares`)
    embeds.replaceChildren()
    const live = r.shares.filter(s => s.kind === "embed" && !s.revoked_at && Date.parse(s.expires_at) > Date.now())
    if (!live.length) embeds.append(h("li", "b-muted", "No embed links."))
    for (const s of live) {
      const li = h("li", "share-row")
      li.dataset.shareId = s.id
      li.append(h("span", "share-who", s.mode === "run" ? "Interactive embed" : "Read-only embed"),
        h("span", "b-muted", `expires ${new Date(s.expires_at).toLocaleDateString()}`))
      const revoke = h("button", "b-btn", "Revoke") as HTMLButtonElement
      revoke.onclick = async () => {
        try {
          await session.api("DELETE", `/v1/apps/${app}/shares/${s.id}`)
          msg.textContent = "Embed link revoked: pages showing it stop receiving the app."
          await loadEmbeds()
        } catch (err) {
          fail(err)
        }
      }
      li.append(revoke)
      embeds.append(li)
    }
  }

  const close = h("button", "b-btn", "Close") as HTMLButtonElement
  close.onclick = () => back.remove()
  dlg.append(h("h2", "", `Share “${appName}”`), h("h3", "", "People"), people)
  if (admin) dlg.append(addForm)
  if (admin) {
    const row = h("div", "share-add")
    row.append(mode, ttl, make)
    dlg.append(h("h3", "", "Embed links"), embeds, row, snippet)
  }
  const actions = h("div", "b-actions")
  actions.append(close)
  dlg.append(msg, actions)
  back.append(dlg)
  back.onpointerdown = e => e.target === back && back.remove()
  host.append(back)
  loadMembers().catch(fail)
  if (admin) loadEmbeds().catch(fail)
}
