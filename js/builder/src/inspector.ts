// The props panel: fields generated from the registry's prop schemas for
// the selected component's props, layout and style, plus its event
// handlers. Fields are rebuilt when the selection changes and refreshed in
// place on other changes, so typing is never interrupted by a remote edit.
import type { Editor } from "./editor.js"
import { h } from "./render.js"
import type { Group, PropSchema } from "./schema.js"
import type { TreeNode } from "./tree.js"

interface Field {
  group: Group
  schema: PropSchema
  el: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement
  error: HTMLElement
}

export class Inspector {
  private fields: Field[] = []
  private shownFor = ""

  constructor(
    private host: HTMLElement,
    private ed: Editor,
    private onError: (msg: string) => void
  ) {}

  /** show renders the panel for n (or the page panel when n is undefined). */
  show(n: TreeNode | undefined, page: { id: string; name: string; route: string } | undefined, pages: number): void {
    const key = n ? `${n.id}:${n.type}:${Object.keys(n.comp.bindings ?? {}).join(",")}` : `page:${page?.id}`
    if (key !== this.shownFor) {
      this.shownFor = key
      this.host.replaceChildren()
      this.fields = []
      if (n) this.buildComponent(n)
      else if (page) this.buildPage(page, pages)
    }
    if (n) this.refresh(n)
    else if (page) {
      const inp = this.host.querySelector<HTMLInputElement>("#page-name")
      if (inp && document.activeElement !== inp) inp.value = page.name
    }
  }

  private buildPage(page: { id: string; name: string; route: string }, pages: number): void {
    this.host.append(h("div", "i-title", "Page"))
    const name = h("input", "b-input") as HTMLInputElement
    name.id = "page-name"
    name.value = page.name
    name.oninput = () => this.guard(() => name.value.trim() && this.ed.renamePage(page.id, name.value))
    this.host.append(row("Name", name), row("Route", h("code", "", page.route)))
    const del = h("button", "b-btn b-danger", "Delete page") as HTMLButtonElement
    del.disabled = pages <= 1
    del.onclick = () => this.guard(() => this.ed.deletePage(page.id))
    this.host.append(del, h("p", "b-muted i-hint", "Select a component on the canvas or in the layers to edit its properties."))
  }

  private buildComponent(n: TreeNode): void {
    const typ = this.ed.reg.lookup(n.type)
    const head = h("div", "i-head")
    head.append(h("div", "i-title", typ ? titleCase(n.type) : n.type), h("code", "i-id", n.id))
    const del = h("button", "b-btn b-danger b-small", "Delete") as HTMLButtonElement
    del.id = "delete-component"
    del.onclick = () => this.guard(() => this.ed.remove(n.id))
    head.append(del)
    this.host.append(head)
    if (typ?.description) this.host.append(h("p", "b-muted i-desc", typ.description))
    if (!typ) return
    this.section("Properties", "props", typ.props, n)
    this.section("Layout", "layout", this.ed.reg.layout, n, true)
    this.section("Style", "style", this.ed.reg.style, n, true)
    if (typ.events?.length) this.events(n, typ.events)
  }

  private section(title: string, group: Group, schemas: PropSchema[], n: TreeNode, collapsed = false): void {
    const det = h("details", "i-section") as HTMLDetailsElement
    det.open = !collapsed
    det.dataset.group = group
    det.append(h("summary", "", title))
    for (const s of schemas) {
      const f = this.field(group, s, n)
      const label = h("label", "i-row")
      label.dataset.field = `${group}.${s.name}`
      const name = h("span", "i-label", s.name + (s.required ? " *" : ""))
      if (s.description) name.title = s.description
      label.append(name, f.el, f.error)
      const bound = group === "props" ? n.comp.bindings?.[s.name] : undefined
      if (bound) label.append(h("span", "i-binding", `bound to ${bound}`))
      det.append(label)
      this.fields.push(f)
    }
    this.host.append(det)
  }

