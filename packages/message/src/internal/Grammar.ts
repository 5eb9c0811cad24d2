/**
 * Scanners for the header-value grammar of RFC 3261 §25.1 (name-addr, via, generic params,
 * auth params, media types). Each works on the range `s[a, b)` — a header value inside the
 * whole received message on the receive path, so values are never copied before parsing —
 * tolerates LWS where the ABNF puts SWS (SEMI, EQUAL, SLASH, COLON, COMMA) and throws a
 * `Fail` on malformed input.
 */
import type {
  AuthValue,
  ContactValue,
  CSeq,
  EventValue,
  MediaType,
  NameAddr,
  Param,
  RAck,
  SubscriptionState,
  Via,
} from "../Model.ts"
import { parseRange, scanHost } from "../Uri.ts"
import {
  fail,
  GENVALUE,
  isDigit,
  isWsp,
  parseUInt,
  scanClass,
  scanQuoted,
  scanToken,
  skipWs,
  skipWsBack,
  unquote,
  WORD,
} from "./Chars.ts"

const NONE: ReadonlyArray<Param> = []

/** A grammar over the range `s[a, b)`. */
export type Scanner<A> = (s: string, a: number, b: number) => A

/** `*(SEMI generic-param)`; quoted values are kept with their quotes. Returns the end index. */
export const genericParams = (s: string, i: number, b: number, out: Array<Param>): number => {
  i = skipWs(s, i, b)
  while (i < b && s.charCodeAt(i) === 59) {
    i = skipWs(s, i + 1, b)
    const n1 = scanToken(s, i, b)
    if (n1 === i) fail("parameter name expected", i)
    const name = s.slice(i, n1)
    i = skipWs(s, n1, b)
    if (i < b && s.charCodeAt(i) === 61) {
      i = skipWs(s, i + 1, b)
      let v1: number
      if (i < b && s.charCodeAt(i) === 34) v1 = scanQuoted(s, i, b)
      else {
        v1 = scanClass(s, i, b, GENVALUE)
        if (v1 === i) fail("parameter value expected", i)
      }
      out.push([name, s.slice(i, v1)])
      i = skipWs(s, v1, b)
    } else out.push([name, null])
  }
  return i
}

const paramsToEnd = (s: string, i: number, b: number): ReadonlyArray<Param> => {
  if (i >= b) return NONE
  const out: Array<Param> = []
  i = genericParams(s, i, b, out)
  if (i !== b) fail("unexpected character after parameters", i)
  return out
}

/** name-addr / addr-spec with header params (§20.10: params after an addr-spec are header params). */
export const nameAddr = (s: string, a: number, b: number): NameAddr => {
  let i = skipWs(s, a, b)
  let displayName: string | undefined
  const c = s.charCodeAt(i)
  if (c === 34) {
    const q = scanQuoted(s, i, b)
    displayName = unquote(s.slice(i, q))
    i = skipWs(s, q, b)
    if (s.charCodeAt(i) !== 60) fail("'<' expected after display name", i)
  } else if (c !== 60) {
    // display-name as tokens (LWS separated) followed by '<', or else an addr-spec
    let j = i
    let last = i
    let count = 0
    for (;;) {
      const t = scanToken(s, j, b)
      if (t === j) break
      count++
      last = t
      j = skipWs(s, t, b)
      if (j < b && s.charCodeAt(j) === 60) {
        const raw = s.slice(i, last)
        displayName = count > 1 ? raw.replace(/[ \t]+/g, " ") : raw
        i = j
        break
      }
      if (j === t) break
    }
  }
  let uriEnd: number
  let uri: NameAddr["uri"]
  if (s.charCodeAt(i) === 60) {
    const close = s.indexOf(">", i)
    if (close < 0 || close >= b) fail("'>' expected", i)
    uri = parseRange(s, i + 1, close, true)
    uriEnd = close + 1
  } else {
    // addr-spec: ends before header params or LWS; it may not carry URI headers
    let e = i
    while (e < b) {
      const d = s.charCodeAt(e)
      if (d === 59 || d === 32 || d === 9 || d === 44) break
      e++
    }
    uri = parseRange(s, i, e, false)
    uriEnd = e
  }
  return { displayName, uri, params: paramsToEnd(s, uriEnd, b) }
}

export const contact = (s: string, a: number, b: number): ContactValue => {
  const i = skipWs(s, a, b)
  if (s.charCodeAt(i) === 42 && skipWs(s, i + 1, b) === b) return WILDCARD
  const na = nameAddr(s, a, b)
  for (const [n, v] of na.params) {
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )  (§25.1)
    if (n.length === 1 && (n === "q" || n === "Q") && (v === null || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v)))
      fail("invalid q value", 0)
  }
  return { _tag: "Contact", displayName: na.displayName, uri: na.uri, params: na.params }
}

const WILDCARD: ContactValue = { _tag: "Wildcard" }

