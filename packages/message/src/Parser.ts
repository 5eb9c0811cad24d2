/**
 * Receive-path parser (RFC 3261 §7, §18.3, §25). Synchronous and total: it never throws.
 * The octets are read both as bytes and as a latin1 string (one char per byte, so offsets
 * agree): line structure and header names are scanned on the bytes, and header values are
 * parsed in place as ranges of the string, sliced once for `Header.value`. UTF-8 is decoded
 * only in values that contain non-ASCII octets. The headers the transaction layer and the
 * §8.2 checks need (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Content-Type,
 * Contact, Expires, Date) are validated here and their typed values cached in the field;
 * the others (Route and Record-Route included) are parsed on first typed access. The body
 * is a view on the input (no copy).
 */
import { isAscii } from "node:buffer"
import { Effect } from "effect"
import * as HeaderCache from "./HeaderCache.ts"
import * as Headers from "./Headers.ts"
import { isFail, isWsp, scanToken, skipWs, skipWsBack } from "./internal/Chars.ts"
import { elementEnd } from "./internal/Grammar.ts"
import * as Octets from "./internal/Octets.ts"
import type { CSeq, Header, NameAddr, SipMessage, Uri, Via } from "./Model.ts"
import { ParseError, type PartialMessage } from "./ParseError.ts"
import { parseRange } from "./Uri.ts"

export interface Options {
  /**
   * `datagram` (default, §18.3): Content-Length may be absent (the body is the rest of the
   * datagram) and octets after the body are ignored. `stream`: Content-Length is required.
   */
  readonly transport?: "datagram" | "stream"
}

export type Result =
  | { readonly _tag: "Ok"; readonly message: SipMessage; readonly consumed: number }
  | { readonly _tag: "Err"; readonly error: ParseError }

const latin1 = (bytes: Uint8Array, start: number, end: number): string =>
  (Buffer.prototype.latin1Slice as (this: Uint8Array, s: number, e: number) => string).call(bytes, start, end)

const HIGH = /[\x80-\xff]/
const FOLD = /[ \t]*\r\n[ \t]+/g
const utf8 = (v: string): string => (HIGH.test(v) ? Buffer.from(v, "latin1").toString("utf8") : v)

class State {
  kind: "request" | "response" | undefined = undefined
  method: string | undefined = undefined
  via: Array<Via> = []
  callId: string | undefined = undefined
  cseq: CSeq | undefined = undefined
  cseqOffset = 0
  from: NameAddr | undefined = undefined
  to: NameAddr | undefined = undefined
  error: { reason: string; offset: number; header: string | undefined; status: 400 | 505 } | undefined = undefined

  fail(reason: string, offset: number, header?: string, status: 400 | 505 = 400): void {
    if (this.error === undefined) this.error = { reason, offset, header, status }
  }

  toError(): Result {
    const e = this.error!
    const partial: PartialMessage = {
      kind: this.kind,
      method: this.method,
      via: this.via,
      callId: this.callId,
      cseq: this.cseq,
      from: this.from,
      to: this.to,
    }
    return {
      _tag: "Err",
      error: new ParseError({ reason: e.reason, offset: e.offset, header: e.header, status: e.status, partial }),
    }
  }
}

/** SIP-Version check: 0 = SIP/2.0, 505 = well-formed other version, 400 = garbage. */
const checkVersion = (s: string, a: number, b: number): 0 | 400 | 505 => {
  if (b - a === 7 && s.startsWith("SIP/2.0", a)) return 0
  const v = s.slice(a, b)
  const m = /^sip\/(\d+)\.(\d+)$/i.exec(v)
  if (m === null) return 400
  return Number(m[1]) === 2 && Number(m[2]) === 0 ? 0 : 505
}

const EMPTY = new Uint8Array(0)
const VIA: unknown = Headers.Via
const CALL_ID: unknown = Headers.CallId
const CSEQ: unknown = Headers.CSeq
const FROM: unknown = Headers.From
const TO: unknown = Headers.To
const CONTENT_LENGTH: unknown = Headers.ContentLength

/** Parses one message from `bytes` (a whole datagram, or one framed stream message). Never throws. */
export const parse = (bytes: Uint8Array, options?: Options): Result => {
  const st = new State()
  try {
    return parseInto(bytes, options?.transport === "stream", st)
  } catch (e) {
    // defensive: every expected failure is reported through `st`
    st.fail(isFail(e) ? e.reason : `internal error: ${String(e)}`, isFail(e) ? e.at : 0)
    return st.toError()
  }
}

/** `parse` as an Effect failing with `ParseError`. */
export const parseOrFail = (bytes: Uint8Array, options?: Options): Effect.Effect<SipMessage, ParseError> =>
  Effect.suspend(() => {
    const r = parse(bytes, options)
    return r._tag === "Ok" ? Effect.succeed(r.message) : Effect.fail(r.error)
  })

