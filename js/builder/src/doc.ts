// Reading and writing the Automerge document the way package canvas does.
//
// Automerge 3 reads the scalar strings Go writes as ImmutableString objects
// and stores plain JS strings as collaborative Text. The builder reads
// everything through plain() (ImmutableString becomes string) and writes
// through amValue(), which stores strings as scalars like Go does, except
// handler source code, which both sides keep as Text.
import { ImmutableString } from "@automerge/automerge/slim"

export type Path = string[]

/** plain deep-copies a document value into JSON-like data. */
export function plain(v: unknown): any {
  if (v === null || v === undefined) return v ?? null
  if (typeof v !== "object") return v
  if (v instanceof ImmutableString) return v.toString()
  if (v instanceof Date) return v.getTime()
  if (v instanceof Uint8Array) return v
  if (Array.isArray(v)) return v.map(plain)
  // Counters and other wrappers expose value; maps are plain records.
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) out[k] = plain((v as Record<string, unknown>)[k])
  return out
}

/** amValue converts a plain value for writing: strings become scalars. */
export function amValue(v: unknown, path: Path = []): any {
  if (typeof v === "string") return isSourcePath(path) ? v : new ImmutableString(v)
  if (v === null || typeof v !== "object") return v
  if (Array.isArray(v)) return v.map(e => amValue(e))
  const out: Record<string, unknown> = {}
  for (const [k, e] of Object.entries(v)) {
    if (e !== undefined) out[k] = amValue(e, [...path, k])
  }
  return out
}

function isSourcePath(path: Path): boolean {
  return path.length === 3 && path[0] === "handlers" && path[2] === "source"
}

/** get reads the plain value at path of a (plain) document, or undefined. */
export function get(doc: unknown, path: Path): any {
  let cur: any = doc
  for (const k of path) {
    if (cur === null || typeof cur !== "object" || !(k in cur)) return undefined
    cur = cur[k]
  }
  return cur
}

/**
 * put stores v at path inside a change callback, creating missing maps
 * (like crdt.Doc.Set), or deletes the key when !has.
 */
export function put(draft: any, path: Path, v: unknown, has: boolean): void {
  let cur = draft
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]
    if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== "object") {
      if (!has) return // deleting below something that is not there
      cur[k] = {}
    }
    cur = cur[k]
  }
  const last = path[path.length - 1]
  if (!has) {
    if (last in cur) delete cur[last]
    return
  }
  // Handler source is Text: a fresh string replaces it whole, which is
  // what canvas falls back to as well.
  cur[last] = amValue(v, path)
}

/** sameValue compares plain values deeply (numbers by value). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    return a.length === bb.length && a.every((x, i) => sameValue(x, bb[i]))
  }
  const ka = Object.keys(a as object)
  const kb = Object.keys(b as object)
  if (ka.length !== kb.length) return false
  return ka.every(k => k in (b as object) && sameValue((a as any)[k], (b as any)[k]))
}

const ID_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/** newID returns prefix-XXXXXXXX not in taken, like canvas's newID. */
export function newID(prefix: string, taken: Record<string, unknown> | undefined): string {
  for (;;) {
    const b = new Uint8Array(8)
    crypto.getRandomValues(b)
    let id = prefix + "-"
    for (const x of b) id += ID_DIGITS[x % 62]
    if (!taken || !(id in taken)) return id
  }
}
