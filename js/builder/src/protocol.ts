// The embed's side of the postMessage protocol with its host page.
//
// Every message, both ways, is an object
//   { protocol: "casual-embed", version: 1, type, ... }
// Events out: ready, navigated, componentClicked, runRequested, error.
// Commands in: navigate {page | route, id?}.
// Origin checks: events are posted only to the parent's origin, and only
// if the token allows it; commands are accepted only from the parent
// window and from an allowed origin. See web/ui/README.md.

export const PROTOCOL = "casual-embed"
export const VERSION = 1

export class HostChannel {
  private target: string | null
  onCommand: (m: Record<string, unknown>) => void = () => {}

  constructor(private origins: string[]) {
    this.target = this.parentTarget()
    addEventListener("message", e => this.receive(e))
  }

  private allows(origin: string): boolean {
    return this.origins.includes("*") || this.origins.includes(origin)
  }

  /** parentTarget is the origin to post to, or null when none is allowed. */
  private parentTarget(): string | null {
    if (window.parent === window) return null
    let origin = ""
    const anc = (location as Location & { ancestorOrigins?: DOMStringList }).ancestorOrigins
    if (anc && anc.length > 0) origin = anc[0]
    else if (document.referrer) {
      try {
        origin = new URL(document.referrer).origin
      } catch {
        origin = ""
      }
    }
    if (origin && this.allows(origin)) return origin
    // An unknown parent origin only gets events if every origin may.
    return this.origins.includes("*") ? "*" : null
  }

  send(m: Record<string, unknown>): void {
    if (!this.target) return
    window.parent.postMessage({ protocol: PROTOCOL, version: VERSION, ...m }, this.target)
  }

  private receive(e: MessageEvent): void {
    if (e.source !== window.parent || window.parent === window) return
    if (!this.allows(e.origin)) return
    const m = e.data
    if (!m || typeof m !== "object" || m.protocol !== PROTOCOL) return
    if (m.version !== VERSION) {
      this.send({ type: "error", code: "unsupported_version", message: `this embed speaks version ${VERSION}`, replyTo: m.id })
      return
    }
    this.onCommand(m)
  }
}
