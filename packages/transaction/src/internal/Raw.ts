/**
 * Just enough reading of raw header values for transaction matching (RFC 3261 §17.1.3,
 * §17.2.3) without a full parse: the hot path touches only the top Via, CSeq, Call-ID and tags.
 */
import type { SipMessage, SipRequest } from "@sipfx/message"

// the model's Header/Uri interfaces share their names with namespaces of @sipfx/message
type Header = SipRequest["headers"][number]
type Uri = SipRequest["uri"]

/** value of the first header with this canonical name */
export const first = (m: SipMessage, name: string): string | undefined => {
  const headers = m.headers
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!
    if (h.name === name) return h.value
  }
  return undefined
}

export const all = (m: SipMessage, name: string): Array<Header> => m.headers.filter((h) => h.name === name)

/** the first element of a comma-separated header value, commas inside quotes or <> ignored */
export const firstElement = (value: string): string => {
  let quoted = false
  let angle = false
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c === 34 /* " */) quoted = !quoted
    else if (quoted) {
      if (c === 92 /* \ */) i++
    } else if (c === 60 /* < */) angle = true
    else if (c === 62 /* > */) angle = false
    else if (c === 44 /* , */ && !angle) return value.slice(0, i).trim()
  }
  return value
}

export interface RawVia {
  readonly raw: string
  readonly transport: string
  /** host[:port] as written */
  readonly sentBy: string
  readonly host: string
  readonly port: number | undefined
  readonly branch: string | undefined
  readonly received: string | undefined
  /** `null` for a bare `;rport`, the number when filled in, undefined when absent (RFC 3581) */
  readonly rport: number | null | undefined
  readonly maddr: string | undefined
}

/** Parses `SIP/2.0/UDP host:port;params` (§20.42); undefined when malformed. */
export const parseVia = (raw: string): RawVia | undefined => {
  const semi = raw.indexOf(";")
  const head = (semi < 0 ? raw : raw.slice(0, semi)).trim()
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9.!%*_+`'~-]+)\s+(\S+)$/i.exec(head)
  if (m === null) return undefined
  const transport = m[1]!.toUpperCase()
  const sentBy = m[2]!
  let host = sentBy
  let port: number | undefined
  const close = sentBy.lastIndexOf("]")
  const colon = sentBy.lastIndexOf(":")
  if (colon > close && (close >= 0 || sentBy.indexOf(":") === colon)) {
    host = sentBy.slice(0, colon)
    const p = Number(sentBy.slice(colon + 1))
    if (!Number.isInteger(p) || p < 0 || p > 65535) return undefined
    port = p
  }
  let branch: string | undefined
  let received: string | undefined
  let rport: number | null | undefined
  let maddr: string | undefined
  if (semi >= 0) {
    for (const part of raw.slice(semi + 1).split(";")) {
      const eq = part.indexOf("=")
      const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase()
      const value = eq < 0 ? undefined : part.slice(eq + 1).trim()
      if (name === "branch") branch = value
      else if (name === "received") received = value
      else if (name === "maddr") maddr = value
      else if (name === "rport") rport = value === undefined || value === "" ? null : Number(value)
    }
  }
  return { raw, transport, sentBy: sentBy.toLowerCase(), host, port, branch, received, rport, maddr }
}

const viaCache = new WeakMap<SipMessage, RawVia | null>()

/** top Via of a message, parsed once per message object */
export const topVia = (m: SipMessage): RawVia | undefined => {
  let via = viaCache.get(m)
  if (via === undefined) {
    const value = first(m, "Via")
    via = (value === undefined ? undefined : parseVia(firstElement(value))) ?? null
    viaCache.set(m, via)
  }
  return via ?? undefined
}

export interface RawCSeq {
  readonly seq: number
  readonly method: string
}

export const cseq = (m: SipMessage): RawCSeq | undefined => {
  const value = first(m, "CSeq")
  if (value === undefined) return undefined
  const match = /^\s*(\d{1,10})\s+(\S+)\s*$/.exec(value)
  if (match === null) return undefined
  return { seq: Number(match[1]), method: match[2]! }
}

/** the `tag` parameter of a From/To value (outside the <> of a name-addr) */
export const tag = (value: string | undefined): string | undefined => {
  if (value === undefined) return undefined
  const close = value.lastIndexOf(">")
  const params = close >= 0 ? value.slice(close + 1) : value.slice(Math.max(0, value.indexOf(";")))
  const m = /;\s*tag\s*=\s*([^;\s,]+)/i.exec(params)
  return m === null ? undefined : m[1]
}

export const uriKey = (uri: Uri): string => {
  switch (uri._tag) {
    case "SipUri":
      return `${uri.scheme}:${uri.user ?? ""}@${uri.host.toLowerCase()}:${uri.port ?? ""}`
    case "TelUri":
      return `tel:${uri.number}`
    case "AbsoluteUri":
      return `${uri.scheme}:${uri.value}`
  }
}

/** RFC 3261 §17.2.3: branches with the magic cookie are unique per transaction */
export const MAGIC_COOKIE = "z9hG4bK"

/**
 * Server transaction key (§17.2.3). `method` overrides the request's own (ACK and CANCEL
 * look up their INVITE with "INVITE").
 */
export const serverKey = (request: SipRequest, method: string): string | undefined => {
  const via = topVia(request)
  if (via === undefined) return undefined
  const branch = via.branch
  if (branch?.startsWith(MAGIC_COOKIE)) return `${branch}\u0000${via.sentBy}\u0000${method}`
  // RFC 2543 fallback (§17.2.3): Request-URI, From tag, Call-ID, CSeq number, top Via
  const c = cseq(request)
  return `2543\u0000${uriKey(request.uri)}\u0000${tag(first(request, "From")) ?? ""}\u0000${first(request, "Call-ID") ?? ""}\u0000${c?.seq ?? ""}\u0000${via.raw.replace(/\s+/g, "")}\u0000${method}`
}

/** Client transaction key (§17.1.3): top Via branch and CSeq method. */
export const clientKey = (branch: string, method: string): string => `${branch}\u0000${method}`
