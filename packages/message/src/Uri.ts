/**
 * URIs (RFC 3261 §19.1, §25.1; RFC 3966 `tel:`; RFC 5118 IPv6 references).
 * Components stay escaped as on the wire; comparison (§19.1.4) unescapes.
 */
import { Data, Effect } from "effect"
import {
  fail,
  HNV,
  isAlpha,
  isDigit,
  isFail,
  isHex,
  PARAM,
  PASSWORD,
  parseUInt,
  scan,
  URIC,
  USER,
} from "./internal/Chars.ts"
import type { AbsoluteUri, Param, SipUri, TelUri, Uri } from "./Model.ts"

export type { AbsoluteUri, Param, SipUri, TelUri, Uri }

export class UriError extends Data.TaggedError("UriError")<{
  readonly input: string
  readonly reason: string
  readonly offset: number
}> {}

// ---- IPv6 (RFC 4291 text form, RFC 5118) ----

const ipv4At = (s: string, a: number, b: number): number | undefined => {
  let parts = 0
  let n = -1
  let digits = 0
  let value = 0
  for (let i = a; i < b; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (n < 0) return undefined
      value = value * 256 + n
      parts++
      n = -1
      digits = 0
      continue
    }
    if (!isDigit(c) || ++digits > 3) return undefined
    n = (n < 0 ? 0 : n * 10) + (c - 48)
    if (n > 255) return undefined
  }
  if (n < 0 || parts !== 3) return undefined
  return value * 256 + n
}

/**
 * The eight 16-bit groups of an IPv6 address (without brackets), or undefined.
 * Policy (RFC 5118 §4.10 / RFC 5954): ":::" directly before an embedded IPv4 address
 * (the RFC 3261 ABNF bug) is tolerated and read as "::".
 */
export const ipv6Groups = (text: string): ReadonlyArray<number> | undefined => {
  let t = text
  const triple = t.indexOf(":::")
  if (triple >= 0) {
    if (t.indexOf(":::", triple + 1) >= 0 || t.indexOf(".", triple) < 0) return undefined
    t = t.slice(0, triple) + t.slice(triple + 1)
  }
  const groups: Array<number> = []
  let tail: Array<number> | undefined
  const dbl = t.indexOf("::")
  if (dbl >= 0 && t.indexOf("::", dbl + 1) >= 0) return undefined
  const parse = (part: string, into: Array<number>, last: boolean): boolean => {
    if (part === "") return true
    const pieces = part.split(":")
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k]!
      if (last && k === pieces.length - 1 && p.indexOf(".") >= 0) {
        const v4 = ipv4At(p, 0, p.length)
        if (v4 === undefined) return false
        into.push(Math.floor(v4 / 65536), v4 % 65536)
        continue
      }
      if (p.length === 0 || p.length > 4) return false
      for (let i = 0; i < p.length; i++) if (!isHex(p.charCodeAt(i))) return false
      into.push(Number.parseInt(p, 16))
    }
    return true
  }
  if (dbl >= 0) {
    tail = []
    if (!parse(t.slice(0, dbl), groups, false) || !parse(t.slice(dbl + 2), tail, true)) return undefined
    if (groups.length + tail.length > 7) return undefined
    while (groups.length + tail.length < 8) groups.push(0)
    groups.push(...tail)
  } else if (!parse(t, groups, true) || groups.length !== 8) return undefined
  return groups
}

/** Lower-case, fully expanded IPv6 form used for comparisons. */
const canonicalIPv6 = (ref: string): string => {
  const g = ipv6Groups(ref.slice(1, -1))
  return g === undefined ? ref.toLowerCase() : `[${g.map((x) => x.toString(16)).join(":")}]`
}

// ---- host / params scanning, shared with Via ----

