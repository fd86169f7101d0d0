// The AI prompt box: starts a generation run on the open app —
// Generate (POST /v1/generate/manifest), Components (…/components, scoped
// to the selected component), Optimize (…/optimize) — follows it live by
// polling the run, and offers cancel while it runs and accept/reject for
// a suggestion. Explain (…/explain) shows the app, or the selected
// component, in words.
import { h } from "./render.js"

interface DiffEntry {
  id: string
  type: string
  page: string
  fields?: string[]
}

interface SkippedOp {
  line: number
  op?: string
  target?: string
  code: string
  reason: string
}

type RunKind = "manifest" | "components" | "optimize"

export interface Run {
  id: string
  kind?: RunKind
  status: "queued" | "running" | "done" | "cancelled" | "failed"
  mode: "live" | "suggest"
  opsApplied: number
  opsSkipped: number
  skipped: SkippedOp[] | null
  error?: { code: string; message: string }
  suggestion?: { state: "pending" | "accepted" | "rejected"; diff: { added: DiffEntry[] | null; removed: DiffEntry[] | null; changed: DiffEntry[] | null } }
}

const FINISHED = new Set(["done", "cancelled", "failed"])
const POLL_MS = 300

export interface Explanation {
  text: string
  model: string
}

/** api calls a generation endpoint; a failure throws the server's message. */
async function api<T = Run>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const data = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(data?.error?.message ?? `error ${res.status}`)
  return data as T
}

export class AIPanel {
  readonly el: HTMLElement
  private prompt: HTMLInputElement
  private mode: HTMLSelectElement
  private go: HTMLButtonElement
  private comps: HTMLButtonElement
  private optimize: HTMLButtonElement
  private explain: HTMLButtonElement
  private out: HTMLElement
  private run: Run | null = null
  private timer: ReturnType<typeof setTimeout> | undefined
  private error = ""
  private explanation: { of: string; text: string } | null = null

  /** selection returns the component selected in the builder, if any. */
  constructor(private appId: string, private selection: () => string | null = () => null) {
    const box = h("section", "b-ai")
    box.id = "ai-box"
    box.append(h("h3", "", "AI"))
    const form = h("form", "b-ai-form") as HTMLFormElement
    this.prompt = h("input", "b-input") as HTMLInputElement
    this.prompt.id = "ai-prompt"
    this.prompt.placeholder = "Describe what to build…"
    this.mode = h("select", "b-input b-ai-mode") as HTMLSelectElement
    this.mode.id = "ai-mode"
    this.mode.title = "Live: changes appear for everyone at once. Suggest: review before they apply."
    this.mode.append(new Option("Live", "live"), new Option("Suggest", "suggest"))
    this.go = h("button", "b-btn b-primary", "Generate") as HTMLButtonElement
    this.go.id = "ai-generate"
    this.go.title = "Build or change the app as the prompt asks"
    const button = (id: string, label: string, title: string, onclick: () => void) => {
      const b = h("button", "b-btn", label) as HTMLButtonElement
      b.id = id
      b.type = "button"
      b.title = title
      b.onclick = onclick
      return b
    }
    this.comps = button("ai-components", "Components", "Add or regenerate components in the selected component, as the prompt asks",
      () => void this.start("components"))
    this.optimize = button("ai-optimize", "Optimize", "Even out the app's layout and consistency (the prompt, if any, says what to focus on)",
      () => void this.start("optimize"))
    this.explain = button("ai-explain", "Explain", "Describe the selected component, or the whole app, in words", () => void this.describe())
    const row = h("div", "b-ai-row")
    row.append(this.mode, this.go)
    const more = h("div", "b-ai-row")
    more.append(this.comps, this.optimize, this.explain)
    form.append(this.prompt, row, more)
    form.onsubmit = e => {
      e.preventDefault()
      void this.start("manifest")
    }
    this.out = h("div", "b-ai-out")
    this.out.id = "ai-run"
    box.append(form, this.out)
    this.el = box
    this.render()
  }

  private busy(): boolean {
    return !!this.run && !FINISHED.has(this.run.status)
  }

  private async start(kind: RunKind): Promise<void> {
    const prompt = this.prompt.value.trim()
    if (this.busy()) return
    const body: Record<string, unknown> = { prompt, appId: this.appId, mode: this.mode.value }
    if (kind === "components") {
      const sel = this.selection()
      if (!sel) return this.fail("Select a component first: Components works inside the selection.")
      body.selection = [sel]
    }
    if (!prompt && kind !== "optimize") return this.fail("Describe what you want first.")
    this.error = ""
    this.go.disabled = this.comps.disabled = this.optimize.disabled = true
    try {
      this.show(await api("POST", `/v1/generate/${kind}`, body))
    } catch (err) {
      this.run = null
      this.fail(err)
    }
  }

