// Bundles the builder and embed pages into web/ui/dist (embedded in the Go
// binary): builder.js/.css, embed.js/.css and automerge.wasm, which the
// pages fetch and instantiate (@automerge/automerge/slim + initializeWasm).
//
//   node js/builder/build.mjs [--dev]     (scripts/build-web.sh runs it)
import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { createRequire } from "node:module"
import * as esbuild from "esbuild"

const here = path.dirname(fileURLToPath(import.meta.url))
const out = path.resolve(here, "../../web/ui/dist")
const dev = process.argv.includes("--dev")
const require = createRequire(import.meta.url)

fs.mkdirSync(out, { recursive: true })
await esbuild.build({
  entryPoints: { builder: path.join(here, "src/builder.ts"), embed: path.join(here, "src/embed.ts") },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022"],
  outdir: out,
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": dev ? '"development"' : '"production"' },
})
const wasm = require.resolve("@automerge/automerge/automerge.wasm")
fs.copyFileSync(wasm, path.join(out, "automerge.wasm"))
const sizes = fs.readdirSync(out).filter(f => !f.startsWith(".") && !f.endsWith(".txt"))
  .map(f => `${f} ${(fs.statSync(path.join(out, f)).size / 1024).toFixed(0)}K`)
console.log(`build-web: ${sizes.join(", ")}`)
