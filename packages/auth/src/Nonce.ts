/**
 * Stateless server nonces (RFC 7616 §3.3 / §5.4): time stamp + random bytes + an HMAC over
 * both and the realm. Any process holding the secret can verify a nonce it did not issue,
 * and tell a forged nonce from an old one (stale=true, RFC 3261 §22.4).
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

const TS = 6 // 48-bit millisecond time stamp
const RAND = 12
const MAC = 16
const SIZE = TS + RAND + MAC

const mac = (secret: Uint8Array, head: Uint8Array, realm: string) =>
  createHmac("sha256", secret).update(head).update(realm).digest().subarray(0, MAC)

/** A fresh nonce for `realm`, issued at `now` (ms); base64url, 46 characters. */
export const issue = (secret: Uint8Array, realm: string, now: number): string => {
  const head = Buffer.alloc(TS + RAND)
  head.writeUIntBE(Math.max(0, Math.floor(now)), 0, TS)
  randomBytes(RAND).copy(head, TS)
  return Buffer.concat([head, mac(secret, head, realm)]).toString("base64url")
}

export type Check =
  | { readonly _tag: "Fresh"; readonly issuedAt: number }
  | { readonly _tag: "Expired"; readonly issuedAt: number }
  | { readonly _tag: "Forged" }

/** Verifies the HMAC, then the age against `ttl` (ms). */
export const check = (secret: Uint8Array, realm: string, nonce: string, now: number, ttl: number): Check => {
  if (nonce.length !== 46 || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { _tag: "Forged" }
  const bytes = Buffer.from(nonce, "base64url")
  if (bytes.length !== SIZE) return { _tag: "Forged" }
  const head = bytes.subarray(0, TS + RAND)
  if (!timingSafeEqual(mac(secret, head, realm), bytes.subarray(TS + RAND))) return { _tag: "Forged" }
  const issuedAt = head.readUIntBE(0, TS)
  // a time stamp from the future (clock skew between processes) counts as fresh up to 5 s
  if (issuedAt > now + 5_000) return { _tag: "Forged" }
  return now - issuedAt >= ttl ? { _tag: "Expired", issuedAt } : { _tag: "Fresh", issuedAt }
}

/**
 * Highest nonce-count seen per nonce (RFC 7616 §3.4: a repeated nc is a replay). Two
 * generations of at most `ttl` each: an entry lives as long as its nonce can be fresh,
 * without a timer or a sweep.
 */
export class NonceCounts {
  private current = new Map<string, number>()
  private previous = new Map<string, number>()
  private rotatedAt: number
  private readonly ttl: number

  constructor(ttl: number, now: number) {
    this.ttl = ttl
    this.rotatedAt = now
  }

  /** Records `nc` for `nonce`; false when it is not above the highest seen (a replay). */
  advance(nonce: string, nc: number, now: number): boolean {
    if (now - this.rotatedAt >= this.ttl) {
      this.previous = now - this.rotatedAt >= 2 * this.ttl ? new Map() : this.current
      this.current = new Map()
      this.rotatedAt = now
    }
    const seen = this.current.get(nonce) ?? this.previous.get(nonce) ?? 0
    if (nc <= seen) return false
    this.current.set(nonce, nc)
    return true
  }
}