/** Scans a host (hostname, IPv4, or `[IPv6]`) from `a`; returns its end. Fails on a malformed host. */
export const scanHost = (s: string, a: number, b: number): number => {
  if (a >= b) return fail("host expected", a)
  if (s.charCodeAt(a) === 91) {
    const close = s.indexOf("]", a)
    if (close < 0 || close >= b) return fail("unterminated IPv6 reference", a)
    if (ipv6Groups(s.slice(a + 1, close)) === undefined) return fail("invalid IPv6 address", a)
    return close + 1
  }
  // one class lookup per character: 1 digit, 2 letter, 3 '-', 4 '.'
  let i = a
  let allNumeric = true
  let labelStart = a
  let firstOfLast = 0
  let prev = 0
  for (; i < b; i++) {
    const c = s.charCodeAt(i)
    const k = c < 128 ? HOST_CLASS[c]! : 0
    if (k === 0) break
    if (k === 4) {
      if (i === labelStart || prev === 3) return fail("malformed host label", i)
      labelStart = i + 1
    } else {
      if (i === labelStart) {
        if (k === 3) return fail("host label starts with '-'", i)
        firstOfLast = k
      }
      if (k !== 1) allNumeric = false
    }
    prev = k
  }
  if (i === a) return fail("host expected", a)
  if (allNumeric) {
    if (ipv4At(s, a, i) === undefined) return fail("invalid IPv4 address", a)
    return i
  }
  // toplabel starts with ALPHA and does not end with '-'; a trailing dot is allowed (§25.1)
  if (prev !== 4 && (firstOfLast !== 2 || prev === 3)) return fail("malformed top label", labelStart)
  return i
}

const HOST_CLASS = (() => {
  const t = new Uint8Array(128)
  for (let c = 48; c <= 57; c++) t[c] = 1
  for (let c = 65; c <= 90; c++) t[c] = 2
  for (let c = 97; c <= 122; c++) t[c] = 2
  t[45] = 3
  t[46] = 4
  return t
})()

// ---- parsing ----

const scanParams = (s: string, i: number, b: number, out: Array<Param>): number => {
  while (i < b && s.charCodeAt(i) === 59) {
    const n0 = i + 1
    const n1 = scan(s, n0, b, PARAM)
    if (n1 === n0) fail("empty uri-parameter name", n0)
    if (n1 < b && s.charCodeAt(n1) === 61) {
      const v1 = scan(s, n1 + 1, b, PARAM)
      out.push([s.slice(n0, n1), s.slice(n1 + 1, v1)])
      i = v1
    } else {
      out.push([s.slice(n0, n1), null])
      i = n1
    }
  }
  return i
}

const NO_PARAMS: ReadonlyArray<Param> = []

const parseSip = (s: string, a: number, b: number, scheme: "sip" | "sips", allowHeaders: boolean): SipUri => {
  let user: string | undefined
  let password: string | undefined
  let i = a
  // the native search may run past `b` (to the next '@' in the message): still far cheaper than a loop
  const at = s.indexOf("@", a)
  if (at >= 0 && at < b) {
    const u1 = scan(s, a, at, USER)
    if (u1 === a) fail("empty user", a)
    user = s.slice(a, u1)
    if (u1 < at) {
      if (s.charCodeAt(u1) !== 58) fail("invalid character in user", u1)
      const p1 = scan(s, u1 + 1, at, PASSWORD)
      if (p1 !== at) fail("invalid character in password", p1)
      password = s.slice(u1 + 1, at)
    }
    i = at + 1
  }
  const h1 = scanHost(s, i, b)
  const host = s.slice(i, h1)
  i = h1
  let port: number | undefined
  if (i < b && s.charCodeAt(i) === 58) {
    let p = i + 1
    while (p < b && isDigit(s.charCodeAt(p))) p++
    port = parseUInt(s, i + 1, p, 65535, "port")
    i = p
  }
  let params = NO_PARAMS
  if (i < b && s.charCodeAt(i) === 59) {
    const ps: Array<Param> = []
    i = scanParams(s, i, b, ps)
    params = ps
  }
  let headers = NO_PARAMS
  if (i < b && s.charCodeAt(i) === 63) {
    if (!allowHeaders) fail("URI headers are not allowed here (§19.1.1)", i)
    const hs: Array<Param> = []
    do {
      const n0 = i + 1
      const n1 = scan(s, n0, b, HNV)
      if (n1 === n0 || n1 >= b || s.charCodeAt(n1) !== 61) fail("malformed URI header", n0)
      const v1 = scan(s, n1 + 1, b, HNV)
      hs.push([s.slice(n0, n1), s.slice(n1 + 1, v1)])
      i = v1
    } while (i < b && s.charCodeAt(i) === 38)
    headers = hs
  }
  if (i !== b) fail("unexpected character in SIP URI", i)
  return { _tag: "SipUri", scheme, user, password, host, port, params, headers }
}

