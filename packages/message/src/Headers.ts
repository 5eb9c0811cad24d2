/**
 * Header definitions (RFC 3261 §20, §7.3; RFC 3262, 3327, 3903, 6665, 3515, 4028).
 * A `HeaderDef<A>` names a header, says whether it is a comma-separated list (one `Header`
 * per element after parsing) or single-valued, and parses/formats its typed value.
 */
import { fail, isFail, quote, skipWs } from "./internal/Chars.ts"
import * as G from "./internal/Grammar.ts"
import { equalsFolded } from "./internal/Octets.ts"
import type * as M from "./Model.ts"
import type { AuthValue, ContactValue, EventValue, MediaType, NameAddr, Param } from "./Model.ts"
import { HeaderError } from "./ParseError.ts"
import * as Uri from "./Uri.ts"

export type { RetryAfter as RetryAfterValue, Warning as WarningValue } from "./internal/Grammar.ts"

export interface HeaderDef<A> {
  /** canonical full name (RFC spelling) */
  readonly name: string
  /** compact form (§7.3.3), if any */
  readonly compact: string | undefined
  /** comma-separated list header: split into one `Header` per element */
  readonly list: boolean
  /** at most one value allowed in a message (RFC 4475 §3.3.8 checks) */
  readonly single: boolean
  /** validated (and cached) by the receive-path parser */
  readonly eager: boolean
  /** parses one (already split) value; throws `HeaderError` */
  readonly parse: (value: string) => A
  /** the grammar behind `parse`; throws a lightweight internal signal (used by lazy typed access) */
  readonly grammar: (value: string) => A
  /** `grammar` returning undefined for a malformed value instead of throwing (typed access) */
  readonly attempt: (value: string) => A | undefined
  /** `grammar` on the range `s[a, b)` of a larger string: the receive path parses values in place */
  readonly scan: (s: string, a: number, b: number) => A
  readonly format: (value: A) => string
}

/** A token (or other simple value) with parameters. */
export interface ParamValue {
  readonly value: string
  readonly params: ReadonlyArray<Param>
}

export interface Timestamp {
  readonly value: string
  readonly delay: string | undefined
}

const formatParams = (ps: ReadonlyArray<Param>): string => {
  let out = ""
  for (const [n, v] of ps) out += v === null ? `;${n}` : `;${n}=${v}`
  return out
}

const formatNameAddr = (a: NameAddr): string =>
  (a.displayName !== undefined && a.displayName !== "" ? quote(a.displayName) + " " : "") +
  "<" +
  Uri.format(a.uri) +
  ">" +
  formatParams(a.params)

const TOKEN_PARAMS = new Set(["algorithm", "stale", "nc"])

const formatAuth =
  (credentials: boolean) =>
  (a: AuthValue): string =>
    a.scheme +
    (a.params.length === 0 ? "" : " ") +
    a.params
      .map(([n, v]) => {
        const lower = n.toLowerCase()
        const bare = TOKEN_PARAMS.has(lower) || (credentials && lower === "qop")
        return `${n}=${bare ? v : quote(v)}`
      })
      .join(", ")

interface Options<A> {
  readonly compact?: string
  readonly list?: boolean
  readonly single?: boolean
  readonly eager?: boolean
  readonly format?: (a: A) => string
}

const all: Array<HeaderDef<unknown>> = []

const define = <A>(name: string, scan: G.Scanner<A>, options: Options<A> = {}): HeaderDef<A> => {
  const parse = (value: string): A => scan(value, 0, value.length)
  const def: HeaderDef<A> = {
    name,
    compact: options.compact,
    list: options.list ?? false,
    single: options.single ?? !(options.list ?? false),
    eager: options.eager ?? false,
    grammar: parse,
    attempt: (value) => {
      try {
        return parse(value)
      } catch (e) {
        if (isFail(e)) return undefined
        throw e
      }
    },
    scan,
    parse: (value) => {
      try {
        return parse(value)
      } catch (e) {
        if (isFail(e)) throw new HeaderError({ header: name, reason: e.reason, offset: e.at })
        throw e
      }
    },
    format: options.format ?? ((a) => String(a)),
  }
  all.push(def as HeaderDef<unknown>)
  return def
}

/** A scanner for a grammar written over a whole string (rare headers): slices the range first. */
const whole =
  <A>(parse: (value: string) => A): G.Scanner<A> =>
  (s, a, b) =>
    parse(a === 0 && b === s.length ? s : s.slice(a, b))

const text: G.Scanner<string> = (s, a, b) => s.slice(a, b)
const tokenList = { list: true, single: false } as const
const formatTP = (p: ParamValue): string => p.value + formatParams(p.params)
const formatMedia = (m: MediaType): string => `${m.type}/${m.subtype}${formatParams(m.params)}`
const absoluteNameAddr: G.Scanner<NameAddr> = (s, a, b) => {
  if (s.charCodeAt(skipWs(s, a, b)) !== 60) fail("'<' expected", a)
  return G.nameAddr(s, a, b)
}

