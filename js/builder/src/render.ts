// Renders an app page to DOM, for the builder's canvas ("design": static
// props, nothing interactive) and the embed ("view" and "run": bindings
// evaluated against the app state, inputs live). Every component is a
// wrapper element carrying data-id; containers hold their children in the
// element marked data-children.
import type { RegistryView } from "./schema.js"
import type { TreeNode, TreePage } from "./tree.js"

export type Mode = "design" | "view" | "run"

export interface RenderCtx {
  mode: Mode
  reg: RegistryView
  state: Record<string, unknown>
  tokens: Record<string, unknown>
}

interface Scope {
  item?: unknown
  index?: number
}

/** renderPage returns the page's root element with every component. */
export function renderPage(page: TreePage, ctx: RenderCtx): HTMLElement {
  const root = h("div", "cx-page")
  root.dataset.page = page.id
  root.dataset.children = ""
  applyTokens(root, ctx.tokens)
  for (const n of page.children) root.append(renderNode(n, ctx, {}))
  if (page.children.length === 0 && ctx.mode === "design") {
    const empty = h("div", "cx-empty", "Drag components here from the palette")
    empty.dataset.placeholder = "1"
    root.append(empty)
  }
  return root
}

/** applyTokens exposes theme tokens as CSS variables (--primary…). */
export function applyTokens(el: HTMLElement, tokens: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(tokens ?? {})) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(k)) continue
    el.style.setProperty(`--${k}`, typeof v === "number" && k === "radius" ? `${v}px` : String(v))
  }
}

function renderNode(n: TreeNode, ctx: RenderCtx, scope: Scope): HTMLElement {
  const props = resolveProps(n, ctx, scope)
  const layout = n.comp.layout ?? {}
  const wrap = h("div", `cx cx--${n.type.replace(/[^a-z0-9-]/gi, "")}`)
  wrap.dataset.id = n.id
  wrap.dataset.type = n.type
  if (n.comp.handlers && Object.keys(n.comp.handlers).length) wrap.dataset.handlers = Object.keys(n.comp.handlers).join(" ")
  applyBox(wrap, layout)
  const inner = renderInner(n, props, ctx, scope, wrap)
  applyStyle(inner ?? wrap, n.comp.style ?? {})
  if (!ctx.reg.lookup(n.type)) {
    wrap.append(h("div", "cx-unknown", `Unknown component “${n.type}”`))
  }
  return wrap
}

function resolveProps(n: TreeNode, ctx: RenderCtx, scope: Scope): Record<string, any> {
  const typ = ctx.reg.lookup(n.type)
  const out: Record<string, any> = {}
  for (const s of typ?.props ?? []) if (s.default !== undefined) out[s.name] = s.default
  Object.assign(out, n.comp.props ?? {})
  if (ctx.mode !== "design") {
    for (const [prop, expr] of Object.entries(n.comp.bindings ?? {})) {
      const v = evalBinding(String(expr), { state: ctx.state, ...scope })
      if (v !== undefined) out[prop] = v
    }
  }
  return out
}

/**
 * evalBinding evaluates the small, safe subset of binding expressions the
 * page understands without running code: paths (state.todos, item.title,
 * state.list[0].name), String(path), and literals. Anything else (real
 * JavaScript) is left to the executor and yields undefined.
 */
export function evalBinding(expr: string, env: Record<string, unknown>): unknown {
  const e = expr.trim()
  const str = /^String\((.*)\)$/.exec(e)
  if (str) {
    const v = evalBinding(str[1], env)
    return v === undefined ? undefined : typeof v === "object" ? JSON.stringify(v) : String(v)
  }
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e)
  const lit = /^(['"])(.*)\1$/.exec(e)
  if (lit) return lit[2]
  if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*|\[\d+\])*$/.test(e)) return undefined
  let cur: any = env
  for (const part of e.match(/[A-Za-z_$][\w$]*|\d+/g) ?? []) {
    if (cur === null || typeof cur !== "object" || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined
    cur = cur[part]
  }
  return cur
}