const parseInto = (bytes: Uint8Array, stream: boolean, st: State): Result => {
  const n = bytes.length
  let s = latin1(bytes, 0, Math.min(n, 4096))
  let he = s.indexOf("\r\n\r\n")
  if (he < 0 && n > 4096) {
    s = latin1(bytes, 0, n)
    he = s.indexOf("\r\n\r\n")
  }
  // §7.5: CRLFs before the start-line are ignored
  let pos = 0
  while (s.charCodeAt(pos) === 13 && s.charCodeAt(pos + 1) === 10) pos += 2
  if (pos > 0 && he >= 0 && he < pos) he = s.indexOf("\r\n\r\n", pos)
  const lineEnd0 = s.indexOf("\r\n", pos)
  if (he < 0 || lineEnd0 < 0) {
    st.fail("no empty line ends the header section", n)
    if (lineEnd0 < 0) return st.toError()
  }
  const headEnd = he < 0 ? s.length : he
  const hasHigh = !isAscii(bytes) && !isAscii(bytes.subarray(0, headEnd))

  // ---- start line ----
  const lineEnd = lineEnd0
  let uri: Uri | undefined
  let status = 0
  let reason = ""
  if (
    (s.charCodeAt(pos) | 32) === 115 &&
    (s.charCodeAt(pos + 1) | 32) === 105 &&
    (s.charCodeAt(pos + 2) | 32) === 112 &&
    s.charCodeAt(pos + 3) === 47
  ) {
    st.kind = "response"
    const sp1 = s.indexOf(" ", pos)
    if (sp1 < 0 || sp1 > lineEnd) {
      st.fail("malformed Status-Line", pos)
    } else {
      const v = checkVersion(s, pos, sp1)
      if (v !== 0) st.fail("unsupported SIP-Version", pos, undefined, v)
      let k = sp1 + 1
      let code = 0
      while (k < lineEnd && k - sp1 <= 4) {
        const c = s.charCodeAt(k)
        if (c < 48 || c > 57) break
        code = code * 10 + c - 48
        k++
      }
      if (k - sp1 !== 4 || (k < lineEnd && s.charCodeAt(k) !== 32) || code < 100 || code > 699)
        st.fail("Status-Code must be 3 digits in 100-699", sp1 + 1)
      status = code
      reason = k < lineEnd ? s.slice(k + 1, lineEnd) : ""
      if (hasHigh) reason = utf8(reason)
    }
  } else {
    st.kind = "request"
    const sp1 = s.indexOf(" ", pos)
    const sp2 = sp1 < 0 ? -1 : s.indexOf(" ", sp1 + 1)
    if (sp1 < 0 || sp2 < 0 || sp2 > lineEnd) {
      st.fail("malformed Request-Line", pos)
    } else {
      if (sp1 === pos || scanToken(s, pos, sp1) !== sp1) st.fail("Method must be a token", pos)
      else st.method = s.slice(pos, sp1)
      // single SP between elements and no LWS in the Request-URI (§25.1, RFC 4475 §3.1.2.8-10)
      const v = checkVersion(s, sp2 + 1, lineEnd)
      if (v !== 0) st.fail(v === 505 ? "unsupported SIP-Version" : "malformed SIP-Version", sp2 + 1, undefined, v)
      try {
        uri = parseRange(s, sp1 + 1, sp2, false)
      } catch (e) {
        if (!isFail(e)) throw e
        st.fail(`Request-URI: ${e.reason}`, e.at)
      }
    }
  }

  // ---- header fields ----
  const headers: Array<Header> = []
  let contentLength = -1
  let i = lineEnd + 2
  const limit = headEnd + 2
  while (i < limit) {
    const lineStart = i
    const n1 = Octets.scanToken(bytes, i, headEnd)
    const j = Octets.skipWs(bytes, n1, headEnd)
    let e = crlf(s, j)
    if (e < 0 || e > headEnd) e = headEnd
    if (n1 === i || bytes[j] !== 58 || j >= e) {
      st.fail(n1 === i ? "header name expected" : "':' expected after header name", lineStart)
      i = skipContinuations(s, e, headEnd) + 2
      continue
    }
    const folded = e < headEnd && isWsp(bytes[e + 2]!)
    if (folded) e = skipContinuations(s, e, headEnd)
    i = e + 2
    // the value, LWS-trimmed; parsed in place in `s` unless it had to be rewritten
    let src = s
    let v0 = Octets.skipWs(bytes, j + 1, e)
    let v1 = Octets.skipWsBack(bytes, v0, e)
    if (folded || hasHigh) {
      src = rewrittenValue(s, v0, v1, folded, hasHigh)
      v0 = 0
      v1 = src.length
    }
    const info = Headers.lookupAt(bytes, lineStart, n1)
    if (info === undefined) {
      headers.push(new HeaderCache.CachedHeader(s.slice(lineStart, n1), src.slice(v0, v1)))
      continue
    }
    const def = info.def!
    if (def.list) {
      addList(st, headers, def, info.name, src, v0, v1, lineStart)
      continue
    }
    const h = addHeader(st, headers, def, info.name, src, v0, v1, lineStart)
    if (def === CONTENT_LENGTH) {
      // RFC 4475 §3.3.9: several Content-Length values make framing ambiguous
      if (contentLength >= 0) st.fail("multiple Content-Length values", lineStart, info.name)
      contentLength = h === undefined ? 0 : (HeaderCache.get(h) as number)
    }
  }

  // §8.2 / RFC 4475 §3.1.2.17-18: CSeq method must match the request method
  if (st.kind === "request" && st.method !== undefined && st.cseq !== undefined && st.cseq.method !== st.method)
    st.fail("CSeq method does not match the Request-Line method", st.cseqOffset, "CSeq")

  // ---- body (§18.3) ----
  const bodyStart = headEnd + 4
  let bodyEnd: number
  if (contentLength >= 0 && !(st.error?.header === "Content-Length")) {
    bodyEnd = bodyStart + contentLength
    if (bodyEnd > n) st.fail("Content-Length exceeds the available octets", bodyStart, "Content-Length")
  } else if (stream) {
    st.fail("Content-Length is required on stream transports (§18.3)", bodyStart, "Content-Length")
    bodyEnd = bodyStart
  } else bodyEnd = n
  if (st.error !== undefined) return st.toError()
  const body =
    bodyEnd > bodyStart ? new Uint8Array(bytes.buffer, bytes.byteOffset + bodyStart, bodyEnd - bodyStart) : EMPTY
  const message: SipMessage =
    st.kind === "request"
      ? { _tag: "SipRequest", method: st.method!, uri: uri!, headers, body }
      : { _tag: "SipResponse", status, reason, headers, body }
  return { _tag: "Ok", message, consumed: bodyEnd }
}

