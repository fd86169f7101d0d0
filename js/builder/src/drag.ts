// Drag and drop with pointer events: from the palette (create), and of
// components on the canvas or rows of the layers tree (move/reparent).
// Where a drop lands is computed from the rendered DOM, so it matches what
// the user sees; the operation itself is done by the caller.
import type { Tree } from "./tree.js"
import type { Target } from "./editor.js"

export type DragSource = { kind: "new"; type: string } | { kind: "move"; id: string }

export interface DropSpot {
  target: Target
  // The indicator, in the artboard's or the layers' coordinates.
  line?: { x: number; y: number; w: number; h: number }
  box?: { x: number; y: number; w: number; h: number }
  area: "canvas" | "layers"
}

export interface DragHost {
  artboard: HTMLElement
  pageRoot: () => HTMLElement | null
  layers: HTMLElement
  tree: () => Tree
  page: () => string
  canContain: (type: string) => boolean
  drop: (src: DragSource, spot: DropSpot) => void
  click: (src: DragSource, ev: PointerEvent) => void
  show: (spot: DropSpot | null) => void
}

const THRESHOLD = 4

/** beginDrag follows one pointer from pointerdown until release. */
export function beginDrag(host: DragHost, src: DragSource, down: PointerEvent, label: string): void {
  if (down.button !== 0) return
  const x0 = down.clientX, y0 = down.clientY
  let ghost: HTMLElement | null = null
  let spot: DropSpot | null = null
  const move = (e: PointerEvent) => {
    if (!ghost) {
      if (Math.hypot(e.clientX - x0, e.clientY - y0) < THRESHOLD) return
      ghost = document.createElement("div")
      ghost.className = "b-ghost"
      ghost.textContent = label
      document.body.append(ghost)
      document.body.classList.add("b-dragging")
    }
    ghost.style.transform = `translate(${e.clientX + 12}px, ${e.clientY + 8}px)`
    spot = findSpot(host, src, e.clientX, e.clientY)
    host.show(spot)
  }
  const up = (e: PointerEvent) => {
    removeEventListener("pointermove", move, true)
    removeEventListener("pointerup", up, true)
    removeEventListener("keydown", key, true)
    if (!ghost) {
      host.click(src, e)
      return
    }
    ghost.remove()
    document.body.classList.remove("b-dragging")
    host.show(null)
    spot = findSpot(host, src, e.clientX, e.clientY)
    if (spot) host.drop(src, spot)
  }
  const key = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || !ghost) return
    ghost.remove()
    ghost = null
    document.body.classList.remove("b-dragging")
    host.show(null)
    removeEventListener("pointermove", move, true)
    removeEventListener("pointerup", up, true)
    removeEventListener("keydown", key, true)
  }
  addEventListener("pointermove", move, true)
  addEventListener("pointerup", up, true)
  addEventListener("keydown", key, true)
  down.preventDefault()
}

export function findSpot(host: DragHost, src: DragSource, x: number, y: number): DropSpot | null {
  const el = document.elementFromPoint(x, y)
  if (!el) return null
  const dragged = src.kind === "move" ? src.id : ""
  if (host.layers.contains(el)) return layersSpot(host, el, y, dragged)
  if (host.artboard.contains(el)) return canvasSpot(host, el, x, y, dragged)
  return null
}

function rel(r: DOMRect, to: DOMRect) {
  return { x: r.left - to.left, y: r.top - to.top, w: r.width, h: r.height }
}

function canvasSpot(host: DragHost, el: Element, x: number, y: number, dragged: string): DropSpot | null {
  const root = host.pageRoot()
  if (!root) return null
  const t = host.tree()
  const ab = host.artboard.getBoundingClientRect()
  let comp = el.closest<HTMLElement>("[data-id]")
  while (comp && dragged && t.isAncestorOrSelf(dragged, comp.dataset.id!)) {
    comp = comp.parentElement?.closest<HTMLElement>("[data-id]") ?? null
  }
  if (comp && !root.contains(comp)) comp = null
  if (!comp) return slotSpot(host, root, "", x, y, dragged, ab)
  const id = comp.dataset.id!
  const node = t.node(id)
  if (!node) return null
  const parentHost = comp.parentElement?.closest<HTMLElement>("[data-children]") ?? root
  if (host.canContain(node.type)) {
    const r = comp.getBoundingClientRect()
    const row = isRow(parentHost)
    const edge = Math.min(10, (row ? r.width : r.height) / 4)
    const nearStart = row ? x < r.left + edge : y < r.top + edge
    const nearEnd = row ? x > r.right - edge : y > r.bottom - edge
    if (!nearStart && !nearEnd) {
      const inner = comp.matches(`[data-children="${id}"]`) ? comp : comp.querySelector<HTMLElement>(`[data-children="${id}"]`)
      if (inner) return slotSpot(host, inner, id, x, y, dragged, ab)
    }
  }
  // Beside comp, in its parent.
  const parentID = parentHost.dataset.children ?? ""
  const sibs = childComps(parentHost, dragged)
  const i = sibs.indexOf(comp)
  const r = comp.getBoundingClientRect()
  const after = isRow(parentHost) ? x > r.left + r.width / 2 : y > r.top + r.height / 2
  return spotAt(host, parentHost, parentID, i + (after ? 1 : 0), sibs, ab)
}