const TEL_CHARS = (() => {
  const t = new Uint8Array(256)
  for (const c of "0123456789abcdefABCDEF*#+-.()pPwW") t[c.charCodeAt(0)] = 1
  return t
})()

const parseTel = (s: string, a: number, b: number): TelUri => {
  const n1 = scan(s, a, b, TEL_CHARS)
  if (n1 === a) fail("tel: number expected", a)
  const params: Array<Param> = []
  const i = scanParams(s, n1, b, params)
  if (i !== b) fail("unexpected character in tel URI", i)
  return { _tag: "TelUri", number: s.slice(a, n1), params }
}

/** Parses the URI in `s[a, b)`; throws a scanner failure. `allowHeaders` is false for a Request-URI. */
export const parseRange = (s: string, a: number, b: number, allowHeaders: boolean): Uri => {
  let i = a
  if (i >= b || !isAlpha(s.charCodeAt(i))) fail("URI scheme expected", i)
  while (i < b) {
    const c = s.charCodeAt(i)
    if (!(isAlpha(c) || isDigit(c) || c === 43 || c === 45 || c === 46)) break
    i++
  }
  if (i >= b || s.charCodeAt(i) !== 58) fail("':' expected after URI scheme", i)
  const len = i - a
  // fast path for the common lowercase schemes
  if (len === 3 && s.startsWith("sip", a)) return parseSip(s, i + 1, b, "sip", allowHeaders)
  const scheme = s.slice(a, i).toLowerCase()
  if (scheme === "sip" || scheme === "sips") return parseSip(s, i + 1, b, scheme, allowHeaders)
  if (scheme === "tel") return parseTel(s, i + 1, b)
  const v1 = scan(s, i + 1, b, URIC)
  if (v1 === i + 1 || v1 !== b) fail("invalid absolute URI", v1)
  return { _tag: "AbsoluteUri", scheme, value: s.slice(i + 1, b) }
}

/** Parses a URI, or fails with a typed error. */
export const decode = (text: string, options?: { readonly requestUri?: boolean }): Uri | UriError => {
  try {
    return parseRange(text, 0, text.length, options?.requestUri !== true)
  } catch (e) {
    if (isFail(e)) return new UriError({ input: text, reason: e.reason, offset: e.at })
    throw e
  }
}

/** Parses a URI; throws `UriError` on malformed input (use `decode` or `parseEffect` to avoid throwing). */
export const parse = (text: string, options?: { readonly requestUri?: boolean }): Uri => {
  const r = decode(text, options)
  if (r instanceof UriError) throw r
  return r
}

export const parseEffect = (text: string, options?: { readonly requestUri?: boolean }): Effect.Effect<Uri, UriError> =>
  Effect.suspend(() => {
    const r = decode(text, options)
    return r instanceof UriError ? Effect.fail(r) : Effect.succeed(r)
  })

// ---- building and formatting ----

/** Builds a `sip:`/`sips:` URI. */
export const sip = (parts: {
  readonly scheme?: "sip" | "sips"
  readonly user?: string | undefined
  readonly password?: string | undefined
  readonly host: string
  readonly port?: number | undefined
  readonly params?: ReadonlyArray<Param>
  readonly headers?: ReadonlyArray<Param>
}): SipUri => ({
  _tag: "SipUri",
  scheme: parts.scheme ?? "sip",
  user: parts.user,
  password: parts.password,
  host: parts.host,
  port: parts.port,
  params: parts.params ?? NO_PARAMS,
  headers: parts.headers ?? NO_PARAMS,
})

const formatParams = (params: ReadonlyArray<Param>): string => {
  let out = ""
  for (const [n, v] of params) out += v === null ? `;${n}` : `;${n}=${v}`
  return out
}