function renderChildren(host: HTMLElement, n: TreeNode, ctx: RenderCtx, scope: Scope): void {
  host.dataset.children = n.id
  for (const c of n.children) host.append(renderNode(c, ctx, scope))
  if (n.children.length === 0 && ctx.mode === "design") {
    const ph = h("div", "cx-drop-hint", "Drop here")
    ph.dataset.placeholder = "1"
    host.append(ph)
  }
}

function renderInner(n: TreeNode, p: Record<string, any>, ctx: RenderCtx, scope: Scope, wrap: HTMLElement): HTMLElement | null {
  const live = ctx.mode !== "design"
  switch (n.type) {
    case "container":
    case "stack":
    case "form": {
      applyFlex(wrap, n.comp.layout ?? {})
      renderChildren(wrap, n, ctx, scope)
      return null
    }
    case "grid": {
      const cols = num(n.comp.layout?.columns, 2)
      wrap.style.display = "grid"
      wrap.style.gridTemplateColumns = `repeat(${Math.max(1, Math.min(24, cols))}, minmax(0, 1fr))`
      wrap.style.gap = px(n.comp.layout?.gap, 16)
      renderChildren(wrap, n, ctx, scope)
      return null
    }
    case "card": {
      wrap.classList.toggle("cx-elevated", p.elevated !== false)
      if (p.title) wrap.append(h("div", "cx-card-title", String(p.title)))
      if (p.subtitle) wrap.append(h("div", "cx-card-subtitle", String(p.subtitle)))
      const body = h("div", "cx-card-body")
      applyFlex(body, n.comp.layout ?? {})
      wrap.append(body)
      renderChildren(body, n, ctx, scope)
      return null
    }
    case "tabs": {
      const tabs = Array.isArray(p.tabs) ? p.tabs : []
      const active = Math.max(0, Math.min(num(p.active, 0), Math.max(0, n.children.length - 1)))
      const bar = h("div", "cx-tabbar")
      tabs.forEach((t: unknown, i: number) => bar.append(h("span", i === active ? "cx-tab cx-tab-active" : "cx-tab", String(t))))
      const body = h("div", "cx-tab-body")
      wrap.append(bar, body)
      if (ctx.mode === "design") renderChildren(body, n, ctx, scope)
      else if (n.children[active]) body.append(renderNode(n.children[active], ctx, scope))
      return null
    }
    case "modal": {
      if (live && !p.open) {
        wrap.style.display = "none"
        return null
      }
      wrap.classList.add(live ? "cx-modal-open" : "cx-modal-design")
      const box = h("div", "cx-modal-box")
      box.append(h("div", "cx-card-title", String(p.title ?? "")))
      const body = h("div", "cx-card-body")
      applyFlex(body, n.comp.layout ?? {})
      box.append(body)
      wrap.append(box)
      renderChildren(body, n, ctx, scope)
      return null
    }
    case "list": {
      applyFlex(wrap, n.comp.layout ?? {})
      const items = Array.isArray(p.items) ? p.items : []
      if (!live) {
        renderChildren(wrap, n, ctx, scope)
        return null
      }
      wrap.dataset.children = n.id
      if (items.length === 0) wrap.append(h("div", "cx-muted", String(p.emptyText ?? "")))
      items.slice(0, 500).forEach((item: unknown, index: number) => {
        const row = h("div", "cx-list-item")
        row.dataset.index = String(index)
        for (const c of n.children) row.append(renderNode(c, ctx, { item, index }))
        wrap.append(row)
      })
      return null
    }
    case "divider": {
      const el = h("hr", p.orientation === "vertical" ? "cx-divider cx-vertical" : "cx-divider")
      wrap.append(el)
      return el
    }
    case "spacer":
      wrap.style.height = px(p.size, 16)
      return null
    case "text": {
      const el = h("p", `cx-text cx-${p.variant ?? "body"}`, String(p.text ?? ""))
      if (p.truncate) el.classList.add("cx-truncate")
      wrap.append(el)
      return el
    }
    case "heading": {
      const level = Math.max(1, Math.min(6, num(p.level, 2)))
      const el = h(`h${level}`, "cx-heading", String(p.text ?? ""))
      wrap.append(el)
      return el
    }
    case "markdown": {
      const el = h("div", "cx-markdown")
      el.innerHTML = markdown(String(p.source ?? ""))
      wrap.append(el)
      return el
    }
    case "image": {
      if (!p.src) {
        const ph = h("div", "cx-image-placeholder", "Image")
        wrap.append(ph)
        return ph
      }
      const img = h("img", "cx-image") as HTMLImageElement
      img.src = safeURL(String(p.src))
      img.alt = String(p.alt ?? "")
      img.style.objectFit = String(p.fit ?? "cover")
      img.draggable = false
      wrap.append(img)
      return img
    }
    case "icon": {
      const el = h("span", "cx-icon", ICONS[String(p.name)] ?? "★")
      el.style.fontSize = px(p.size, 16)
      if (p.color) el.style.color = color(String(p.color))
      wrap.append(el)
      return el
    }
    case "link": {
      const a = h("a", "cx-link", String(p.text ?? "")) as HTMLAnchorElement
      a.href = safeURL(String(p.href ?? "#"))
      if (p.newTab) a.target = "_blank"
      a.rel = "noopener noreferrer"
      a.draggable = false
      wrap.append(a)
      return a
    }
    case "badge": {
      const el = h("span", `cx-badge cx-tone-${p.tone ?? "neutral"}`, String(p.text ?? ""))
      wrap.append(el)
      return el
    }
    case "avatar": {
      const el = h("span", `cx-avatar cx-size-${p.size ?? "md"}`)
      if (p.src) {
        const img = h("img") as HTMLImageElement
        img.src = safeURL(String(p.src))
        img.alt = String(p.name ?? "")
        el.append(img)
      } else el.textContent = initials(String(p.name || "?"))
      wrap.append(el)
      return el
    }
    case "code": {
      const pre = h("pre", "cx-code")
      pre.append(h("code", "", String(p.source ?? "")))
      wrap.append(pre)
      return pre
    }
    case "button": {
      const b = h("button", `cx-button cx-${p.variant ?? "primary"} cx-size-${p.size ?? "md"}`, String(p.label ?? "")) as HTMLButtonElement
      b.type = p.type === "submit" ? "submit" : "button"
      b.disabled = !!p.disabled
      wrap.append(b)
      return b
    }
    case "input":
    case "textarea":
    case "select":
    case "date":
    case "file":
    case "slider":
      return field(wrap, n.type, p, live)
    case "checkbox":
    case "switch": {
      const lab = h("label", `cx-check cx-${n.type}`)
      const box = h("input") as HTMLInputElement
      box.type = "checkbox"
      box.checked = !!p.checked
      box.disabled = !!p.disabled || !live
      lab.append(box, h("span", "", String(p.label ?? "")))
      wrap.append(lab)
      return lab
    }
    case "radio": {
      const fs = h("div", "cx-radio")
      if (p.label) fs.append(h("div", "cx-field-label", String(p.label)))
      const name = `${n.id}-${scope.index ?? 0}`
      for (const o of Array.isArray(p.options) ? p.options : []) {
        const lab = h("label", "cx-check")
        const r = h("input") as HTMLInputElement
        r.type = "radio"
        r.name = name
        r.checked = String(o) === p.value
        r.disabled = !!p.disabled || !live
        lab.append(r, h("span", "", String(o)))
        fs.append(lab)
      }
      wrap.append(fs)
      return fs
    }
    case "table":
      return table(wrap, p)
    case "chart":
      return chart(wrap, p)
    case "progress": {
      const box = h("div", "cx-progress")
      if (p.label) box.append(h("div", "cx-field-label", String(p.label)))
      const track = h("div", `cx-track cx-tone-${p.tone ?? "neutral"}`)
      const bar = h("div", "cx-bar")
      bar.style.width = `${Math.max(0, Math.min(100, num(p.value, 0)))}%`
      track.append(bar)
      box.append(track)
      wrap.append(box)
      return box
    }
    case "stat": {
      const box = h("div", "cx-stat")
      box.append(h("div", "cx-stat-label", String(p.label ?? "")), h("div", "cx-stat-value", String(p.value ?? "")))
      if (p.delta || p.trend !== "flat") {
        const arrow = p.trend === "up" ? "▲ " : p.trend === "down" ? "▼ " : ""
        box.append(h("div", `cx-stat-delta cx-trend-${p.trend ?? "flat"}`, arrow + String(p.delta ?? "")))
      }
      wrap.append(box)
      return box
    }
  }
  if (ctx.reg.canContain(n.type)) renderChildren(wrap, n, ctx, scope)
  return null
}

