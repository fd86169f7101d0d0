// Fractional index keys, a port of canvas/fracindex.go: base-62 fractions
// 0.d1d2d3… written as "d1d2d3…" over DIGITS (in ASCII order, so string
// comparison orders keys numerically). A valid key is non-empty and never
// ends in '0'. Both implementations are checked against the same vectors
// (js/builder/test/fracindex-vectors.json, written by a Go test).

export const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const BASE = 62n
const JITTER_DIGITS = 2n

/** Keys longer than this make the sibling list rebalance. */
export const MAX_INDEX_LEN = 32

/** A source of random 64-bit words, like Go's rand.Source. */
export type Uint64Source = () => bigint

export const cryptoUint64: Uint64Source = () => {
  const a = new BigUint64Array(1)
  crypto.getRandomValues(a)
  return a[0]
}

export function validIndex(key: unknown): key is string {
  if (typeof key !== "string" || key === "" || key.endsWith("0")) return false
  for (const ch of key) if (!DIGITS.includes(ch)) return false
  return true
}

export class InvalidIndexError extends Error {}

/**
 * between returns a random key strictly between a and b ("" as a is the
 * start of the list, "" as b its end). Same algorithm as Go's Between.
 */
export function between(a: string, b: string, rnd: Uint64Source = cryptoUint64): string {
  if ((a !== "" && !validIndex(a)) || (b !== "" && !validIndex(b))) {
    throw new InvalidIndexError(`between ${JSON.stringify(a)} and ${JSON.stringify(b)}`)
  }
  if (a !== "" && b !== "" && a >= b) {
    throw new InvalidIndexError(`${JSON.stringify(a)} is not before ${JSON.stringify(b)}`)
  }
  const jitter = BASE ** JITTER_DIGITS
  const need = jitter * 2n
  for (let p = 1; ; p++) {
    const lo = scaled(a, p, false) + 1n
    const hi = scaled(b, p, true) - 1n
    const n = hi - lo + 1n
    if (n < need) continue
    let x: bigint
    if (a !== "" && b === "") x = lo + randBig(rnd, jitter)
    else if (a === "" && b !== "") x = hi - randBig(rnd, jitter)
    else x = lo + (n >> 2n) + randBig(rnd, n >> 1n)
    return render(x, p)
  }
}

/** spread returns n evenly spaced keys (deterministic), like Go's Spread. */
export function spread(n: number): string[] {
  if (n <= 0) return []
  let p = 1
  let total = BASE
  const minTotal = BigInt((n + 1) * 62)
  while (total < minTotal) {
    total *= BASE
    p++
  }
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(render((total * BigInt(i + 1)) / BigInt(n + 1), p))
  return out
}

function scaled(key: string, p: number, up: boolean): bigint {
  if (key === "") return up ? BASE ** BigInt(p) : 0n
  let x = 0n
  for (let i = 0; i < p; i++) {
    const d = i < key.length ? DIGITS.indexOf(key[i]) : 0
    x = x * BASE + BigInt(d)
  }
  if (up && key.length > p) x += 1n
  return x
}

function render(x: bigint, p: number): string {
  const buf: string[] = new Array(p)
  let v = x
  for (let i = p - 1; i >= 0; i--) {
    buf[i] = DIGITS[Number(v % BASE)]
    v /= BASE
  }
  return buf.join("").replace(/0+$/, "")
}

function bitLen(n: bigint): number {
  return n <= 0n ? 0 : n.toString(2).length
}

/** randBig returns a random integer in [0, n), drawing words like Go's randBig. */
function randBig(rnd: Uint64Source, n: bigint): bigint {
  if (n <= 0n) return 0n
  const words = Math.floor(bitLen(n) / 64) + 2
  let x = 0n
  for (let i = 0; i < words; i++) x = (x << 64n) | BigInt.asUintN(64, rnd())
  return x % n
}

/** splitmix64 is the seeded source the shared test vectors use. */
export function splitmix64(seed: bigint): Uint64Source {
  let s = BigInt.asUintN(64, seed)
  return () => {
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n)
    let z = s
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n)
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn)
    return z ^ (z >> 31n)
  }
}