/** Index of the CRLF ending the field whose first line ends at `e`: continuation lines start with LWS (§7.3.1). */
const skipContinuations = (s: string, e: number, headEnd: number): number => {
  while (e < headEnd && isWsp(s.charCodeAt(e + 2))) {
    e = crlf(s, e + 2)
    if (e < 0 || e > headEnd) e = headEnd
  }
  return e
}

/**
 * Index of the first CRLF at or after `i`, or -1. Searches for the LF alone (a much cheaper
 * search than for the pair); a bare LF is field content, not a line end (§7.3.1).
 */
const crlf = (s: string, i: number): number => {
  let k = s.indexOf("\n", i)
  while (k >= 0 && (k === i || s.charCodeAt(k - 1) !== 13)) k = s.indexOf("\n", k + 1)
  return k < 0 ? -1 : k - 1
}

/** A value that cannot be parsed in place: folded lines joined with one SP (§7.3.1), UTF-8 decoded. */
const rewrittenValue = (s: string, v0: number, v1: number, folded: boolean, hasHigh: boolean): string => {
  let value = s.slice(v0, v1)
  if (folded) value = value.replace(FOLD, " ").trim()
  return hasHigh ? utf8(value) : value
}

/**
 * One field per element of a list header (§7.3.1). Empty elements are dropped, and are an
 * error in a header the receive path validates; a value without a top-level comma is one field.
 */
const addList = (
  st: State,
  headers: Array<Header>,
  def: Headers.HeaderDef<unknown>,
  name: string,
  src: string,
  a: number,
  b: number,
  offset: number,
): void => {
  const comma = src.indexOf(",", a)
  let end = comma < 0 || comma >= b ? b : elementEnd(src, a, b)
  if (end === b) {
    addHeader(st, headers, def, name, src, a, b, offset)
    return
  }
  let start = a
  for (;;) {
    const e0 = skipWs(src, start, end)
    const e1 = skipWsBack(src, e0, end)
    if (e0 < e1) addHeader(st, headers, def, name, src, e0, e1, offset)
    else if (def.eager) st.fail(`empty element in ${name} list`, offset, name)
    if (end === b) return
    start = end + 1
    end = elementEnd(src, start, b)
  }
}

/** Appends the field `src[a, b)`; validates it and caches its typed value when the receive path checks it. */
const addHeader = (
  st: State,
  headers: Array<Header>,
  def: Headers.HeaderDef<unknown>,
  name: string,
  src: string,
  a: number,
  b: number,
  offset: number,
): Header | undefined => {
  const h = new HeaderCache.CachedHeader(name, src.slice(a, b))
  headers.push(h)
  if (!def.eager) return h
  let typed: unknown
  try {
    typed = def.scan(src, a, b)
  } catch (e) {
    if (!isFail(e)) throw e
    st.fail(`${name}: ${e.reason}`, offset, name)
    return undefined
  }
  HeaderCache.set(h, typed)
  if (def === VIA) st.via.push(typed as Via)
  else if (def === CALL_ID) st.callId ??= typed as string
  else if (def === CSEQ) {
    if (st.cseq === undefined) {
      st.cseq = typed as CSeq
      st.cseqOffset = offset
    }
  } else if (def === FROM) st.from ??= typed as NameAddr
  else if (def === TO) st.to ??= typed as NameAddr
  return h
}
