// Loads a TypeScript module of js/builder/src in node tests: esbuild
// bundles it to a temporary .mjs, which is then imported.
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as esbuild from "esbuild"

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src")

export async function importTS(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "casual-ts-"))
  const out = path.join(dir, name.replace(/\.ts$/, "") + ".mjs")
  await esbuild.build({
    entryPoints: [path.join(src, name)],
    bundle: true,
    format: "esm",
    platform: "node",
    outfile: out,
    logLevel: "error",
  })
  try {
    return await import(pathToFileURL(out).href)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
