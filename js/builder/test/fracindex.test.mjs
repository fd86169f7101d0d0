// The TypeScript fractional indexes (src/fracindex.ts) against the vectors
// canvas/fracindex.go produces (written by web/ui's TestFracIndexVectors).
import { test } from "node:test"
import assert from "node:assert/strict"
import fs from "node:fs"
import { importTS } from "./ts.mjs"

const fi = await importTS("fracindex.ts")
const vectors = JSON.parse(fs.readFileSync(new URL("./fracindex-vectors.json", import.meta.url), "utf8"))

test("between matches Go for the same random words", () => {
  for (const v of vectors.between) {
    assert.equal(fi.between(v.a, v.b, fi.splitmix64(BigInt(v.seed))), v.key, `between(${v.a}, ${v.b}) seed ${v.seed}`)
  }
})

test("append, prepend and bisect sequences match Go", () => {
  for (const s of vectors.sequences) {
    const rnd = fi.splitmix64(BigInt(s.seed))
    let lo = "", hi = ""
    const keys = []
    for (let i = 0; i < s.keys.length; i++) {
      const k = fi.between(lo, hi, rnd)
      keys.push(k)
      if (s.kind === "append") lo = k
      else if (s.kind === "prepend") hi = k
      else if (lo === "") lo = k
      else hi = k
    }
    assert.deepEqual(keys, s.keys, s.kind)
  }
})

test("spread matches Go", () => {
  for (const s of vectors.spread) assert.deepEqual(fi.spread(s.n), s.keys, `spread(${s.n})`)
})

test("validIndex and refused inputs match Go", () => {
  for (const [k, ok] of Object.entries(vectors.valid)) assert.equal(fi.validIndex(k), ok, JSON.stringify(k))
  for (const [a, b] of vectors.invalid) assert.throws(() => fi.between(a, b), fi.InvalidIndexError, `${a} ${b}`)
})

test("random keys stay strictly between and sort as strings", () => {
  for (let i = 0; i < 500; i++) {
    const a = fi.between("", "")
    const b = fi.between(a, "")
    const m = fi.between(a, b)
    assert.ok(a < m && m < b && fi.validIndex(m), `${a} < ${m} < ${b}`)
  }
})