function field(wrap: HTMLElement, type: string, p: Record<string, any>, live: boolean): HTMLElement {
  const lab = h("label", "cx-field")
  if (p.label) lab.append(h("span", "cx-field-label", String(p.label)))
  let el: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement
  if (type === "textarea") {
    const ta = h("textarea", "cx-input") as HTMLTextAreaElement
    ta.rows = Math.max(1, Math.min(100, num(p.rows, 3)))
    ta.value = String(p.value ?? "")
    ta.placeholder = String(p.placeholder ?? "")
    el = ta
  } else if (type === "select") {
    const sel = h("select", "cx-input") as HTMLSelectElement
    if (p.placeholder) sel.append(new Option(String(p.placeholder), ""))
    for (const o of Array.isArray(p.options) ? p.options : []) sel.append(new Option(String(o), String(o)))
    sel.value = String(p.value ?? "")
    el = sel
  } else {
    const inp = h("input", "cx-input") as HTMLInputElement
    inp.type = type === "input" ? String(p.kind ?? "text") : type === "slider" ? "range" : type
    if (type === "slider") {
      inp.min = String(num(p.min, 0))
      inp.max = String(num(p.max, 100))
      inp.step = String(num(p.step, 1))
      inp.value = String(num(p.value, 50))
    } else if (type === "date") {
      inp.value = String(p.value ?? "")
    } else if (type === "file") {
      if (p.accept) inp.accept = String(p.accept)
      inp.multiple = !!p.multiple
    } else {
      inp.value = String(p.value ?? "")
      inp.placeholder = String(p.placeholder ?? "")
    }
    el = inp
  }
  el.name = String(p.name ?? "")
  el.disabled = !!p.disabled || !live
  if (!live) el.tabIndex = -1
  lab.append(el)
  wrap.append(lab)
  return lab
}

