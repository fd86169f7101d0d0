// The AI prompt box: starts a generation run on the open app
// (POST /v1/generate/manifest), follows it live by polling the run, and
// offers cancel while it runs and accept/reject for a suggestion.
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

export interface Run {
  id: string
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

/** api calls a generation endpoint; a failure throws the server's message. */
async function api(method: string, url: string, body?: unknown): Promise<Run> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const data = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(data?.error?.message ?? `error ${res.status}`)
  return data as Run
}

export class AIPanel {
  readonly el: HTMLElement
  private prompt: HTMLInputElement
  private mode: HTMLSelectElement
  private go: HTMLButtonElement
  private out: HTMLElement
  private run: Run | null = null
  private timer: ReturnType<typeof setTimeout> | undefined
  private error = ""

  constructor(private appId: string) {
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
    const row = h("div", "b-ai-row")
    row.append(this.mode, this.go)
    form.append(this.prompt, row)
    form.onsubmit = e => {
      e.preventDefault()
      void this.start()
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

  private async start(): Promise<void> {
    const prompt = this.prompt.value.trim()
    if (!prompt || this.busy()) return
    this.error = ""
    this.go.disabled = true
    try {
      this.show(await api("POST", "/v1/generate/manifest", { prompt, appId: this.appId, mode: this.mode.value }))
    } catch (err) {
      this.run = null
      this.error = err instanceof Error ? err.message : String(err)
      this.render()
    }
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
    this.go.disabled = this.busy()
    const run = this.run
    if (run) {
      const head = h("div", "b-ai-head")
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
    if (this.error) {
      const e = h("p", "b-ai-error", this.error)
      e.id = "ai-error"
      out.append(e)
    }
  }
}
