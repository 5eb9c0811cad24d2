/**
 * Character classes of the RFC 3261 §25.1 grammar as 256-entry lookup tables, and the
 * cheap failure signal the scanners throw (a plain object: no stack trace is captured).
 */

const table = (extra: string): Uint8Array => {
  const t = new Uint8Array(256)
  for (let c = 48; c <= 57; c++) t[c] = 1
  for (let c = 65; c <= 90; c++) t[c] = 1
  for (let c = 97; c <= 122; c++) t[c] = 1
  for (let i = 0; i < extra.length; i++) t[extra.charCodeAt(i)] = 1
  return t
}

/** token (§25.1) */
export const TOKEN = table("-.!%*_+`'~")
/** word (§25.1), used by Call-ID */
export const WORD = table("-.!%*_+`'~()<>:\\\"/[]?{}")
/** user (§25.1): unreserved / escaped / user-unreserved */
export const USER = table("-_.!~*'()%&=+$,;?/")
/** password (§25.1) */
export const PASSWORD = table("-_.!~*'()%&=+$,")
/** paramchar (§25.1) */
export const PARAM = table("-_.!~*'()%[]/:&+$")
/** hname / hvalue characters (§25.1) */
export const HNV = table("-_.!~*'()%[]/?:+$")
/** hostname characters; IPv4 shares them */
export const HOST = table("-.")
/** generic-param value without quotes: token plus what a host (IPv6 included) needs */
export const GENVALUE = table("-.!%*_+`'~:[]")
/** uric (RFC 2396) for absolute URIs other than sip/sips/tel */
export const URIC = table("-_.!~*'();/?:@&=+$,%#[]")

export const isHex = (c: number): boolean => (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102)
export const isWsp = (c: number): boolean => c === 32 || c === 9
export const isDigit = (c: number): boolean => c >= 48 && c <= 57
export const isAlpha = (c: number): boolean => (c | 32) >= 97 && (c | 32) <= 122

/** Thrown by the scanners and caught by their public entry points. */
export interface Fail {
  readonly fail: true
  readonly reason: string
  readonly at: number
}

export const fail = (reason: string, at: number): never => {
  throw { fail: true, reason, at } satisfies Fail
}

export const isFail = (u: unknown): u is Fail => typeof u === "object" && u !== null && (u as Fail).fail === true

/** Skips SP / HTAB. */
export const skipWs = (s: string, i: number, end: number): number => {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c !== 32 && c !== 9) break
    i++
  }
  return i
}

/** Scans characters of class `t` (and validates `%HH` escapes); returns the end index. */
export const scan = (s: string, i: number, end: number, t: Uint8Array): number => {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c > 255 || t[c] === 0) break
    if (c === 37) {
      if (i + 2 >= end) fail("truncated %-escape", i)
      if (!isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) fail("invalid %-escape", i)
      i += 3
      continue
    }
    i++
  }
  return i
}

/** Scans characters of class `t`, `%` included as a plain character. */
export const scanClass = (s: string, i: number, end: number, t: Uint8Array): number => {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c > 255 || t[c] === 0) break
    i++
  }
  return i
}

/** Scans token characters (no escape validation: `%` is a plain token character). */
export const scanToken = (s: string, i: number, end: number): number => {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c > 255 || TOKEN[c] === 0) break
    i++
  }
  return i
}

/** Scans a quoted-string starting at the opening quote; returns the index after the closing quote. */
export const scanQuoted = (s: string, i: number, end: number): number => {
  i++
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c === 34) return i + 1
    if (c === 92) {
      // quoted-pair excludes CR and LF (§25.1)
      const n = s.charCodeAt(i + 1)
      if (i + 1 >= end || n === 10 || n === 13) fail("bad quoted-pair", i)
      i += 2
      continue
    }
    if (c < 32 && c !== 9) fail("control character in quoted-string", i)
    if (c === 127) fail("DEL in quoted-string", i)
    i++
  }
  return fail("unterminated quoted-string", i)
}

/** Skips SP / HTAB backwards from `b`; returns the new end (not below `a`). */
export const skipWsBack = (s: string, a: number, b: number): number => {
  while (b > a) {
    const c = s.charCodeAt(b - 1)
    if (c !== 32 && c !== 9) break
    b--
  }
  return b
}

/** Removes the quotes and quoted-pair backslashes of a quoted-string slice. */
export const unquote = (q: string): string => {
  const inner = q.slice(1, -1)
  return inner.indexOf("\\") < 0 ? inner : inner.replace(/\\(.)/gs, "$1")
}

/** Quotes a string for a quoted-string, escaping `"` and `\`. */
export const quote = (v: string): string => `"${v.replace(/(["\\])/g, "\\$1")}"`

/** Parses a run of decimal digits as a non-negative integer, failing above `max`. */
export const parseUInt = (s: string, i: number, end: number, max: number, what: string): number => {
  if (i >= end) fail(`${what}: digits expected`, i)
  let n = 0
  for (let k = i; k < end; k++) {
    const c = s.charCodeAt(k)
    if (c < 48 || c > 57) fail(`${what}: digits expected`, k)
    n = n * 10 + (c - 48)
    if (n > max) fail(`${what}: out of range`, i)
  }
  return n
}
