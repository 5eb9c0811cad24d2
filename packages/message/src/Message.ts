/** Accessors, builders and message-level validation (RFC 3261 §8.1.1, §8.2, §8.2.6). */
import { Data, Effect } from "effect"
import * as HeaderCache from "./HeaderCache.ts"
import type { HeaderDef } from "./Headers.ts"
import * as Headers from "./Headers.ts"
import type { CSeq, Header, NameAddr, Param, SipMessage, SipRequest, SipResponse, Uri, Via } from "./Model.ts"
import type { HeaderError } from "./ParseError.ts"

// ---- typed access ----

// No try/catch here: `attempt` reports a malformed value as undefined (not cached, so a
// later access answers the same). Typed values are never undefined.
const typed = <A>(h: Header, def: HeaderDef<A>): A | undefined => {
  const cached = HeaderCache.get(h)
  if (cached !== undefined) return cached as A
  const v = def.attempt(h.value)
  if (v !== undefined) HeaderCache.set(h, v)
  return v
}

/** First value of a header, parsed (and cached); undefined when absent or malformed. */
export const first = <A>(m: SipMessage, def: HeaderDef<A>): A | undefined => {
  const hs = m.headers
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!
    if (h.name === def.name) return typed(h, def)
  }
  return undefined
}

/** All values of a header, in order; malformed values are skipped. */
export const all = <A>(m: SipMessage, def: HeaderDef<A>): ReadonlyArray<A> => {
  const out: Array<A> = []
  for (const h of m.headers) {
    if (h.name !== def.name) continue
    const v = typed(h, def)
    if (v !== undefined) out.push(v)
  }
  return out
}

/** First value of a header, failing with `HeaderError` when malformed or `MissingHeader` when absent. */
export const get = <A>(m: SipMessage, def: HeaderDef<A>): Effect.Effect<A, HeaderError | MissingHeader> =>
  Effect.suspend((): Effect.Effect<A, HeaderError | MissingHeader> => {
    const h = m.headers.find((x) => x.name === def.name)
    if (h === undefined) return Effect.fail(new MissingHeader({ header: def.name }))
    const cached = HeaderCache.get(h)
    if (cached !== undefined) return Effect.succeed(cached as A)
    return Effect.try({ try: () => def.parse(h.value), catch: (e) => e as HeaderError })
  })

export class MissingHeader extends Data.TaggedError("MissingHeader")<{ readonly header: string }> {}

/** Raw value of the first header with this name (any case or compact form). */
export const header = (m: SipMessage, name: string): string | undefined => {
  const canon = Headers.canonicalName(name)
  for (const h of m.headers) if (h.name === canon) return h.value
  return undefined
}

/** Raw values of every header with this name. */
export const headerValues = (m: SipMessage, name: string): ReadonlyArray<string> => {
  const canon = Headers.canonicalName(name)
  return m.headers.filter((h) => h.name === canon).map((h) => h.value)
}

// ---- editing (messages are immutable: each returns a new message) ----

const withHeaders = <M extends SipMessage>(m: M, headers: ReadonlyArray<Header>): M => ({ ...m, headers })

/** Replaces every field with the header's name by `h` (at the first one's place, else appended). */
export const setHeader = <M extends SipMessage>(m: M, h: Header): M => {
  const out: Array<Header> = []
  let placed = false
  for (const x of m.headers) {
    if (x.name === h.name) {
      if (!placed) out.push(h)
      placed = true
    } else out.push(x)
  }
  if (!placed) out.push(h)
  return withHeaders(m, out)
}

/** Puts `h` first in the header list (e.g. a proxy's Via, §16.6 step 8). */
export const prependHeader = <M extends SipMessage>(m: M, h: Header): M => withHeaders(m, [h, ...m.headers])

/** Appends `h` after the other fields. */
export const appendHeader = <M extends SipMessage>(m: M, h: Header): M => withHeaders(m, [...m.headers, h])

/** Removes the first field of that header (e.g. the top Via of a response, §18.1.2). */
export const removeFirst = <M extends SipMessage, A>(m: M, def: HeaderDef<A> | string): M => {
  const name = typeof def === "string" ? Headers.canonicalName(def) : def.name
  const i = m.headers.findIndex((h) => h.name === name)
  return i < 0 ? m : withHeaders(m, [...m.headers.slice(0, i), ...m.headers.slice(i + 1)])
}

