// Operations on the app document, written like package canvas writes them
// (canvas/ops.go, pages.go, position.go) and recorded for per-user undo
// (canvas/undo.go): every operation is a list of writes, each with the
// value before, applied in one Automerge change.
import type { DocHandle } from "@automerge/automerge-repo/slim"
import { between, spread, MAX_INDEX_LEN } from "./fracindex.js"
import { get, newID, plain, put, sameValue, type Path } from "./doc.js"
import { checkProp, type AppDoc, type Group, type RegistryView } from "./schema.js"
import { Tree, type TreeNode } from "./tree.js"

export interface Write {
  path: Path
  before: unknown
  had: boolean
  after: unknown
  has: boolean
}

export class OpError extends Error {}

/** Plan collects an operation's writes against a snapshot. */
class Plan {
  writes: Write[] = []
  private seen = new Map<string, number>()
  constructor(readonly doc: AppDoc) {}

  set(path: Path, v: unknown): void {
    this.add(path, v, true)
  }
  del(path: Path): void {
    this.add(path, null, false)
  }
  private add(path: Path, v: unknown, has: boolean): void {
    const key = JSON.stringify(path)
    const i = this.seen.get(key)
    if (i !== undefined) {
      this.writes[i].after = v
      this.writes[i].has = has
      return
    }
    const before = get(this.doc, path)
    const had = before !== undefined && before !== null
    if (!has && !had) return
    if (has && had && sameValue(before, v)) return
    this.seen.set(key, this.writes.length)
    this.writes.push({ path, before: had ? before : null, had, after: v, has })
  }
}

const ENTITY_ROOTS = new Set(["components", "pages", "handlers"])
const isEntity = (w: Write) => w.path.length === 2 && ENTITY_ROOTS.has(w.path[0])

interface Group_ {
  name: string
  writes: Write[]
  coalesce?: string
  at: number
}

export const UNDO_LEVELS = 50
const COALESCE_MS = 1500

/**
 * Undo is one user's history, like canvas.Undo: undo writes back the
 * before value only where the document still holds what this user wrote,
 * so others' edits survive; redo is what the undo actually changed.
 */
export class Undo {
  private undos: Group_[] = []
  private redos: Group_[] = []
  private open: Group_ | null = null
  private depth = 0
  onChange: () => void = () => {}

  get canUndo(): boolean {
    return this.undos.length > 0
  }
  get canRedo(): boolean {
    return this.redos.length > 0
  }

  begin(name: string): void {
    if (++this.depth === 1) this.open = { name, writes: [], at: Date.now() }
  }

  end(): void {
    if (this.depth === 0) return
    if (--this.depth === 0) {
      const g = this.open!
      this.open = null
      if (g.writes.length > 0) this.push(g)
    }
  }

  /** record adds writes; with coalesce, a quick edit of the same thing joins the last group. */
  record(writes: Write[], name: string, coalesce?: string): void {
    if (writes.length === 0) return
    if (this.open) {
      this.open.writes.push(...writes)
      return
    }
    const top = this.undos[this.undos.length - 1]
    if (coalesce && top && top.coalesce === coalesce && Date.now() - top.at < COALESCE_MS) {
      for (const w of writes) {
        const same = top.writes.find(x => sameValue(x.path, w.path))
        if (same) {
          same.after = w.after
          same.has = w.has
        } else top.writes.push(w)
      }
      top.at = Date.now()
      this.redos = []
      this.onChange()
      return
    }
    this.push({ name, writes: [...writes], coalesce, at: Date.now() })
  }

  private push(g: Group_): void {
    this.undos.push(g)
    if (this.undos.length > UNDO_LEVELS) this.undos.splice(0, this.undos.length - UNDO_LEVELS)
    this.redos = []
    this.onChange()
  }

  /** undo reverts the newest group; apply performs the inverse writes. */
  undo(doc: AppDoc, apply: (ws: Write[]) => void): boolean {
    const g = this.undos.pop()
    if (!g) return false
    const inv = revert(doc, g)
    apply(inv.writes)
    this.redos.push(inv)
    this.onChange()
    return true
  }

  redo(doc: AppDoc, apply: (ws: Write[]) => void): boolean {
    const g = this.redos.pop()
    if (!g) return false
    const inv = revert(doc, g)
    apply(inv.writes)
    this.undos.push(inv)
    this.onChange()
    return true
  }
}