// ---- RFC 3261 §20 ----
export const Accept = define("Accept", G.mediaType, { ...tokenList, format: formatMedia })
export const AcceptEncoding = define("Accept-Encoding", G.tokenParams, { ...tokenList, format: formatTP })
export const AcceptLanguage = define("Accept-Language", G.tokenParams, { ...tokenList, format: formatTP })
export const AlertInfo = define("Alert-Info", absoluteNameAddr, { ...tokenList, format: formatNameAddr })
export const Allow = define("Allow", G.token, tokenList)
export const AuthenticationInfo = define("Authentication-Info", G.authParams, {
  format: (ps) =>
    ps.map(([n, v]) => `${n}=${TOKEN_PARAMS.has(n.toLowerCase()) || n === "qop" ? v : quote(v)}`).join(", "),
})
export const Authorization = define("Authorization", G.auth, { single: false, format: formatAuth(true) })
export const CallId = define("Call-ID", G.callId, { compact: "i", eager: true })
export const CallInfo = define("Call-Info", absoluteNameAddr, { ...tokenList, format: formatNameAddr })
export const Contact = define<ContactValue>("Contact", G.contact, {
  compact: "m",
  list: true,
  single: false,
  eager: true,
  format: (c) => (c._tag === "Wildcard" ? "*" : formatNameAddr(c)),
})
export const ContentDisposition = define("Content-Disposition", G.tokenParams, { format: formatTP })
export const ContentEncoding = define("Content-Encoding", G.token, { ...tokenList, compact: "e" })
export const ContentLanguage = define("Content-Language", G.token, tokenList)
export const ContentLength = define("Content-Length", G.uint(2147483647, "Content-Length"), {
  compact: "l",
  eager: true,
})
export const ContentType = define("Content-Type", G.mediaType, { compact: "c", eager: true, format: formatMedia })
export const CSeq = define<M.CSeq>("CSeq", G.cseq, { eager: true, format: (c) => `${c.seq} ${c.method}` })
// biome-ignore lint/suspicious/noShadowRestrictedNames: definitions are named after their header
export const Date = define("Date", whole(G.date), {
  eager: true,
  format: (ms) => new globalThis.Date(ms).toUTCString(),
})
export const ErrorInfo = define("Error-Info", absoluteNameAddr, { ...tokenList, format: formatNameAddr })
export const Expires = define("Expires", G.uint(4294967295, "Expires"), { eager: true })
export const From = define<NameAddr>("From", G.nameAddr, { compact: "f", eager: true, format: formatNameAddr })
export const InReplyTo = define("In-Reply-To", G.callId, tokenList)
export const MaxForwards = define("Max-Forwards", G.uint(255, "Max-Forwards"), { eager: true })
export const MimeVersion = define("MIME-Version", G.token)
export const MinExpires = define("Min-Expires", G.uint(4294967295, "Min-Expires"))
export const Organization = define("Organization", text)
export const Priority = define("Priority", G.token)
export const ProxyAuthenticate = define("Proxy-Authenticate", G.auth, { single: false, format: formatAuth(false) })
export const ProxyAuthorization = define("Proxy-Authorization", G.auth, { single: false, format: formatAuth(true) })
export const ProxyRequire = define("Proxy-Require", G.token, tokenList)
export const RecordRoute = define<NameAddr>("Record-Route", G.nameAddr, {
  list: true,
  single: false,
  format: formatNameAddr,
})
export const ReplyTo = define<NameAddr>("Reply-To", G.nameAddr, { format: formatNameAddr })
export const Require = define("Require", G.token, tokenList)
export const RetryAfter = define("Retry-After", G.retryAfter, {
  format: (r) => `${r.seconds}${r.comment !== undefined ? ` (${r.comment})` : ""}${formatParams(r.params)}`,
})
export const Route = define<NameAddr>("Route", G.nameAddr, {
  list: true,
  single: false,
  format: formatNameAddr,
})
export const Server = define("Server", text)
export const Subject = define("Subject", text, { compact: "s" })
export const Supported = define("Supported", G.token, { ...tokenList, compact: "k" })
export const Timestamp = define<Timestamp>(
  "Timestamp",
  whole((v) => {
    const m = /^\s*(\d+(?:\.\d*)?)(?:[ \t]+(\d+(?:\.\d*)?))?\s*$/.exec(v)
    if (m === null) return fail("Timestamp: digits expected", 0)
    return { value: m[1]!, delay: m[2] }
  }),
  { format: (t) => (t.delay === undefined ? t.value : `${t.value} ${t.delay}`) },
)
export const To = define<NameAddr>("To", G.nameAddr, { compact: "t", eager: true, format: formatNameAddr })
export const Unsupported = define("Unsupported", G.token, tokenList)
export const UserAgent = define("User-Agent", text)
export const Via = define<M.Via>("Via", G.via, {
  compact: "v",
  list: true,
  single: false,
  eager: true,
  format: (v) =>
    `${v.protocol}/${v.version}/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ""}${formatParams(v.params)}`,
})
export const Warning = define("Warning", whole(G.warning), {
  ...tokenList,
  format: (w) => `${w.code} ${w.agent} ${quote(w.text)}`,
})
export const WWWAuthenticate = define("WWW-Authenticate", G.auth, { single: false, format: formatAuth(false) })