export const via = (s: string, a: number, b: number): Via => {
  let i = skipWs(s, a, b)
  const p1 = scanToken(s, i, b)
  if (p1 === i) fail("Via protocol name expected", i)
  const protocol = s.slice(i, p1)
  i = skipWs(s, p1, b)
  if (s.charCodeAt(i) !== 47) fail("'/' expected in Via sent-protocol", i)
  i = skipWs(s, i + 1, b)
  const v1 = scanToken(s, i, b)
  if (v1 === i) fail("Via protocol version expected", i)
  const version = s.slice(i, v1)
  i = skipWs(s, v1, b)
  if (s.charCodeAt(i) !== 47) fail("'/' expected in Via sent-protocol", i)
  i = skipWs(s, i + 1, b)
  const t1 = scanToken(s, i, b)
  if (t1 === i) fail("Via transport expected", i)
  const rawTransport = s.slice(i, t1)
  const transport =
    rawTransport === "UDP" || rawTransport === "TCP" || rawTransport === "TLS"
      ? rawTransport
      : rawTransport.toUpperCase()
  i = skipWs(s, t1, b)
  if (i === t1) fail("LWS expected before Via sent-by", i)
  const h1 = scanHost(s, i, b)
  const host = s.slice(i, h1)
  i = skipWs(s, h1, b)
  let port: number | undefined
  if (i < b && s.charCodeAt(i) === 58) {
    i = skipWs(s, i + 1, b)
    let e = i
    while (e < b && isDigit(s.charCodeAt(e))) e++
    port = parseUInt(s, i, e, 65535, "Via port")
    i = e
  }
  return { protocol, version, transport, host, port, params: paramsToEnd(s, i, b) }
}

export const cseq = (s: string, a: number, b: number): CSeq => {
  let i = skipWs(s, a, b)
  let e = i
  while (e < b && isDigit(s.charCodeAt(e))) e++
  // §8.1.1.5: the sequence number MUST be less than 2**31
  const seq = parseUInt(s, i, e, 2147483647, "CSeq number")
  i = skipWs(s, e, b)
  if (i === e) fail("LWS expected after CSeq number", i)
  const m1 = scanToken(s, i, b)
  if (m1 === i || skipWs(s, m1, b) !== b) fail("CSeq method expected", i)
  return { seq, method: s.slice(i, m1) }
}

export const rack = (s: string): RAck => {
  const parts = s.trim().split(/[ \t]+/)
  if (parts.length !== 3) fail("RAck: response-num CSeq-num Method expected", 0)
  const [a, c, m] = parts as [string, string, string]
  const rseq = parseUInt(a, 0, a.length, 4294967295, "RAck response-num")
  const cs = parseUInt(c, 0, c.length, 2147483647, "RAck CSeq-num")
  if (scanToken(m, 0, m.length) !== m.length) fail("RAck method must be a token", 0)
  return { rseq, cseq: cs, method: m }
}

export const uint =
  (max: number, what: string) =>
  (s: string, a: number, b: number): number => {
    const i = skipWs(s, a, b)
    let e = i
    while (e < b && isDigit(s.charCodeAt(e))) e++
    if (skipWs(s, e, b) !== b) fail(`digits expected in ${what}`, e)
    return parseUInt(s, i, e, max, "value")
  }

/** callid = word [ "@" word ] (§25.1) */
export const callId = (s: string, a: number, b: number): string => {
  a = skipWs(s, a, b)
  b = skipWsBack(s, a, b)
  const w1 = scanClass(s, a, b, WORD)
  if (w1 === a) fail("Call-ID expected", a)
  if (w1 < b) {
    if (s.charCodeAt(w1) !== 64) fail("invalid character in Call-ID", w1)
    const w2 = scanClass(s, w1 + 1, b, WORD)
    if (w2 === w1 + 1 || w2 !== b) fail("invalid character in Call-ID", w2)
  }
  return s.slice(a, b)
}

export const token = (s: string, a: number, b: number): string => {
  a = skipWs(s, a, b)
  b = skipWsBack(s, a, b)
  if (a === b || scanToken(s, a, b) !== b) fail("token expected", a)
  return s.slice(a, b)
}

/** token with params: Event, Subscription-State, Content-Disposition, Accept-Encoding … */
export const tokenParams = (
  s: string,
  a: number,
  b: number,
): { readonly value: string; readonly params: ReadonlyArray<Param> } => {
  const i = skipWs(s, a, b)
  const t1 = scanToken(s, i, b)
  if (t1 === i) fail("token expected", i)
  return { value: s.slice(i, t1), params: paramsToEnd(s, t1, b) }
}

export const event = (s: string, a: number, b: number): EventValue => {
  const v = tokenParams(s, a, b)
  return { package: v.value, params: v.params }
}

export const subscriptionState = (s: string, a: number, b: number): SubscriptionState => {
  const v = tokenParams(s, a, b)
  return { state: v.value, params: v.params }
}

