// Cold load in JS Automerge 3.5 of the very document casual's
// BenchmarkLoad1MB loads (1 MB, 100k changes), written there when
// CASUAL_BENCH_DOC_OUT is set:
//
//   CASUAL_BENCH_DOC_OUT=/tmp/doc.automerge go test -run '^$' -bench Load1MB -benchtime 1x ./store/embedded/
//   node js/bench/coldload.mjs /tmp/doc.automerge
import * as A from "@automerge/automerge"
import { readFileSync } from "node:fs"
const bytes = new Uint8Array(readFileSync(process.argv[2]))
const runs = []
for (let r = 0; r < 5; r++) {
  const t0 = performance.now()
  const doc = A.load(bytes)
  runs.push(performance.now() - t0)
  if (Object.keys(doc.keys).length !== 100000) throw new Error("unexpected document")
}
runs.sort((a, b) => a - b)
console.log(`node A.load: ${(bytes.length / 1e6).toFixed(2)} MB: median ${runs[2].toFixed(0)} ms (min ${runs[0].toFixed(0)}, max ${runs[4].toFixed(0)}) over 5 loads`)
