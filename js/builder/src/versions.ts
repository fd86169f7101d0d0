// The version history panel of a signed-in builder: name the current
// state, list the named versions, view the app as of one, compare two
// (components added, removed, changed), and restore one (a new change
// that makes the app equal to it, so history is kept and collaborators
// see it live).
import type { Session } from "./account.js"
import { h, renderPage } from "./render.js"
import type { ComponentDoc, RegistryView } from "./schema.js"
import type { TreeNode, TreePage } from "./tree.js"

export interface Version {
  id: string
  label: string
  author_id?: string
  created_at?: string
}

/** A component as the API writes it (canvas.Component, with children in a tree). */
export interface APIComponent {
  id: string
  type: string
  page: string
  parent?: string
  index: string
  props?: Record<string, unknown>
  layout?: Record<string, unknown>
  style?: Record<string, unknown>
  bindings?: Record<string, string>
  handlers?: Record<string, string>
  children?: APIComponent[]
}

export interface APIPage {
  id: string
  name: string
  route: string
  index: string
  children: APIComponent[] | null
}

interface Diff {
  added: APIComponent[] | null
  removed: APIComponent[] | null
  changed: { id: string; fields: string[]; before: APIComponent; after: APIComponent }[] | null
  pages_added: string[] | null
  pages_removed: string[] | null
  pages_changed: string[] | null
}

/** treePage turns a page of the API's tree into the renderer's TreePage. */
export function treePage(p: APIPage): TreePage {
  const node = (c: APIComponent): TreeNode => {
    const comp: ComponentDoc = {
      type: c.type, page: c.page, pos: { parent: c.parent || null, index: c.index },
      props: c.props ?? {}, layout: c.layout ?? {}, style: c.style ?? {},
      bindings: c.bindings ?? {}, handlers: c.handlers ?? {}, meta: {},
    }
    return { id: c.id, type: c.type, page: c.page, parent: c.parent ?? "", index: c.index, comp, children: (c.children ?? []).map(node) }
  }
  return { id: p.id, name: p.name, route: p.route, index: p.index, children: (p.children ?? []).map(node) }
}

/** diffLines describes a diff in one line per component or page. */
export function diffLines(d: Diff): string[] {
  const name = (c: APIComponent) => {
    const p = c.props ?? {}
    const label = ["text", "label", "title"].map(k => p[k]).find(v => typeof v === "string" && v)
    return `${c.type} ${c.id}${label ? ` “${label}”` : ""}`
  }
  return [
    ...(d.added ?? []).map(c => `+ ${name(c)}`),
    ...(d.removed ?? []).map(c => `− ${name(c)}`),
    ...(d.changed ?? []).map(c => `~ ${name(c.after)}: ${c.fields.join(", ")}`),
    ...(d.pages_added ?? []).map(p => `+ page ${p}`),
    ...(d.pages_removed ?? []).map(p => `− page ${p}`),
    ...(d.pages_changed ?? []).map(p => `~ page ${p}`),
  ]
}

export interface VersionsHost {
  session: Session
  app: string
  reg: RegistryView
  canWrite: boolean
  tokens(): Record<string, unknown>
  toast(msg: string): void
}