function table(wrap: HTMLElement, p: Record<string, any>): HTMLElement {
  const t = h("table", p.striped === false ? "cx-table" : "cx-table cx-striped")
  const rows: unknown[] = Array.isArray(p.rows) ? p.rows : []
  let cols: string[] = (Array.isArray(p.columns) ? p.columns : []).map((c: any) =>
    typeof c === "object" && c ? String(c.key ?? c.label ?? "") : String(c)
  )
  if (cols.length === 0 && rows.length && typeof rows[0] === "object" && rows[0]) cols = Object.keys(rows[0] as object)
  const head = h("tr")
  for (const c of cols) head.append(h("th", "", c))
  const thead = h("thead")
  thead.append(head)
  const tbody = h("tbody")
  for (const r of rows.slice(0, Math.max(1, num(p.pageSize, 10)))) {
    const tr = h("tr")
    cols.forEach((c, i) => {
      const v = Array.isArray(r) ? r[i] : r && typeof r === "object" ? (r as any)[c] : r
      tr.append(h("td", "", v === undefined || v === null ? "" : String(v)))
    })
    tbody.append(tr)
  }
  if (rows.length === 0) {
    const tr = h("tr")
    const td = h("td", "cx-muted", "No rows") as HTMLTableCellElement
    td.colSpan = Math.max(1, cols.length)
    tr.append(td)
    tbody.append(tr)
  }
  t.append(thead, tbody)
  wrap.append(t)
  return t
}

const SVG = "http://www.w3.org/2000/svg"