/** Removes every field of that header. */
export const removeAll = <M extends SipMessage, A>(m: M, def: HeaderDef<A> | string): M => {
  const name = typeof def === "string" ? Headers.canonicalName(def) : def.name
  return withHeaders(
    m,
    m.headers.filter((h) => h.name !== name),
  )
}

export const withBody = <M extends SipMessage>(m: M, body: Uint8Array, contentType?: string): M => {
  const next = { ...m, body }
  return contentType === undefined ? next : setHeader(next, HeaderCache.make("Content-Type", contentType))
}

// ---- hot-path shortcuts ----

const paramOf = (ps: ReadonlyArray<Param>, name: string): string | null | undefined => {
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!
    if (p[0] === name || p[0].toLowerCase() === name) return p[1]
  }
  return undefined
}

export const topVia = (m: SipMessage): Via | undefined => first(m, Headers.Via)
export const branch = (m: SipMessage): string | undefined => {
  const v = topVia(m)
  const b = v === undefined ? undefined : paramOf(v.params, "branch")
  return b ?? undefined
}
export const callId = (m: SipMessage): string | undefined => first(m, Headers.CallId)
export const cseq = (m: SipMessage): CSeq | undefined => first(m, Headers.CSeq)
export const from = (m: SipMessage): NameAddr | undefined => first(m, Headers.From)
export const to = (m: SipMessage): NameAddr | undefined => first(m, Headers.To)
export const fromTag = (m: SipMessage): string | undefined => {
  const f = from(m)
  return (f && paramOf(f.params, "tag")) ?? undefined
}
export const toTag = (m: SipMessage): string | undefined => {
  const t = to(m)
  return (t && paramOf(t.params, "tag")) ?? undefined
}
/** The request method, or the CSeq method of a response. */
export const method = (m: SipMessage): string | undefined => (m._tag === "SipRequest" ? m.method : cseq(m)?.method)
export const maxForwards = (m: SipMessage): number | undefined => first(m, Headers.MaxForwards)
export const contentType = (m: SipMessage): string | undefined => header(m, "Content-Type")

/** Header-parameter value (names case-insensitive); `null` for a flag, undefined when absent. */
export const param = (ps: ReadonlyArray<Param>, name: string): string | null | undefined =>
  paramOf(ps, name.toLowerCase())

// ---- builders ----

const EMPTY = new Uint8Array(0)

export const request = (parts: {
  readonly method: string
  readonly uri: Uri
  readonly headers: ReadonlyArray<Header>
  readonly body?: Uint8Array
}): SipRequest => ({
  _tag: "SipRequest",
  method: parts.method,
  uri: parts.uri,
  headers: parts.headers,
  body: parts.body ?? EMPTY,
})

/** Reason phrases of RFC 3261 §21 and common extensions. */
export const reasonPhrase = (status: number): string => REASONS[status] ?? DEFAULT_CLASS[Math.floor(status / 100)] ?? ""

const REASONS: Record<number, string> = {
  100: "Trying",
  180: "Ringing",
  181: "Call Is Being Forwarded",
  182: "Queued",
  183: "Session Progress",
  200: "OK",
  202: "Accepted",
  204: "No Notification",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Moved Temporarily",
  305: "Use Proxy",
  380: "Alternative Service",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  410: "Gone",
  412: "Conditional Request Failed",
  413: "Request Entity Too Large",
  414: "Request-URI Too Long",
  415: "Unsupported Media Type",
  416: "Unsupported URI Scheme",
  420: "Bad Extension",
  421: "Extension Required",
  423: "Interval Too Brief",
  480: "Temporarily Unavailable",
  481: "Call/Transaction Does Not Exist",
  482: "Loop Detected",
  483: "Too Many Hops",
  484: "Address Incomplete",
  485: "Ambiguous",
  486: "Busy Here",
  487: "Request Terminated",
  488: "Not Acceptable Here",
  489: "Bad Event",
  491: "Request Pending",
  493: "Undecipherable",
  500: "Server Internal Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Server Time-out",
  505: "Version Not Supported",
  513: "Message Too Large",
  600: "Busy Everywhere",
  603: "Decline",
  604: "Does Not Exist Anywhere",
  606: "Not Acceptable",
}
const DEFAULT_CLASS: Record<number, string> = {
  1: "Trying",
  2: "OK",
  3: "Redirect",
  4: "Client Error",
  5: "Server Error",
  6: "Global Failure",
}

