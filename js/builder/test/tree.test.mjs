// Tree materialization (src/tree.ts) repairs like canvas/tree.go: orphans,
// children of non-containers and cycles show at their page's root; order
// is (index, id).
import { test } from "node:test"
import assert from "node:assert/strict"
import { importTS } from "./ts.mjs"

const { Tree } = await importTS("tree.ts")
const containers = new Set(["card", "stack"])
const canContain = t => containers.has(t) || !["text", "button"].includes(t)

const comp = (type, page, parent, index) => ({ type, page, pos: { parent, index }, props: {} })
const ids = ns => ns.map(n => n.id)

test("children sort by index then id, pages by index", () => {
  const t = Tree.build({
    pages: { b: { name: "B", route: "/b", index: "W" }, a: { name: "A", route: "/", index: "V" } },
    components: {
      z: comp("text", "a", null, "V"), y: comp("text", "a", null, "V"), x: comp("text", "a", null, "U"),
      c: comp("card", "b", null, "V"), d: comp("text", "b", "c", "V"),
    },
  }, canContain)
  assert.deepEqual(ids(t.pages), ["a", "b"])
  assert.deepEqual(ids(t.page("a").children), ["x", "y", "z"])
  assert.deepEqual(ids(t.node("c").children), ["d"])
})

test("orphans, non-container parents and cycles land at the page root", () => {
  const t = Tree.build({
    pages: { p: { name: "P", route: "/", index: "V" } },
    components: {
      orphan: comp("text", "p", "gone", "V"),
      leaf: comp("text", "p", null, "W"),
      under: comp("text", "p", "leaf", "X"),
      a: comp("card", "p", "b", "V"), b: comp("card", "p", "a", "V"),
      c: comp("card", "nope", null, "bad0"),
    },
  }, canContain)
  const root = ids(t.page("p").children)
  for (const id of ["orphan", "leaf", "under", "a", "c"]) assert.ok(root.includes(id), `${id} at root: ${root}`)
  assert.equal(t.node("b").parent, "a", "the cycle is broken at its smallest id")
  assert.equal(t.node("c").page, "p", "an unknown page falls back to the first")
  assert.equal(t.node("c").index, "bad0", "only detached components get a fresh index")
  assert.equal(t.size, 6)
})

test("a document with components and no pages gets a recovered page", () => {
  const t = Tree.build({ pages: {}, components: { a: comp("text", "x", null, "V") } }, canContain)
  assert.deepEqual(ids(t.pages), ["recovered"])
  assert.deepEqual(ids(t.pages[0].children), ["a"])
})