  private field(group: Group, s: PropSchema, n: TreeNode): Field {
    let el: Field["el"]
    const error = h("span", "i-error")
    const commit = (v: unknown) => {
      try {
        this.ed.update(n.id, group, { [s.name]: v })
        error.textContent = ""
        el.classList.remove("i-invalid")
      } catch (err) {
        error.textContent = err instanceof Error ? err.message : String(err)
        el.classList.add("i-invalid")
      }
    }
    switch (s.type) {
      case "bool": {
        const c = h("input") as HTMLInputElement
        c.type = "checkbox"
        c.onchange = () => commit(c.checked)
        el = c
        break
      }
      case "enum": {
        const sel = h("select", "b-input") as HTMLSelectElement
        if (!s.required) sel.append(new Option("—", ""))
        for (const v of s.values ?? []) sel.append(new Option(v, v))
        sel.onchange = () => commit(sel.value === "" ? null : sel.value)
        el = sel
        break
      }
      case "number": {
        const inp = h("input", "b-input") as HTMLInputElement
        inp.type = "number"
        inp.step = "any"
        if (s.min !== undefined) inp.min = String(s.min)
        if (s.max !== undefined) inp.max = String(s.max)
        inp.placeholder = s.default !== undefined ? String(s.default) : ""
        inp.oninput = () => commit(inp.value === "" ? null : Number(inp.value))
        el = inp
        break
      }
      case "array":
      case "json": {
        const ta = h("textarea", "b-input i-json") as HTMLTextAreaElement
        ta.rows = 3
        ta.spellcheck = false
        ta.onchange = () => {
          if (ta.value.trim() === "") return commit(null)
          try {
            commit(JSON.parse(ta.value))
          } catch {
            error.textContent = "not valid JSON"
            ta.classList.add("i-invalid")
          }
        }
        el = ta
        break
      }
      default: {
        const multi = s.name === "source" || s.name === "text" && n.type === "text"
        const inp = (multi ? h("textarea", "b-input") : h("input", "b-input")) as HTMLInputElement
        if (multi) (inp as unknown as HTMLTextAreaElement).rows = 3
        else inp.type = "text"
        inp.placeholder = s.type === "color" ? "#hex, $token" : s.default !== undefined ? String(s.default) : ""
        inp.oninput = () => commit(inp.value === "" && !s.required && s.type !== "string" ? null : inp.value)
        el = inp
      }
    }
    el.name = `${group}.${s.name}`
    return { group, schema: s, el, error }
  }

  private events(n: TreeNode, events: string[]): void {
    const det = h("details", "i-section") as HTMLDetailsElement
    det.open = true
    det.append(h("summary", "", "Events"))
    const handlers = this.ed.snapshot().handlers ?? {}
    for (const ev of events) {
      const sel = h("select", "b-input") as HTMLSelectElement
      sel.name = `handlers.${ev}`
      sel.append(new Option("— none —", ""))
      for (const [id, hd] of Object.entries(handlers)) sel.append(new Option(`${hd.name || id} (${hd.lang})`, id))
      sel.value = n.comp.handlers?.[ev] ?? ""
      sel.onchange = () => this.guard(() => this.ed.bindEvent(n.id, ev, sel.value || null))
      const label = h("label", "i-row")
      label.append(h("span", "i-label", `on ${ev}`), sel)
      det.append(label)
    }
    if (Object.keys(handlers).length === 0) det.append(h("p", "b-muted i-hint", "This app has no handlers yet."))
    this.host.append(det)
  }

  private refresh(n: TreeNode): void {
    for (const f of this.fields) {
      if (document.activeElement === f.el || f.el.classList.contains("i-invalid")) continue
      const vals = (n.comp[f.group] ?? {}) as Record<string, unknown>
      const v = vals[f.schema.name]
      if (f.el instanceof HTMLInputElement && f.el.type === "checkbox") {
        f.el.checked = v === undefined ? f.schema.default === true : v === true
      } else if (f.schema.type === "array" || f.schema.type === "json") {
        f.el.value = v === undefined ? "" : JSON.stringify(v)
      } else if (f.schema.type === "enum") {
        f.el.value = String(v ?? f.schema.default ?? "")
      } else {
        f.el.value = v === undefined || v === null ? "" : String(v)
      }
    }
    for (const sel of this.host.querySelectorAll<HTMLSelectElement>("select[name^='handlers.']")) {
      if (document.activeElement !== sel) sel.value = n.comp.handlers?.[sel.name.slice(9)] ?? ""
    }
  }

  private guard(f: () => unknown): void {
    try {
      f()
    } catch (err) {
      this.onError(err instanceof Error ? err.message : String(err))
    }
  }
}

function row(label: string, el: HTMLElement): HTMLElement {
  const r = h("label", "i-row")
  r.append(h("span", "i-label", label), el)
  return r
}

export function titleCase(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}