// ---- extensions ----
/** RFC 6665 §8.2.1 */
export const Event = define<EventValue>("Event", G.event, {
  compact: "o",
  format: (e) => e.package + formatParams(e.params),
})
/** RFC 6665 §8.2.2 */
export const AllowEvents = define("Allow-Events", G.token, { ...tokenList, compact: "u" })
/** RFC 6665 §8.2.3 */
export const SubscriptionState = define<M.SubscriptionState>("Subscription-State", G.subscriptionState, {
  format: (s) => s.state + formatParams(s.params),
})
/** RFC 3262 §7.1 */
export const RSeq = define("RSeq", G.uint(4294967295, "RSeq"))
/** RFC 3262 §7.2 */
export const RAck = define<M.RAck>("RAck", whole(G.rack), { format: (r) => `${r.rseq} ${r.cseq} ${r.method}` })
/** RFC 3327 */
export const Path = define<NameAddr>("Path", G.nameAddr, { list: true, single: false, format: formatNameAddr })
/** RFC 3608 */
export const ServiceRoute = define<NameAddr>("Service-Route", G.nameAddr, {
  list: true,
  single: false,
  format: formatNameAddr,
})
/** RFC 3903 §11.3.1 */
export const SipETag = define("SIP-ETag", G.token)
/** RFC 3903 §11.3.2 */
export const SipIfMatch = define("SIP-If-Match", G.token)
/** RFC 3515 §2.1 */
export const ReferTo = define<NameAddr>("Refer-To", G.nameAddr, { compact: "r", format: formatNameAddr })
/** RFC 3892 */
export const ReferredBy = define<NameAddr>("Referred-By", G.nameAddr, { compact: "b", format: formatNameAddr })
/** RFC 4028 §4 */
export const SessionExpires = define("Session-Expires", G.tokenParams, { compact: "x", format: formatTP })
/** RFC 4028 §5 */
export const MinSE = define("Min-SE", G.tokenParams, { format: formatTP })
/** RFC 4474 (compact y) */
export const Identity = define("Identity", text, { compact: "y" })
/** RFC 3841 */
export const AcceptContact = define("Accept-Contact", text, { compact: "a", list: true, single: false })
export const RejectContact = define("Reject-Contact", text, { compact: "j", list: true, single: false })
export const RequestDisposition = define("Request-Disposition", text, { compact: "d", list: true, single: false })

/** Every definition above. */
export const definitions: ReadonlyArray<HeaderDef<unknown>> = all

// ---- name registry ----

export interface NameInfo {
  readonly name: string
  readonly def: HeaderDef<unknown> | undefined
}

const byExact = new Map<string, NameInfo>()
const byLower = new Map<string, NameInfo>()
for (const def of all) {
  const info: NameInfo = { name: def.name, def }
  byExact.set(def.name, info)
  byLower.set(def.name.toLowerCase(), info)
  if (def.compact !== undefined) {
    byExact.set(def.compact, info)
    byExact.set(def.compact.toUpperCase(), info)
    byLower.set(def.compact, info)
  }
}

/**
 * Receive-path name table: candidates bucketed by length and first letter, so a lookup is
 * one array read and a case-folding compare on the octets, with no string made for the name.
 */
interface Candidate {
  readonly lower: Uint8Array
  readonly info: NameInfo
}
const shape = (length: number, first: number): number => length * 32 + (first & 31)
const byShape: Array<Array<Candidate> | undefined> = []
for (const [lower, info] of byLower)
  (byShape[shape(lower.length, lower.charCodeAt(0))] ??= []).push({ lower: Buffer.from(lower, "latin1"), info })

/**
 * `lookup` for the name in the octets `u[a, b)` (token characters only). `x | 32` folds ASCII
 * letters to lower case and leaves the digits and `-` of header names as they are (§7.3.1:
 * names are case-insensitive).
 */
export const lookupAt = (u: Uint8Array, a: number, b: number): NameInfo | undefined => {
  const list = byShape[shape(b - a, u[a]!)]
  if (list === undefined) return undefined
  for (let k = 0; k < list.length; k++) if (equalsFolded(u, a, list[k]!.lower)) return list[k]!.info
  return undefined
}

/** Resolves a header name as received (any case, compact or full) to its definition. */
export const lookup = (name: string): NameInfo | undefined => byExact.get(name) ?? byLower.get(name.toLowerCase())

/** Canonical spelling of a header name: the full RFC name for known headers, as given otherwise. */
export const canonicalName = (name: string): string => lookup(name)?.name ?? name