function chart(wrap: HTMLElement, p: Record<string, any>): HTMLElement {
  const box = h("div", "cx-chart")
  if (p.title) box.append(h("div", "cx-field-label", String(p.title)))
  let data: { x: string; y: number }[] = (Array.isArray(p.data) ? p.data : []).map((d: any) => ({
    x: String(d?.[p.xKey ?? "x"] ?? ""), y: Number(d?.[p.yKey ?? "y"]) || 0,
  }))
  if (data.length === 0) data = [{ x: "A", y: 3 }, { x: "B", y: 5 }, { x: "C", y: 2 }, { x: "D", y: 6 }]
  const W = 320, H = 160, max = Math.max(1, ...data.map(d => d.y))
  const svg = document.createElementNS(SVG, "svg")
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`)
  svg.setAttribute("class", "cx-chart-svg")
  const step = W / data.length
  const y = (v: number) => H - 16 - (v / max) * (H - 28)
  if (p.kind === "line" || p.kind === "area") {
    const pts = data.map((d, i) => `${i * step + step / 2},${y(d.y)}`)
    if (p.kind === "area") {
      const area = document.createElementNS(SVG, "polygon")
      area.setAttribute("points", `${step / 2},${H - 16} ${pts.join(" ")} ${W - step / 2},${H - 16}`)
      area.setAttribute("class", "cx-chart-area")
      svg.append(area)
    }
    const line = document.createElementNS(SVG, "polyline")
    line.setAttribute("points", pts.join(" "))
    line.setAttribute("class", "cx-chart-line")
    svg.append(line)
  } else if (p.kind === "pie") {
    const total = data.reduce((s, d) => s + Math.max(0, d.y), 0) || 1
    let a0 = -Math.PI / 2
    data.forEach((d, i) => {
      const a1 = a0 + (Math.max(0, d.y) / total) * Math.PI * 2
      const r = 64, cx = W / 2, cy = H / 2
      const path = document.createElementNS(SVG, "path")
      const large = a1 - a0 > Math.PI ? 1 : 0
      path.setAttribute("d", `M${cx},${cy} L${cx + r * Math.cos(a0)},${cy + r * Math.sin(a0)} A${r},${r} 0 ${large} 1 ${cx + r * Math.cos(a1)},${cy + r * Math.sin(a1)} Z`)
      path.setAttribute("class", `cx-pie-${i % 6}`)
      svg.append(path)
      a0 = a1
    })
  } else {
    data.forEach((d, i) => {
      const r = document.createElementNS(SVG, "rect")
      r.setAttribute("x", String(i * step + step * 0.15))
      r.setAttribute("width", String(step * 0.7))
      r.setAttribute("y", String(y(d.y)))
      r.setAttribute("height", String(Math.max(0, H - 16 - y(d.y))))
      r.setAttribute("class", "cx-chart-bar")
      svg.append(r)
    })
  }
  if (p.kind !== "pie") {
    data.forEach((d, i) => {
      const t = document.createElementNS(SVG, "text")
      t.setAttribute("x", String(i * step + step / 2))
      t.setAttribute("y", String(H - 3))
      t.setAttribute("class", "cx-chart-label")
      t.textContent = d.x
      svg.append(t)
    })
  }
  box.append(svg)
  wrap.append(box)
  return box
}

function applyBox(el: HTMLElement, layout: Record<string, unknown>): void {
  const w = num(layout.w, 0), hh = num(layout.h, 0)
  if (w > 0) el.style.width = `${w}px`
  if (w > 0) el.style.maxWidth = "100%"
  if (hh > 0) el.style.minHeight = `${hh}px`
  if (num(layout.grow, 0) > 0) el.style.flexGrow = String(num(layout.grow, 0))
}

function applyFlex(el: HTMLElement, layout: Record<string, unknown>): void {
  el.style.display = "flex"
  el.style.flexDirection = layout.direction === "row" ? "row" : "column"
  el.style.gap = px(layout.gap, 8)
  const map: Record<string, string> = { start: "flex-start", end: "flex-end", center: "center", stretch: "stretch", between: "space-between", around: "space-around", evenly: "space-evenly" }
  if (typeof layout.align === "string" && map[layout.align]) el.style.alignItems = map[layout.align]
  if (typeof layout.justify === "string" && map[layout.justify]) el.style.justifyContent = map[layout.justify]
  if (layout.wrap) el.style.flexWrap = "wrap"
  if (layout.direction === "row" && !layout.align) el.style.alignItems = "center"
}

const SHADOWS: Record<string, string> = {
  none: "none", sm: "0 1px 2px rgba(0,0,0,.08)", md: "0 4px 12px rgba(0,0,0,.12)", lg: "0 12px 32px rgba(0,0,0,.18)",
}
const WEIGHTS: Record<string, string> = { normal: "400", medium: "500", semibold: "600", bold: "700" }

function applyStyle(el: HTMLElement, s: Record<string, unknown>): void {
  const st = el.style
  if (typeof s.color === "string") st.color = color(s.color)
  if (typeof s.background === "string") st.background = color(s.background)
  if (typeof s.borderColor === "string" || s.borderWidth !== undefined) {
    st.border = `${num(s.borderWidth, 1)}px solid ${typeof s.borderColor === "string" ? color(s.borderColor) : "currentColor"}`
  }
  if (s.borderRadius !== undefined) st.borderRadius = px(s.borderRadius, 0)
  if (s.padding !== undefined) st.padding = px(s.padding, 0)
  if (s.margin !== undefined) st.margin = px(s.margin, 0)
  if (s.fontSize !== undefined) st.fontSize = px(s.fontSize, 16)
  if (typeof s.fontWeight === "string" && WEIGHTS[s.fontWeight]) st.fontWeight = WEIGHTS[s.fontWeight]
  if (typeof s.fontFamily === "string" && s.fontFamily) st.fontFamily = s.fontFamily
  if (typeof s.textAlign === "string") st.textAlign = s.textAlign
  if (s.opacity !== undefined) st.opacity = String(num(s.opacity, 1))
  if (typeof s.shadow === "string" && SHADOWS[s.shadow]) st.boxShadow = SHADOWS[s.shadow]
}

/** color turns "$token" into var(--token); other values are CSS colors. */
function color(v: string): string {
  return v.startsWith("$") ? `var(--${v.slice(1).replace(/[^A-Za-z0-9_-]/g, "")})` : v
}

function num(v: unknown, def: number): number {
  return typeof v === "number" && Number.isFinite(v) ? v : def
}

function px(v: unknown, def: number): string {
  return `${num(v, def)}px`
}

function safeURL(u: string): string {
  return /^(https?:|mailto:|tel:|data:image\/|\/|#|\.\/|\?)/i.test(u) ? u : "#"
}

function initials(name: string): string {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map(w => w[0]!.toUpperCase()).join("") || "?"
}

const ICONS: Record<string, string> = {
  star: "★", zap: "⚡", code: "</>", "wifi-off": "⌁", heart: "♥", check: "✓", x: "✕", plus: "+", minus: "−",
  user: "👤", mail: "✉", phone: "☎", home: "⌂", search: "⌕", settings: "⚙", bell: "🔔", calendar: "📅",
  arrow: "→", info: "ℹ", warning: "⚠", clock: "⏱", sun: "☀", moon: "☾",
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!)
}

/** markdown renders a safe subset: paragraphs, # headings, - lists, **bold**, *em*, `code`. */
export function markdown(src: string): string {
  const inline = (s: string) =>
    esc(s)
      .replace(/\*\*(.+?)\*\*/g, "<strong>$1</strong>")
      .replace(/\*(.+?)\*/g, "<em>$1</em>")
      .replace(/`(.+?)`/g, "<code>$1</code>")
  const out: string[] = []
  for (const block of src.split(/\n{2,}/)) {
    const lines = block.split("\n").filter(l => l.trim() !== "")
    if (lines.length === 0) continue
    if (lines.every(l => /^\s*[-*] /.test(l))) {
      out.push("<ul>" + lines.map(l => `<li>${inline(l.replace(/^\s*[-*] /, ""))}</li>`).join("") + "</ul>")
    } else if (/^#{1,6} /.test(lines[0]) && lines.length === 1) {
      const level = lines[0].match(/^#+/)![0].length
      out.push(`<h${level}>${inline(lines[0].replace(/^#+ /, ""))}</h${level}>`)
    } else out.push(`<p>${lines.map(inline).join("<br>")}</p>`)
  }
  return out.join("")
}

export function h(tag: string, cls = "", text?: string): HTMLElement {
  const el = document.createElement(tag)
  if (cls) el.className = cls
  if (text !== undefined) el.textContent = text
  return el
}
