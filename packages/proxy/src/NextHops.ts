/**
 * Outbound policy: where this proxy may send. Every destination a forwarded request would go
 * to is checked first; a refused one is never contacted (the branch answers 403). Tests use
 * `loopback`, so nothing can ever leave the machine whatever a request or a binding says.
 */
import { isIP } from "node:net"
import type { Destination } from "@sipfx/transport"

export type NextHopPolicy = (destination: Destination) => boolean

const v4 = (address: string): number | undefined => {
  if (isIP(address) !== 4) return undefined
  return address.split(".").reduce((n, part) => n * 256 + Number(part), 0)
}

const normal = (address: string) =>
  address
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/^::ffff:/, "")

/** 127.0.0.0/8 and ::1 only. */
export const loopback: NextHopPolicy = (d) => {
  const a = normal(d.address)
  return a === "::1" || (v4(a) ?? 0) >>> 24 === 127
}

/**
 * An allow-list of `address`, `address:port` (IPv6 as `[::1]:5070`) or IPv4 `a.b.c.d/len`
 * entries; anything else is refused.
 */
export const allow = (entries: ReadonlyArray<string>): NextHopPolicy => {
  const exact = new Set<string>()
  const nets: Array<readonly [number, number]> = []
  for (const e of entries) {
    const slash = e.indexOf("/")
    if (slash > 0) {
      const base = v4(e.slice(0, slash))
      const len = Number(e.slice(slash + 1))
      if (base === undefined || !(len >= 0 && len <= 32)) continue
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
      nets.push([(base & mask) >>> 0, mask])
      continue
    }
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(e)
    if (bracketed) exact.add(bracketed[2] ? `${normal(bracketed[1]!)}:${bracketed[2]}` : normal(bracketed[1]!))
    else if (isIP(e) === 6) exact.add(normal(e))
    else exact.add(normal(e))
  }
  return (d) => {
    const a = normal(d.address)
    if (exact.has(a) || exact.has(`${a}:${d.port}`)) return true
    const n = v4(a)
    return n !== undefined && nets.some(([base, mask]) => (n & mask) >>> 0 === base)
  }
}

/** Both must allow. */
export const both =
  (a: NextHopPolicy, b: NextHopPolicy): NextHopPolicy =>
  (d) =>
    a(d) && b(d)

/** Every destination (an open relay as far as addresses go: only with a restrictive Router). */
export const any: NextHopPolicy = () => true

/** Either may allow. */
export const either =
  (a: NextHopPolicy, b: NextHopPolicy): NextHopPolicy =>
  (d) =>
    a(d) || b(d)

/**
 * Destinations learned while forwarding to registered contacts (a registrar and a proxy
 * together): an initial request reached a binding there, so the dialog's later requests
 * (BYE, re-INVITE, ACK for 2xx) may go there too, for `ttl` ms after the last use.
 */
export interface Learned {
  readonly policy: NextHopPolicy
  readonly learn: (destination: Destination) => void
  readonly size: () => number
}

const keyOf = (d: Destination) => `${normal(d.address)}:${d.port}`

export const learned = (options: { readonly ttl?: number; readonly maxEntries?: number } = {}): Learned => {
  const ttl = options.ttl ?? 12 * 3600_000
  const max = options.maxEntries ?? 100_000
  // insertion order is expiry order (every learn moves the key last), so the oldest goes first
  const until = new Map<string, number>()
  return {
    policy: (d) => {
      const key = keyOf(d)
      const t = until.get(key)
      if (t === undefined) return false
      if (t < Date.now()) {
        until.delete(key)
        return false
      }
      return true
    },
    learn: (d) => {
      const key = keyOf(d)
      until.delete(key)
      until.set(key, Date.now() + ttl)
      if (until.size > max) {
        const oldest = until.keys().next().value
        if (oldest !== undefined) until.delete(oldest)
      }
    },
    size: () => until.size,
  }
}