export function versionsDialog(root: HTMLElement, v: VersionsHost): void {
  const back = h("div", "b-modal-back")
  const dlg = h("div", "b-modal b-modal-wide")
  dlg.id = "versions-dialog"
  const msg = h("p", "b-muted")
  msg.id = "versions-msg"
  const fail = (err: unknown) => (msg.textContent = err instanceof Error ? err.message : String(err))
  const base = `/v1/apps/${v.app}/versions`

  const label = h("input", "b-input") as HTMLInputElement
  label.name = "version-label"
  label.placeholder = "e.g. Before the redesign"
  const name = h("button", "b-btn b-primary", "Name this version") as HTMLButtonElement
  name.id = "version-create"
  const nameForm = h("form", "share-add") as HTMLFormElement
  nameForm.append(label, name)
  nameForm.onsubmit = async e => {
    e.preventDefault()
    if (!label.value.trim()) return
    try {
      const made = await v.session.api<Version>("POST", base, { label: label.value.trim() })
      msg.textContent = `Named “${made.label}”.`
      label.value = ""
      await load()
    } catch (err) {
      fail(err)
    }
  }

  const list = h("ul", "share-list")
  list.id = "version-list"
  const from = h("select", "b-input") as HTMLSelectElement
  from.name = "diff-from"
  const to = h("select", "b-input") as HTMLSelectElement
  to.name = "diff-to"
  const compare = h("button", "b-btn", "Compare") as HTMLButtonElement
  compare.id = "version-compare"
  const cmp = h("div", "share-add")
  cmp.append(from, h("span", "", "→"), to, compare)
  const view = h("div", "version-view")
  view.id = "version-view"

  const showDiff = async (a: string, b: string) => {
    try {
      const d = await v.session.api<Diff>("GET", `${base}/${a}/diff?to=${encodeURIComponent(b)}`)
      const lines = diffLines(d)
      const ul = h("ul", "version-diff")
      ul.id = "version-diff"
      for (const l of lines) ul.append(h("li", l[0] === "+" ? "d-add" : l[0] === "−" ? "d-del" : "d-chg", l))
      if (!lines.length) ul.append(h("li", "b-muted", "No differences."))
      view.replaceChildren(h("h3", "", `${labelOf(a)} → ${labelOf(b)}`), ul)
    } catch (err) {
      fail(err)
    }
  }
  compare.onclick = () => showDiff(from.value, to.value)

  let versions: Version[] = []
  const labelOf = (id: string) => (id === "current" ? "Now" : versions.find(x => x.id === id)?.label ?? id)
  const load = async () => {
    const r = await v.session.api<{ versions: Version[] }>("GET", base)
    versions = r.versions
    list.replaceChildren()
    from.replaceChildren()
    to.replaceChildren(new Option("Now", "current"))
    if (!versions.length) list.append(h("li", "b-muted", "No named versions yet."))
    for (const ver of versions) {
      from.append(new Option(ver.label, ver.id))
      to.append(new Option(ver.label, ver.id))
      const li = h("li", "share-row")
      li.dataset.versionId = ver.id
      li.dataset.label = ver.label
      li.append(h("span", "share-who", ver.label), h("span", "b-muted", ver.created_at ? new Date(ver.created_at).toLocaleString() : ""))
      const see = h("button", "b-btn", "View") as HTMLButtonElement
      see.dataset.action = "view"
      see.onclick = async () => {
        try {
          const s = await v.session.api<{ tree: { pages: APIPage[] } }>("GET", `${base}/${ver.id}`)
          view.replaceChildren(h("h3", "", `As of “${ver.label}”`))
          for (const p of s.tree.pages ?? []) {
            const box = h("div", "version-page")
            box.append(h("div", "b-muted", p.name), renderPage(treePage(p), { mode: "view", reg: v.reg, state: {}, tokens: v.tokens() }))
            view.append(box)
          }
        } catch (err) {
          fail(err)
        }
      }
      const diff = h("button", "b-btn", "Compare with now") as HTMLButtonElement
      diff.dataset.action = "diff"
      diff.onclick = () => showDiff(ver.id, "current")
      li.append(see, diff)
      if (v.canWrite) {
        const restore = h("button", "b-btn", "Restore") as HTMLButtonElement
        restore.dataset.action = "restore"
        restore.onclick = async () => {
          try {
            await v.session.api("POST", `${base}/${ver.id}/restore`)
            msg.textContent = `Restored “${ver.label}”. The state before it stays in the history.`
            v.toast(`Restored “${ver.label}”`)
          } catch (err) {
            fail(err)
          }
        }
        li.append(restore)
      }
      list.append(li)
    }
    compare.disabled = versions.length === 0
  }

  const close = h("button", "b-btn", "Close") as HTMLButtonElement
  close.onclick = () => back.remove()
  dlg.append(h("h2", "", "Version history"))
  if (v.canWrite) dlg.append(nameForm)
  dlg.append(list, cmp, msg, view)
  const actions = h("div", "b-actions")
  actions.append(close)
  dlg.append(actions)
  back.append(dlg)
  back.onpointerdown = e => e.target === back && back.remove()
  root.append(back)
  load().catch(fail)
}