/** revert walks g newest first on a working copy, like canvas's revert. */
function revert(doc: AppDoc, g: Group_): Group_ {
  const work: any = { ...doc }
  for (const k of ENTITY_ROOTS) work[k] = structuredClone((doc as any)[k] ?? {})
  const inv: Group_ = { name: g.name, writes: [], at: Date.now() }
  for (let i = g.writes.length - 1; i >= 0; i--) {
    const w = g.writes[i]
    const cur = get(work, w.path)
    const has = cur !== undefined && cur !== null
    const ours = !w.has ? !has : isEntity(w) ? has : has && sameValue(cur, w.after)
    const parentOK = w.path.length <= 2 || (get(work, w.path.slice(0, 2)) ?? null) !== null
    if (!ours || !parentOK) continue
    putPlain(work, w.path, w.before, w.had)
    inv.writes.push({ path: w.path, before: has ? cur : null, had: has, after: w.before, has: w.had })
  }
  return inv
}

function putPlain(obj: any, path: Path, v: unknown, has: boolean): void {
  let cur = obj
  for (let i = 0; i < path.length - 1; i++) {
    if (cur[path[i]] === null || typeof cur[path[i]] !== "object") {
      if (!has) return
      cur[path[i]] = {}
    }
    cur = cur[path[i]]
  }
  if (has) cur[path[path.length - 1]] = structuredClone(v)
  else delete cur[path[path.length - 1]]
}

/** Where a component goes: a parent ("" = page root) of a page, at slot. */
export interface Target {
  page: string
  parent: string
  slot: number // insertion index among the siblings, the moved one excluded
}

export class Editor {
  readonly undo = new Undo()
  /** readOnly refuses every write (a viewer's builder; the server refuses them too). */
  readOnly = false

  constructor(
    readonly handle: DocHandle<AppDoc>,
    readonly reg: RegistryView,
    public actor: string
  ) {}

  snapshot(): AppDoc {
    return plain(this.handle.doc()) as AppDoc
  }

  tree(doc = this.snapshot()): Tree {
    return Tree.build(doc, t => this.reg.canContain(t))
  }

  private run(name: string, f: (p: Plan, t: Tree) => void, coalesce?: string): Write[] {
    const doc = this.snapshot()
    const p = new Plan(doc)
    f(p, this.tree(doc))
    this.apply(p.writes, name)
    this.undo.record(p.writes, name, coalesce)
    return p.writes
  }

  private apply(writes: Write[], message: string): void {
    if (writes.length === 0) return
    if (this.readOnly) throw new OpError("You can view this app but not change it")
    this.handle.change(
      d => {
        for (const w of writes) put(d, w.path, w.after, w.has)
      },
      { message: `${message} (${this.actor})` }
    )
  }

  undoStep(): boolean {
    return this.undo.undo(this.snapshot(), ws => this.apply(ws, "undo"))
  }

  redoStep(): boolean {
    return this.undo.redo(this.snapshot(), ws => this.apply(ws, "redo"))
  }

  addComponent(type: string, to: Target, props: Record<string, unknown> = {}): string {
    const typ = this.reg.lookup(type)
    if (!typ) throw new OpError(`unknown component type ${type}`)
    let id = ""
    this.run(`add ${type}`, (p, t) => {
      id = newID(type, p.doc.components)
      const page = this.checkTarget(t, to)
      const vals: Record<string, unknown> = {}
      for (const s of typ.props) {
        if (s.name in props) vals[s.name] = checkProp(s, props[s.name])
        else if (s.required && s.default !== undefined) vals[s.name] = structuredClone(s.default)
      }
      const layout = { ...(typ.defaultLayout ?? {}) }
      const pl = place(t.children(page, to.parent), "", to.slot)
      p.set(["components", id], {
        type, page, pos: { parent: to.parent || null, index: pl.key },
        props: vals, layout, style: {}, bindings: {}, handlers: {}, meta: { createdBy: this.actor },
      })
      rebalance(p, t, pl.rebalance)
    })
    return id
  }

  /** move reparents and/or reorders a component; false if nothing changed. */
  move(id: string, to: Target): boolean {
    const writes = this.run(`move ${id}`, (p, t) => {
      const n = t.node(id)
      if (!n) throw new OpError(`unknown component ${id}`)
      if (to.parent && t.isAncestorOrSelf(id, to.parent)) throw new OpError("cannot move a component into itself")
      const page = this.checkTarget(t, to)
      const sibs = t.children(page, to.parent).filter(s => s.id !== id)
      if (n.parent === to.parent && n.page === page) {
        const at = t.children(page, to.parent).findIndex(s => s.id === id)
        if (at === to.slot) return // dropped where it already is
      }
      const pl = place(sibs, id, to.slot)
      p.set(["components", id, "pos"], { parent: to.parent || null, index: pl.key })
      for (const d of Tree.descendants(n)) {
        if (d.comp.page !== page) p.set(["components", d.id, "page"], page)
      }
      rebalance(p, t, pl.rebalance)
    })
    return writes.length > 0
  }

