// The app document (schema 1, DESIGN.md "The app document"), as the
// builder and the embed read and write it. The Go side is package canvas;
// this file mirrors its shapes, and doc.ts its write conventions.

export const SCHEMA_VERSION = 1

export interface Pos {
  parent: string | null // null: the page root
  index: string // fractional index among the siblings
}

export interface ComponentDoc {
  type: string
  page: string
  pos: Pos
  props: Record<string, unknown>
  layout: Record<string, unknown>
  style: Record<string, unknown>
  bindings: Record<string, string>
  handlers: Record<string, string>
  meta: { createdBy?: string; aiRun?: string }
}

export interface PageDoc {
  name: string
  route: string
  index: string
}

export interface HandlerDoc {
  name: string
  lang: string
  source?: string
  module?: string
}

export interface RunDoc {
  handler: string
  input: unknown
  status: string
  output?: unknown
  error?: string
  by?: string
  at?: number
}

export interface AppDoc {
  schema: number
  meta: { name?: string; description?: string; createdAt?: string }
  pages: Record<string, PageDoc>
  components: Record<string, ComponentDoc>
  handlers: Record<string, HandlerDoc>
  state: Record<string, unknown>
  runs: Record<string, RunDoc>
  theme: { tokens: Record<string, string | number> }
}

// The registry, as GET /app/registry serves canvas.Registry().

export type PropType = "string" | "number" | "bool" | "enum" | "color" | "url" | "json" | "array"

export interface PropSchema {
  name: string
  type: PropType
  default?: unknown
  values?: string[]
  required?: boolean
  min?: number
  max?: number
  description?: string
}

export interface ComponentType {
  type: string
  category: string
  description: string
  container: boolean
  props: PropSchema[]
  events: string[] | null
  defaultLayout: Record<string, unknown> | null
}

export interface Registry {
  schema: number
  components: ComponentType[]
  layout: PropSchema[]
  style: PropSchema[]
}

export class RegistryView {
  readonly types: ComponentType[]
  readonly layout: PropSchema[]
  readonly style: PropSchema[]
  private byName = new Map<string, ComponentType>()

  constructor(r: Registry) {
    this.types = r.components
    this.layout = r.layout
    this.style = r.style
    for (const t of r.components) this.byName.set(t.type, t)
  }

  lookup(type: string): ComponentType | undefined {
    return this.byName.get(type)
  }

  /** canContain mirrors canvas: unknown types (from a newer client) are trusted. */
  canContain(type: string): boolean {
    const t = this.byName.get(type)
    return !t || t.container
  }

  groupSchemas(type: string, group: Group): PropSchema[] {
    if (group === "layout") return this.layout
    if (group === "style") return this.style
    return this.byName.get(type)?.props ?? []
  }
}

export type Group = "props" | "layout" | "style"

const hexColor = /^#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/
const funcColor = /^(rgb|rgba|hsl|hsla)\([0-9.,%\s/a-z]+\)$/
const nameColor = /^[a-zA-Z]{3,24}$/
const tokenRef = /^(\$[a-zA-Z][a-zA-Z0-9_.-]{0,63}|var\(--[a-zA-Z0-9_-]{1,64}\))$/

/**
 * checkProp validates a value against its schema like canvas's
 * PropSchema.Check, and returns it normalized or throws with the reason.
 */
export function checkProp(s: PropSchema, v: unknown): unknown {
  switch (s.type) {
    case "string":
      if (typeof v !== "string") throw new Error("want text")
      if (v.length > 1 << 16) throw new Error("text is too long")
      return v
    case "number": {
      const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v
      if (typeof n !== "number" || !Number.isFinite(n)) throw new Error("want a number")
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) {
        throw new Error(`want a number in [${s.min ?? "-∞"}, ${s.max ?? "∞"}]`)
      }
      return n
    }
    case "bool":
      if (typeof v !== "boolean") throw new Error("want true or false")
      return v
    case "enum":
      if (typeof v !== "string" || !(s.values ?? []).includes(v)) throw new Error(`want one of ${(s.values ?? []).join(", ")}`)
      return v
    case "color":
      if (typeof v !== "string" || !(hexColor.test(v) || funcColor.test(v) || nameColor.test(v) || tokenRef.test(v))) {
        throw new Error("want a color: #hex, rgb(), hsl(), a name or $token")
      }
      return v
    case "url":
      if (typeof v !== "string") throw new Error("want a URL")
      if (v === "" || v.startsWith("data:image/") || /^(\/(?!\/)|#|\.\/|\?)/.test(v)) return v
      try {
        const u = new URL(v)
        if (["http:", "https:", "mailto:", "tel:"].includes(u.protocol)) return v
      } catch {
        // fall through
      }
      throw new Error("want an http(s), mailto, tel, data:image or relative URL")
    case "array":
      if (!Array.isArray(v)) throw new Error("want a JSON array")
      return v
    case "json":
      return v
  }
  throw new Error(`unknown type ${s.type}`)
}