  /** describe asks the server to explain the selected component, or the app. */
  private async describe(): Promise<void> {
    const sel = this.selection()
    this.error = ""
    this.explain.disabled = true
    try {
      const ex = await api<Explanation>("POST", "/v1/generate/explain", sel ? { appId: this.appId, componentId: sel } : { appId: this.appId })
      this.explanation = { of: sel ?? "", text: ex.text }
      this.render()
    } catch (err) {
      this.fail(err)
    } finally {
      this.explain.disabled = false
    }
  }

  private fail(err: unknown): void {
    this.error = err instanceof Error ? err.message : String(err)
    this.render()
  }

  private show(run: Run): void {
    this.run = run
    clearTimeout(this.timer)
    if (!FINISHED.has(run.status)) this.timer = setTimeout(() => void this.poll(run.id), POLL_MS)
    this.render()
  }

  private async poll(id: string): Promise<void> {
    if (this.run?.id !== id) return
    try {
      this.show(await api("GET", `/v1/generate/runs/${encodeURIComponent(id)}`))
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err)
      this.timer = setTimeout(() => void this.poll(id), POLL_MS * 3)
      this.render()
    }
  }

  private async action(what: "cancel" | "accept" | "reject"): Promise<void> {
    const run = this.run
    if (!run) return
    this.error = ""
    try {
      this.show(await api("POST", `/v1/generate/runs/${encodeURIComponent(run.id)}/${what}`))
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err)
      this.render()
    }
  }

  private render(): void {
    const out = this.out
    out.replaceChildren()
    this.go.disabled = this.comps.disabled = this.optimize.disabled = this.busy()
    const run = this.run
    if (run) {
      const head = h("div", "b-ai-head")
      if (run.kind && run.kind !== "manifest") {
        const kind = h("span", "b-muted", run.kind)
        kind.id = "ai-kind"
        head.append(kind)
      }
      const st = h("span", `b-ai-status b-ai-${run.status}`, run.status)
      st.id = "ai-status"
      st.dataset.status = run.status
      head.append(st)
      const applied = h("span", "", String(run.opsApplied))
      applied.id = "ai-applied"
      const skipped = h("span", "", String(run.opsSkipped))
      skipped.id = "ai-skipped"
      const counts = h("span", "b-muted")
      counts.append(applied, " applied · ", skipped, " skipped")
      head.append(counts)
      if (this.busy()) {
        const cancel = h("button", "b-btn", "Cancel") as HTMLButtonElement
        cancel.id = "ai-cancel"
        cancel.type = "button"
        cancel.onclick = () => void this.action("cancel")
        head.append(cancel)
      }
      out.append(head)
      if (run.error) out.append(h("p", "b-ai-error", run.error.message))
      if (run.skipped?.length) {
        const ul = h("ul", "b-ai-skips")
        ul.id = "ai-skips"
        for (const s of run.skipped.slice(0, 20)) {
          ul.append(h("li", "", `${s.op ?? "line " + s.line}${s.target ? ` ${s.target}` : ""}: ${s.reason}`))
        }
        out.append(ul)
      }
      const sug = run.suggestion
      if (sug && run.status === "done") {
        const diff = h("div", "b-ai-diff")
        diff.id = "ai-diff"
        diff.dataset.state = sug.state
        const entries: [string, DiffEntry[] | null][] = [["+", sug.diff.added], ["−", sug.diff.removed], ["~", sug.diff.changed]]
        let n = 0
        for (const [sign, list] of entries) {
          for (const d of list ?? []) {
            n++
            const li = h("div", `b-ai-d b-ai-d${sign === "+" ? "add" : sign === "~" ? "chg" : "del"}`)
            li.append(h("b", "", sign), ` ${d.type} `, h("span", "b-muted", d.id + (d.fields?.length ? ` (${d.fields.join(", ")})` : "")))
            diff.append(li)
          }
        }
        if (!n) diff.append(h("div", "b-muted", "No changes."))
        out.append(diff)
        if (sug.state === "pending") {
          const acts = h("div", "b-ai-row")
          const reject = h("button", "b-btn", "Reject") as HTMLButtonElement
          reject.id = "ai-reject"
          reject.type = "button"
          reject.onclick = () => void this.action("reject")
          const accept = h("button", "b-btn b-primary", "Accept") as HTMLButtonElement
          accept.id = "ai-accept"
          accept.type = "button"
          accept.onclick = () => void this.action("accept")
          acts.append(reject, accept)
          out.append(acts)
        } else out.append(h("p", "b-muted", `Suggestion ${sug.state}.`))
      }
    }
    if (this.explanation) {
      const ex = h("div", "b-ai-explain")
      ex.id = "ai-explanation"
      ex.dataset.of = this.explanation.of
      ex.append(h("b", "", this.explanation.of ? `About ${this.explanation.of}` : "About this app"), h("p", "", this.explanation.text))
      out.append(ex)
    }
    if (this.error) {
      const e = h("p", "b-ai-error", this.error)
      e.id = "ai-error"
      out.append(e)
    }
  }
}