  private checkTarget(t: Tree, to: Target): string {
    if (to.parent) {
      const par = t.node(to.parent)
      if (!par) throw new OpError(`unknown parent ${to.parent}`)
      if (!this.reg.canContain(par.type)) throw new OpError(`a ${par.type} cannot have children`)
      return par.page
    }
    if (!t.page(to.page)) throw new OpError(`unknown page ${to.page}`)
    return to.page
  }

  /** update sets keys of a component's props, layout or style (null unsets). */
  update(id: string, group: Group, vals: Record<string, unknown>): void {
    this.run(
      `edit ${id}`,
      (p, t) => {
        const n = t.node(id)
        if (!n) throw new OpError(`unknown component ${id}`)
        const schemas = this.reg.groupSchemas(n.type, group)
        for (const [k, v] of Object.entries(vals)) {
          const s = schemas.find(x => x.name === k)
          if (!s) throw new OpError(`${n.type} has no ${group} ${k}`)
          if (v === null || v === undefined) {
            if (s.required) throw new OpError(`${k} is required`)
            p.del(["components", id, group, k])
          } else p.set(["components", id, group, k], checkProp(s, v))
        }
      },
      `${id}/${group}/${Object.keys(vals).join(",")}`
    )
  }

  bindEvent(id: string, event: string, handler: string | null): void {
    this.run(`handler ${id}.${event}`, (p, t) => {
      const n = t.node(id)
      if (!n) throw new OpError(`unknown component ${id}`)
      if (handler) {
        if (!p.doc.handlers?.[handler]) throw new OpError(`unknown handler ${handler}`)
        p.set(["components", id, "handlers", event], handler)
      } else p.del(["components", id, "handlers", event])
    })
  }

  remove(id: string): void {
    this.run(`delete ${id}`, (p, t) => {
      const n = t.node(id)
      if (!n) return
      for (const d of Tree.descendants(n)) p.del(["components", d.id])
    })
  }

  addPage(name: string): string {
    let id = ""
    this.run(`add page ${name}`, (p, t) => {
      id = newID("page", p.doc.pages)
      const pl = place(t.pages.map(x => ({ id: x.id, index: x.index })), "", t.pages.length)
      p.set(["pages", id], { name, route: freeRoute(t, name), index: pl.key })
      for (const [pid, key] of pl.rebalance) p.set(["pages", pid, "index"], key)
    })
    return id
  }

  renamePage(id: string, name: string): void {
    name = name.trim()
    if (!name || name.length > 100) throw new OpError("a page name is 1-100 characters")
    this.run(`rename page ${id}`, p => p.set(["pages", id, "name"], name), `page/${id}/name`)
  }

  deletePage(id: string): void {
    this.run(`delete page ${id}`, (p, t) => {
      const pg = t.page(id)
      if (!pg) return
      if (t.pages.length === 1) throw new OpError("an app keeps at least one page")
      for (const root of pg.children) for (const d of Tree.descendants(root)) p.del(["components", d.id])
      p.del(["pages", id])
    })
  }

  setAppName(name: string): void {
    this.run("rename app", p => p.set(["meta", "name"], name.slice(0, 200)), "meta/name")
  }
}

interface Placement {
  key: string
  rebalance: Map<string, string>
}

/** place picks the index for a new or moved item at slot, like canvas's place. */
export function place(sibs: { id: string; index: string }[], self: string, slot: number): Placement {
  sibs = sibs.filter(s => s.id !== self)
  const at = Math.max(0, Math.min(slot, sibs.length))
  const lo = at > 0 ? sibs[at - 1].index : ""
  const hi = at < sibs.length ? sibs[at].index : ""
  try {
    const key = between(lo, hi)
    if (key.length <= MAX_INDEX_LEN) return { key, rebalance: new Map() }
  } catch {
    // equal or malformed neighbours: rebalance below
  }
  const keys = spread(sibs.length + 1)
  const rb = new Map<string, string>()
  sibs.forEach((s, i) => {
    const k = keys[i >= at ? i + 1 : i]
    if (k !== s.index) rb.set(s.id, k)
  })
  return { key: keys[at], rebalance: rb }
}

function rebalance(p: Plan, t: Tree, keys: Map<string, string>): void {
  for (const [id, key] of keys) {
    const n = t.node(id) as TreeNode
    p.set(["components", id, "pos"], { parent: n.parent || null, index: key })
  }
}

function freeRoute(t: Tree, name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60)
  const used = new Set(t.pages.map(p => p.route))
  let route = "/" + slug
  for (let i = 2; used.has(route); i++) route = slug ? `/${slug}-${i}` : `/page-${i}`
  return route
}
