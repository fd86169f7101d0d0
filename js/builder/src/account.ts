// Signing in when the server runs with accounts on (--auth on): the
// session (access and refresh tokens, kept in localStorage and refreshed
// before the access token expires), calls to the REST API under /v1 with
// the bearer token, and the sign-in / sign-up form with its two-factor
// step. With auth off none of this is used: the builder works as before.

export interface User {
  id: string
  email: string
  name: string
  two_factor_enabled?: boolean
}

export interface Tokens {
  access_token: string
  refresh_token: string
  expires_at: string // RFC 3339
  refresh_expires_at: string
  session_id: string
}

interface Saved {
  user: User
  tokens: Tokens
}

/** ApiError is a refused API call: its HTTP status and error code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

/** KeyValue is the part of localStorage a Session needs. */
export interface KeyValue {
  getItem(k: string): string | null
  setItem(k: string, v: string): void
  removeItem(k: string): void
}

export interface SessionDeps {
  store: KeyValue
  fetch: typeof fetch
  now?: () => number
  /** lock serializes refreshes across tabs (navigator.locks when there). */
  lock?: <T>(name: string, f: () => Promise<T>) => Promise<T>
}

const KEY = "casual.session"
/** REFRESH_AHEAD_MS: access tokens are renewed this long before expiry. */
export const REFRESH_AHEAD_MS = 60_000

/**
 * Session is who is signed in on this browser. Tokens rotate: every
 * refresh gives a new refresh token and the old one may not be used again
 * (the server revokes the whole session on reuse), so refreshes are
 * serialized, and tabs adopt what another tab stored.
 */
export class Session {
  private saved: Saved | null = null
  private refreshing: Promise<void> | undefined
  private listeners: (() => void)[] = []
  private timer: ReturnType<typeof setTimeout> | undefined
  private now: () => number

  constructor(private deps: SessionDeps) {
    this.now = deps.now ?? Date.now
    this.saved = this.load()
  }

  get user(): User | null {
    return this.saved?.user ?? null
  }

  get signedIn(): boolean {
    return this.saved !== null
  }

  /** token is the current access token ("" when signed out). */
  get token(): string {
    return this.saved?.tokens.access_token ?? ""
  }

  /** expiresAt is when the access token expires (ms since the epoch; 0 signed out). */
  get expiresAt(): number {
    return this.saved ? Date.parse(this.saved.tokens.expires_at) : 0
  }

  /** onChange is called after sign-in, refresh and sign-out. */
  onChange(f: () => void): void {
    this.listeners.push(f)
  }

  private load(): Saved | null {
    try {
      const s = JSON.parse(this.deps.store.getItem(KEY) || "null") as Saved | null
      if (!s?.tokens?.refresh_token || !s.user) return null
      if (Date.parse(s.tokens.refresh_expires_at) <= this.now()) return null
      return s
    } catch {
      return null
    }
  }

  private set(s: Saved | null): void {
    this.saved = s
    if (s) this.deps.store.setItem(KEY, JSON.stringify(s))
    else this.deps.store.removeItem(KEY)
    this.schedule()
    for (const f of this.listeners) f()
  }

  /** adopt takes the session another tab stored (a storage event). */
  adopt(): void {
    const s = this.load()
    if (s?.tokens.access_token === this.saved?.tokens.access_token) return
    this.saved = s
    this.schedule()
    for (const f of this.listeners) f()
  }

  async register(email: string, password: string, name: string): Promise<User> {
    const r = await this.call<Saved["tokens"] & { user: User }>("POST", "/v1/auth/register", { email, password, name }, false)
    this.set({ user: r.user, tokens: r })
    return r.user
  }

  /** login fails with an ApiError of code mfa_required when a two-factor code is needed. */
  async login(email: string, password: string, code = ""): Promise<User> {
    const body: Record<string, string> = { email, password }
    if (code) body.code = code
    const r = await this.call<Saved["tokens"] & { user: User }>("POST", "/v1/auth/login", body, false)
    this.set({ user: r.user, tokens: r })
    return r.user
  }