const COPIED = new Set(["Via", "From", "Call-ID", "CSeq"])

/**
 * A response to `req` (§8.2.6.2): Via list, From, Call-ID and CSeq copied; To copied and,
 * when `toTag` is given and the To has no tag, tagged. `headers` are appended.
 */
export const response = (
  req: SipRequest,
  status: number,
  reason?: string,
  extra?: { readonly toTag?: string; readonly headers?: ReadonlyArray<Header>; readonly body?: Uint8Array },
): SipResponse => {
  const headers: Array<Header> = []
  for (const h of req.headers) {
    if (COPIED.has(h.name)) headers.push(h)
    else if (h.name === "To") {
      if (extra?.toTag !== undefined && status !== 100) {
        const t = typed(h, Headers.To)
        if (t !== undefined && paramOf(t.params, "tag") === undefined) {
          // the tagged value is known: cache it, so the transaction layer's toTag() parses nothing
          const tagged: NameAddr = { ...t, params: [...t.params, ["tag", extra.toTag]] }
          headers.push(HeaderCache.make("To", `${h.value};tag=${extra.toTag}`, tagged))
        } else headers.push(h)
      } else headers.push(h)
    } else if (status === 100 && h.name === "Timestamp") headers.push(h) // §8.2.6.1
  }
  if (extra?.headers) headers.push(...extra.headers)
  return { _tag: "SipResponse", status, reason: reason ?? reasonPhrase(status), headers, body: extra?.body ?? EMPTY }
}

// ---- validation (§8.2, §16.3) ----

export class ValidationError extends Data.TaggedError("ValidationError")<{
  readonly reason: string
  readonly header: string | undefined
  /** the response a UAS/proxy answers with (400) */
  readonly status: 400
}> {}

const MANDATORY = [Headers.To, Headers.From, Headers.CSeq, Headers.CallId, Headers.Via] as const

/**
 * Message-level checks left after parsing: mandatory fields present (§8.1.1, RFC 4475 §3.3.1),
 * single-valued fields not repeated (RFC 4475 §3.3.8), CSeq method matching the request method.
 * Max-Forwards is not required, for RFC 2543 peers (RFC 4475 §3.4.1; a proxy adds it, §16.6).
 */
export const check = (m: SipMessage): ValidationError | undefined => {
  // runs on every request a proxy or UAS takes: no Map per message; single-valued fields are
  // few, so a repeat is looked for among the earlier fields only for them
  const hs = m.headers
  for (let i = 0; i < hs.length; i++) {
    const name = hs[i]!.name
    if (Headers.lookup(name)?.def?.single !== true) continue
    for (let j = 0; j < i; j++)
      if (hs[j]!.name === name)
        return new ValidationError({ reason: `multiple ${name} values`, header: name, status: 400 })
  }
  for (const def of MANDATORY) {
    let present = false
    for (let i = 0; i < hs.length && !present; i++) present = hs[i]!.name === def.name
    if (!present) return new ValidationError({ reason: `missing ${def.name}`, header: def.name, status: 400 })
  }
  for (const def of MANDATORY)
    if (first(m, def as HeaderDef<unknown>) === undefined)
      return new ValidationError({ reason: `malformed ${def.name}`, header: def.name, status: 400 })
  if (m._tag === "SipRequest" && cseq(m)?.method !== m.method)
    return new ValidationError({ reason: "CSeq method does not match the request method", header: "CSeq", status: 400 })
  return undefined
}

export const validate = (m: SipMessage): Effect.Effect<SipMessage, ValidationError> =>
  Effect.suspend(() => {
    const e = check(m)
    return e === undefined ? Effect.succeed(m) : Effect.fail(e)
  })