function childComps(hostEl: HTMLElement, dragged: string): HTMLElement[] {
  return Array.from(hostEl.children).filter(
    (c): c is HTMLElement => c instanceof HTMLElement && !!c.dataset.id && c.dataset.id !== dragged
  )
}

function isRow(el: HTMLElement): boolean {
  const cs = getComputedStyle(el)
  return cs.display.includes("flex") && cs.flexDirection.startsWith("row")
}

function isGrid(el: HTMLElement): boolean {
  return getComputedStyle(el).display.includes("grid")
}

function slotSpot(host: DragHost, hostEl: HTMLElement, parent: string, x: number, y: number, dragged: string, ab: DOMRect): DropSpot {
  const sibs = childComps(hostEl, dragged)
  const row = isRow(hostEl), grid = isGrid(hostEl)
  let slot = sibs.length
  for (let i = 0; i < sibs.length; i++) {
    const r = sibs[i].getBoundingClientRect()
    const before = grid
      ? y < r.top || (y <= r.bottom && x < r.left + r.width / 2)
      : row
        ? x < r.left + r.width / 2
        : y < r.top + r.height / 2
    if (before) {
      slot = i
      break
    }
  }
  return spotAt(host, hostEl, parent, slot, sibs, ab)
}

function spotAt(host: DragHost, hostEl: HTMLElement, parent: string, slot: number, sibs: HTMLElement[], ab: DOMRect): DropSpot {
  const target: Target = { page: host.page(), parent, slot }
  if (sibs.length === 0) return { target, box: rel(hostEl.getBoundingClientRect(), ab), area: "canvas" }
  const row = isRow(hostEl)
  const ref = sibs[Math.min(slot, sibs.length - 1)].getBoundingClientRect()
  const r = rel(ref, ab)
  const atEnd = slot >= sibs.length
  const line = row
    ? { x: (atEnd ? r.x + r.w : r.x) - 2, y: r.y, w: 3, h: r.h }
    : { x: r.x, y: (atEnd ? r.y + r.h : r.y) - 2, w: r.w, h: 3 }
  return { target, line, area: "canvas" }
}

function layersSpot(host: DragHost, el: Element, y: number, dragged: string): DropSpot | null {
  const row = el.closest<HTMLElement>("[data-layer-id]")
  if (!row) return null
  const t = host.tree()
  const lr = host.layers.getBoundingClientRect()
  const rr = row.getBoundingClientRect()
  const box = { x: rr.left - lr.left, y: rr.top - lr.top + host.layers.scrollTop, w: rr.width, h: rr.height }
  const id = row.dataset.layerId!
  if (id === "") {
    const sibs = t.children(host.page(), "").filter(n => n.id !== dragged)
    return { target: { page: host.page(), parent: "", slot: sibs.length }, box, area: "layers" }
  }
  const n = t.node(id)
  if (!n || (dragged && t.isAncestorOrSelf(dragged, id))) return null
  const f = (y - rr.top) / rr.height
  if (host.canContain(n.type) && f > 0.25 && f < 0.75) {
    const kids = n.children.filter(c => c.id !== dragged)
    return { target: { page: n.page, parent: id, slot: kids.length }, box, area: "layers" }
  }
  const sibs = t.children(n.page, n.parent).filter(c => c.id !== dragged)
  const i = sibs.findIndex(c => c.id === id)
  const after = f >= 0.5
  const line = { x: box.x + 8, y: after ? box.y + box.h - 1 : box.y - 1, w: box.w - 8, h: 2 }
  return { target: { page: n.page, parent: n.parent, slot: i + (after ? 1 : 0) }, line, area: "layers" }
}
