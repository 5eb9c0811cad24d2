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
export const parseVia = (raw: string): RawVia | undefined => fastVia(raw) ?? slowVia(raw)

/** the common shape `SIP/2.0/XXX host[:port];lowercase-params` without regular expressions */
const fastVia = (raw: string): RawVia | undefined => {
  if (!raw.startsWith("SIP/2.0/")) return undefined
  const space = raw.indexOf(" ", 8)
  if (space < 0) return undefined
  const semi = raw.indexOf(";", space)
  const sentBy = semi < 0 ? raw.slice(space + 1) : raw.slice(space + 1, semi)
  if (sentBy.length === 0 || sentBy.indexOf(" ") >= 0 || sentBy.indexOf("[") >= 0) return undefined
  const colon = sentBy.indexOf(":")
  let host = sentBy
  let port: number | undefined
  if (colon >= 0) {
    host = sentBy.slice(0, colon)
    port = 0
    for (let i = colon + 1; i < sentBy.length; i++) {
      const c = sentBy.charCodeAt(i)
      if (c < 48 || c > 57) return undefined
      port = port * 10 + (c - 48)
    }
    if (colon === sentBy.length - 1 || port > 65535) return undefined
  }
  const params = semi < 0 ? "" : raw.slice(semi)
  // whitespace, quotes or upper-case parameter names: take the careful path
  if (/[\s"]|;[^=;]*[A-Z]/.test(params)) return undefined
  const param = (name: string): string | undefined => {
    const i = params.indexOf(`;${name}=`)
    if (i < 0) return undefined
    const from = i + name.length + 2
    const end = params.indexOf(";", from)
    return end < 0 ? params.slice(from) : params.slice(from, end)
  }
  let rport: number | null | undefined
  const r = params.indexOf(";rport")
  if (r >= 0) {
    const after = params.charCodeAt(r + 6)
    if (Number.isNaN(after) || after === 59) rport = null
    else if (after === 61) rport = Number(param("rport"))
  }
  return {
    raw,
    transport: raw.slice(8, space),
    sentBy: sentBy.toLowerCase(),
    host,
    port,
    branch: param("branch"),
    received: param("received"),
    rport,
    maddr: param("maddr"),
  }
}

const slowVia = (raw: string): RawVia | undefined => {
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

/** top Via of a message, fully parsed (new server transactions only: §18.2.2 needs rport/maddr) */
export const topVia = (m: SipMessage): RawVia | undefined => {
  const value = topViaValue(m)
  return value === undefined ? undefined : parseVia(value)
}

/** raw text of the first Via element */
export const topViaValue = (m: SipMessage): string | undefined => {
  const value = first(m, "Via")
  if (value === undefined) return undefined
  return value.indexOf(",") < 0 ? value : firstElement(value)
}

const isDelimiter = (c: number): boolean => c === 59 || c === 44 || c === 32 || c === 9 || c === 13 || c === 10

/** the branch parameter of a Via element, without parsing the rest (hot path) */
export const branchOf = (via: string): string | undefined => {
  let i = via.indexOf(";branch=")
  if (i < 0) return parseVia(via)?.branch
  i += 8
  let j = i
  while (j < via.length && !isDelimiter(via.charCodeAt(j))) j++
  return via.slice(i, j)
}

/** the sent-by of a Via element, lower-cased (hot path; falls back to the full parse) */
export const sentByOf = (via: string): string | undefined => {
  const semi = via.indexOf(";")
  const end = semi < 0 ? via.length : semi
  const space = via.indexOf(" ")
  if (space > 0 && space < end && via.startsWith("SIP/2.0/")) {
    const sentBy = via.slice(space + 1, end)
    if (sentBy.indexOf(" ") < 0 && sentBy.indexOf("\t") < 0) return sentBy.toLowerCase()
  }
  return parseVia(via)?.sentBy
}

export interface RawCSeq {
  readonly seq: number
  readonly method: string
}

export const cseq = (m: SipMessage): RawCSeq | undefined => {
  const value = first(m, "CSeq")
  if (value === undefined) return undefined
  let i = 0
  const n = value.length
  while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++
  let seq = 0
  const digits = i
  for (let c = value.charCodeAt(i); i < n && c >= 48 && c <= 57; c = value.charCodeAt(++i)) seq = seq * 10 + (c - 48)
  if (i === digits || i - digits > 10) return undefined
  const gap = i
  while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++
  if (i === gap || i === n) return undefined
  let end = n
  while (end > i && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--
  const method = value.slice(i, end)
  if (/\s/.test(method)) return undefined
  return { seq, method }
}

/** the CSeq method alone (response matching, §17.1.3): no object allocated */
export const cseqMethod = (m: SipMessage): string | undefined => {
  const value = first(m, "CSeq")
  if (value === undefined) return undefined
  const space = value.lastIndexOf(" ")
  const method = space < 0 ? "" : value.slice(space + 1)
  if (method.length === 0 || method.indexOf("\t") >= 0) return cseq(m)?.method
  return method
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
 * RFC 2543 fallback key (§17.2.3) for requests whose branch lacks the magic cookie: Request-URI,
 * From tag, Call-ID, CSeq number and top Via. `method` is "INVITE" for an ACK or CANCEL lookup.
 */
export const rfc2543Key = (request: SipRequest, via: string, method: string): string => {
  const c = cseq(request)
  return `2543\u0000${uriKey(request.uri)}\u0000${tag(first(request, "From")) ?? ""}\u0000${first(request, "Call-ID") ?? ""}\u0000${c?.seq ?? ""}\u0000${via.replace(/\s+/g, "")}\u0000${method}`
}
