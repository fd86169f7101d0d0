// Tree materialization, a port of canvas/tree.go's buildTree: pages sorted
// by (index, id), components under their parent sorted by (index, id), and
// the same deterministic repair of orphans, non-container parents and
// cycles (a repaired component is shown at its page's root). The page only
// reads the repaired tree; the server writes repairs back.
import type { AppDoc, ComponentDoc } from "./schema.js"
import { validIndex } from "./fracindex.js"

export interface TreeNode {
  id: string
  type: string
  page: string
  parent: string // "" at the page root
  index: string
  comp: ComponentDoc
  children: TreeNode[]
}

export interface TreePage {
  id: string
  name: string
  route: string
  index: string
  children: TreeNode[]
}

export const RECOVERED_PAGE = "recovered"

export class Tree {
  pages: TreePage[] = []
  private nodes = new Map<string, TreeNode>()
  private pageMap = new Map<string, TreePage>()

  node(id: string | null | undefined): TreeNode | undefined {
    return id ? this.nodes.get(id) : undefined
  }

  page(id: string | null | undefined): TreePage | undefined {
    return id ? this.pageMap.get(id) : undefined
  }

  get size(): number {
    return this.nodes.size
  }

  /** children returns the ordered children of parent ("" = page root). */
  children(page: string, parent: string): TreeNode[] {
    if (parent) return this.nodes.get(parent)?.children ?? []
    return this.pageMap.get(page)?.children ?? []
  }

  /** descendants returns n and everything below it, parents first. */
  static descendants(n: TreeNode): TreeNode[] {
    const out = [n]
    for (let i = 0; i < out.length; i++) out.push(...out[i].children)
    return out
  }

  /** isInside reports whether id is target or one of target's ancestors. */
  isAncestorOrSelf(id: string, target: string): boolean {
    for (let cur: string | undefined = target; cur; cur = this.nodes.get(cur)?.parent) {
      if (cur === id) return true
    }
    return false
  }

  static build(doc: AppDoc, canContain: (type: string) => boolean): Tree {
    const t = new Tree()
    const pages = doc.pages ?? {}
    const comps = doc.components ?? {}
    for (const [id, p] of Object.entries(pages)) {
      if (!p || typeof p !== "object") continue
      const pg: TreePage = { id, name: str(p.name), route: str(p.route), index: str(p.index), children: [] }
      t.pageMap.set(id, pg)
      t.pages.push(pg)
    }
    const ids = Object.keys(comps)
      .filter(id => comps[id] && typeof comps[id] === "object")
      .sort(cmp)
    if (t.pages.length === 0 && ids.length > 0) {
      const pg: TreePage = { id: RECOVERED_PAGE, name: "Recovered", route: "/", index: "V", children: [] }
      t.pageMap.set(pg.id, pg)
      t.pages.push(pg)
    }
    t.pages.sort((a, b) => cmp(a.index, b.index) || cmp(a.id, b.id))

    const parent = new Map<string, string>()
    const detached = new Set<string>()
    for (const id of ids) {
      const c = comps[id]
      const pos = c.pos && typeof c.pos === "object" ? c.pos : ({ parent: null, index: "" } as ComponentDoc["pos"])
      const n: TreeNode = {
        id, type: str(c.type), page: str(c.page), parent: str(pos.parent), index: str(pos.index), comp: c, children: [],
      }
      t.nodes.set(id, n)
      const p = n.parent
      if (p === "") continue
      const pc = comps[p]
      if (!pc || typeof pc !== "object") detached.add(id)
      else if (!canContain(str(pc.type))) detached.add(id)
      else parent.set(id, p)
    }
    breakCycles(ids, parent, detached)
    for (const id of ids) {
      const n = t.nodes.get(id)!
      n.parent = parent.get(id) ?? ""
      n.page = effectivePage(t, parent, id)
      if (detached.has(id) && !validIndex(n.index)) n.index = "V"
    }
    for (const id of ids) {
      const n = t.nodes.get(id)!
      if (n.parent === "") t.pageMap.get(n.page)!.children.push(n)
      else t.nodes.get(n.parent)!.children.push(n)
    }
    const order = (a: TreeNode, b: TreeNode) => cmp(a.index, b.index) || cmp(a.id, b.id)
    for (const n of t.nodes.values()) n.children.sort(order)
    for (const p of t.pages) p.children.sort(order)
    return t
  }
}

function str(v: unknown): string {
  return typeof v === "string" ? v : ""
}

/** cmp compares strings bytewise, as Go's cmp.Compare does for ASCII. */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** breakCycles detaches the smallest id of every cycle, like canvas. */
function breakCycles(ids: string[], parent: Map<string, string>, detached: Set<string>): void {
  const state = new Map<string, number>() // 1 walking, 2 done
  for (const id of ids) {
    const path: string[] = []
    let cur = id
    while (cur !== "" && !state.get(cur)) {
      state.set(cur, 1)
      path.push(cur)
      cur = parent.get(cur) ?? ""
    }
    if (cur !== "" && state.get(cur) === 1) {
      const cycle = path.slice(path.indexOf(cur))
      const victim = cycle.reduce((m, x) => (x < m ? x : m))
      parent.delete(victim)
      detached.add(victim)
    }
    for (const p of path) state.set(p, 2)
  }
}

function effectivePage(t: Tree, parent: Map<string, string>, id: string): string {
  let cur = id
  while (parent.get(cur)) cur = parent.get(cur)!
  const p = t.node(cur)!.page
  return t.page(p) ? p : t.pages[0].id
}