/** m-type SLASH m-subtype *(SEMI m-parameter) (§20.15); `*` allowed for Accept ranges. */
export const mediaType = (s: string, a: number, b: number): MediaType => {
  let i = skipWs(s, a, b)
  const t1 = scanToken(s, i, b)
  if (t1 === i) fail("media type expected", i)
  const type = s.slice(i, t1)
  i = skipWs(s, t1, b)
  if (s.charCodeAt(i) !== 47) fail("'/' expected in media type", i)
  i = skipWs(s, i + 1, b)
  const st1 = scanToken(s, i, b)
  if (st1 === i) fail("media subtype expected", i)
  return { type, subtype: s.slice(i, st1), params: paramsToEnd(s, st1, b) }
}

/** auth-param list `name=value, …` with quotes removed (§25.1 challenge / credentials). */
export const authParams = (s: string, i: number, b: number): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  i = skipWs(s, i, b)
  while (i < b) {
    const n1 = scanToken(s, i, b)
    if (n1 === i) fail("auth-param name expected", i)
    const name = s.slice(i, n1)
    i = skipWs(s, n1, b)
    if (s.charCodeAt(i) !== 61) fail("'=' expected in auth-param", i)
    i = skipWs(s, i + 1, b)
    let value: string
    if (s.charCodeAt(i) === 34) {
      const q = scanQuoted(s, i, b)
      value = unquote(s.slice(i, q))
      i = q
    } else {
      const v1 = scanToken(s, i, b)
      if (v1 === i) fail("auth-param value expected", i)
      value = s.slice(i, v1)
      i = v1
    }
    out.push([name, value])
    i = skipWs(s, i, b)
    if (i < b) {
      if (s.charCodeAt(i) !== 44) fail("',' expected between auth-params", i)
      i = skipWs(s, i + 1, b)
    }
  }
  return out
}

export const auth = (s: string, a: number, b: number): AuthValue => {
  const i = skipWs(s, a, b)
  const t1 = scanToken(s, i, b)
  if (t1 === i) fail("auth scheme expected", i)
  const j = skipWs(s, t1, b)
  if (j < b && j === t1) fail("LWS expected after auth scheme", j)
  return { scheme: s.slice(i, t1), params: authParams(s, j, b) }
}

const WKDAY = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const MONTH = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/** SIP-date = rfc1123-date, always in GMT (§20.17); returns epoch milliseconds. */
export const date = (s: string): number => {
  const m = /^(\w{3}), (\d{2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(s.trim())
  if (m === null) return fail("Date must be an RFC 1123 date in GMT", 0)
  const month = MONTH.indexOf(m[3]!)
  if (WKDAY.indexOf(m[1]!) < 0 || month < 0) return fail("invalid day or month name in Date", 0)
  const [d, y, hh, mm, ss] = [m[2], m[4], m[5], m[6], m[7]].map(Number) as [number, number, number, number, number]
  if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return fail("invalid Date field", 0)
  return Date.UTC(y, month, d, hh, mm, ss)
}

export interface Warning {
  readonly code: number
  readonly agent: string
  readonly text: string
}

/** warning-value = warn-code SP warn-agent SP warn-text (§20.43) */
export const warning = (s: string): Warning => {
  const m = /^\s*(\d{3}) ([^ \t]+) ("(?:[^"\\]|\\.)*")\s*$/s.exec(s)
  if (m === null) return fail('Warning: code agent "text" expected', 0)
  return { code: Number(m[1]), agent: m[2]!, text: unquote(m[3]!) }
}

export interface RetryAfter {
  readonly seconds: number
  readonly comment: string | undefined
  readonly params: ReadonlyArray<Param>
}

export const retryAfter = (s: string, a: number, b: number): RetryAfter => {
  let i = skipWs(s, a, b)
  let e = i
  while (e < b && isDigit(s.charCodeAt(e))) e++
  const seconds = parseUInt(s, i, e, 4294967295, "Retry-After")
  i = skipWs(s, e, b)
  let comment: string | undefined
  if (s.charCodeAt(i) === 40) {
    let depth = 0
    let k = i
    for (; k < b; k++) {
      const c = s.charCodeAt(k)
      if (c === 92) k++
      else if (c === 40) depth++
      else if (c === 41 && --depth === 0) break
    }
    if (k >= b) fail("unterminated comment", i)
    comment = s.slice(i + 1, k)
    i = k + 1
  }
  return { seconds, comment, params: paramsToEnd(s, i, b) }
}

/**
 * End of the list element starting at `i` in `s[i, b)`: the first comma outside quoted strings
 * and `<…>` (§7.3.1), or `b`.
 */
export const elementEnd = (s: string, i: number, b: number): number => {
  let inAngle = false
  for (; i < b; i++) {
    const c = s.charCodeAt(i)
    if (c === 34) {
      // skip the quoted-string, quoted-pairs included
      for (i++; i < b; i++) {
        const q = s.charCodeAt(i)
        if (q === 92) i++
        else if (q === 34) break
      }
    } else if (c === 60) inAngle = true
    else if (c === 62) inAngle = false
    else if (c === 44 && !inAngle) return i
  }
  return b
}

export const isWs = isWsp