  async logout(): Promise<void> {
    try {
      if (this.saved) await this.api("POST", "/v1/auth/logout")
    } finally {
      this.set(null)
    }
  }

  /** fresh returns an access token valid for at least REFRESH_AHEAD_MS. */
  async fresh(): Promise<string> {
    if (!this.saved) return ""
    if (Date.parse(this.saved.tokens.expires_at) - this.now() > REFRESH_AHEAD_MS) return this.saved.tokens.access_token
    await this.refresh()
    return this.token
  }

  /** refresh exchanges the refresh token for new tokens, once at a time. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined))
    return this.refreshing
  }

  private async doRefresh(): Promise<void> {
    const lock = this.deps.lock ?? ((_n, f) => f())
    await lock("casual.refresh", async () => {
      // Another tab may have refreshed already: its tokens are in storage.
      const stored = this.load()
      if (stored && stored.tokens.refresh_token !== this.saved?.tokens.refresh_token &&
        Date.parse(stored.tokens.expires_at) - this.now() > REFRESH_AHEAD_MS) {
        this.saved = stored
        this.schedule()
        for (const f of this.listeners) f()
        return
      }
      const cur = stored ?? this.saved
      if (!cur) return
      try {
        const t = await this.call<Tokens>("POST", "/v1/auth/refresh", { refresh_token: cur.tokens.refresh_token }, false)
        this.set({ user: cur.user, tokens: t })
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) this.set(null) // expired, reused or signed out elsewhere
        throw err
      }
    })
  }

  private schedule(): void {
    clearTimeout(this.timer)
    if (!this.saved) return
    const wait = Date.parse(this.saved.tokens.expires_at) - this.now() - REFRESH_AHEAD_MS
    this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(wait, 1000))
  }

  /** stop cancels the refresh timer. */
  stop(): void {
    clearTimeout(this.timer)
  }

  /**
   * api calls the REST API with the access token (refreshed first when it
   * is about to expire, and once more if the server says it expired).
   */
  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.call<T>(method, path, body, true)
    } catch (err) {
      if (err instanceof ApiError && err.code === "token_expired" && this.saved) {
        await this.refresh()
        return this.call<T>(method, path, body, true)
      }
      throw err
    }
  }

  private async call<T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers["Content-Type"] = "application/json"
    if (auth) {
      const t = await this.fresh()
      if (t) headers.Authorization = `Bearer ${t}`
    }
    const res = await this.deps.fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    if (res.status === 204) return undefined as T
    const data = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } }
    if (!res.ok) {
      throw new ApiError(res.status, data.error?.code ?? "http_" + res.status, data.error?.message ?? `${method} ${path}: ${res.status}`)
    }
    return data as T
  }
}

/** browserSession is the page's Session over localStorage and fetch. */
export function browserSession(): Session {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks
  const s = new Session({
    store: localStorage,
    fetch: (input, init) => fetch(input, init),
    lock: locks ? <T>(name: string, f: () => Promise<T>) => locks.request(name, f) as Promise<T> : undefined,
  })
  addEventListener("storage", e => e.key === KEY && s.adopt())
  // The same token as a first-party cookie, so same-origin requests that
  // do not set a header (the AI and executor endpoints, which read
  // casual_token) act as the signed-in user. SameSite=Strict: no other
  // site's page sends it; the REST API itself only reads the header.
  const cookie = () => {
    const secure = location.protocol === "https:" ? "; Secure" : ""
    const age = Math.floor((s.expiresAt - Date.now()) / 1000)
    document.cookie = s.token && age > 0
      ? `casual_token=${s.token}; Path=/; Max-Age=${age}; SameSite=Strict${secure}`
      : `casual_token=; Path=/; Max-Age=0; SameSite=Strict${secure}`
  }
  s.onChange(cookie)
  cookie()
  return s
}