export const format = (u: Uri): string => {
  switch (u._tag) {
    case "SipUri": {
      let out = u.scheme + ":"
      if (u.user !== undefined) out += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`
      out += u.host
      if (u.port !== undefined) out += `:${u.port}`
      if (u.params.length > 0) out += formatParams(u.params)
      if (u.headers.length > 0) out += "?" + u.headers.map(([n, v]) => `${n}=${v ?? ""}`).join("&")
      return out
    }
    case "TelUri":
      return `tel:${u.number}${formatParams(u.params)}`
    case "AbsoluteUri":
      return `${u.scheme}:${u.value}`
  }
}

/** Value of a URI parameter (names are case-insensitive); `null` for a flag, undefined when absent. */
export const param = (u: Uri, name: string): string | null | undefined => {
  if (u._tag === "AbsoluteUri") return undefined
  const lower = name.toLowerCase()
  for (const [n, v] of u.params) if (n === name || n.toLowerCase() === lower) return v
  return undefined
}

// ---- comparison (§19.1.4) ----

/** Decodes `%HH` escapes (RFC 3261 §19.1.4: escaped and unescaped forms are equivalent). */
export const decodeEscapes = (v: string): string => {
  if (v.indexOf("%") < 0) return v
  return v.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
}

const SPECIAL_PARAMS = ["user", "ttl", "method", "maddr", "transport"]

/** name -> value(s); a repeated name keeps all its values, order-free */
const paramMap = (ps: ReadonlyArray<Param>): Map<string, string | null> => {
  const m = new Map<string, string | null>()
  for (const [n, v] of ps) {
    const key = decodeEscapes(n).toLowerCase()
    const value = v === null ? null : decodeEscapes(v).toLowerCase()
    const prev = m.get(key)
    if (prev === undefined) m.set(key, value)
    else m.set(key, [prev ?? "\u0000", value ?? "\u0000"].sort().join("\u0001"))
  }
  return m
}
const hostKey = (h: string): string => (h.charCodeAt(0) === 91 ? canonicalIPv6(h) : h.toLowerCase())

const sipEquals = (a: SipUri, b: SipUri): boolean => {
  if (a.scheme !== b.scheme) return false
  // user and password are case-sensitive; host is not (§19.1.4)
  if ((a.user === undefined) !== (b.user === undefined)) return false
  if (a.user !== undefined && decodeEscapes(a.user) !== decodeEscapes(b.user!)) return false
  if ((a.password === undefined) !== (b.password === undefined)) return false
  if (a.password !== undefined && decodeEscapes(a.password) !== decodeEscapes(b.password!)) return false
  if (hostKey(a.host) !== hostKey(b.host)) return false
  // an omitted port is not equal to an explicit default port
  if (a.port !== b.port) return false
  const pa = paramMap(a.params)
  const pb = paramMap(b.params)
  for (const [n, v] of pa) if (pb.has(n) && pb.get(n) !== v) return false
  for (const n of SPECIAL_PARAMS) if (pa.has(n) !== pb.has(n)) return false
  // headers: every header must appear in both and match
  if (a.headers.length !== b.headers.length) return false
  const ha = new Map<string, string>()
  for (const [n, v] of a.headers) ha.set(decodeEscapes(n).toLowerCase(), decodeEscapes(v ?? ""))
  for (const [n, v] of b.headers) if (ha.get(decodeEscapes(n).toLowerCase()) !== decodeEscapes(v ?? "")) return false
  return true
}

const telKey = (n: string): string => n.replace(/[-.()]/g, "").toLowerCase()

/** URI equivalence: §19.1.4 for sip/sips, RFC 3966 §4 for tel, exact otherwise (scheme case-insensitive). */
export const equals = (a: Uri, b: Uri): boolean => {
  if (a._tag !== b._tag) return false
  switch (a._tag) {
    case "SipUri":
      return sipEquals(a, b as SipUri)
    case "TelUri": {
      const t = b as TelUri
      if (telKey(a.number) !== telKey(t.number)) return false
      const pa = paramMap(a.params)
      const pb = paramMap(t.params)
      if (pa.size !== pb.size) return false
      for (const [n, v] of pa) if (!pb.has(n) || pb.get(n) !== v) return false
      return true
    }
    case "AbsoluteUri": {
      const o = b as AbsoluteUri
      return a.scheme.toLowerCase() === o.scheme.toLowerCase() && a.value === o.value
    }
  }
}
