/**
 * The few message operations the transport needs, in one place: parsing, serialising,
 * stream framing, and rewriting the top Via (RFC 3261 §18.1.1, §18.2.1).
 */
import {
  Framer,
  Header,
  Headers,
  Message,
  type NameAddr,
  type ParseError,
  Parser,
  Serializer,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  type Via,
} from "@sipfx/message"

export { Framer, Parser }

export const serialize = (m: SipMessage): Uint8Array => Serializer.serialize(m)

export const topVia = (m: SipMessage): Via | undefined => Message.topVia(m)

export const viaParam = (via: Via, name: string): string | null | undefined => Message.param(via.params, name)

/** Replaces the top Via (the parser keeps one field per via-parm). */
export const replaceTopVia = <M extends SipMessage>(m: M, via: Via): M => {
  const headers = m.headers
  for (let i = 0; i < headers.length; i++) {
    if (headers[i]!.name !== "Via") continue
    const next = headers.slice()
    next[i] = Header.make(Headers.Via, via)
    return { ...m, headers: next }
  }
  return m
}

/** Prepends a Via field (a request leaving us, §8.1.1.7). */
export const prependVia = <M extends SipMessage>(m: M, via: Via): M =>
  Message.prependHeader(m, Header.make(Headers.Via, via))

/** §8.2.6 response to a request (copies Via, From, To, Call-ID, CSeq). */
export const responseTo = (request: SipRequest, status: number, reason: string): SipResponse =>
  Message.response(request, status, reason)

const hasTag = (value: NameAddr) => Message.param(value.params, "tag") !== undefined

let tagCounter = 0
const newTag = () => Math.random().toString(36).slice(2, 10) + (tagCounter++ & 0xffff).toString(36)

/**
 * RFC 3261 §8.2 / §21.4.1: the stateless 400 (or 505, §8.2.2.1 / §21.5.6) for a request
 * that failed to parse, built from what survived. Undefined when nothing can be
 * answered: a response, an ACK (§17.2.1), or no Via/Call-ID/CSeq/From/To to copy.
 */
export const badRequestFor = (error: ParseError): SipResponse | undefined => {
  const p = error.partial
  if (p.kind !== "request" || p.method === "ACK") return undefined
  if (p.via.length === 0 || p.callId === undefined || p.cseq === undefined || p.from === undefined) return undefined
  if (p.to === undefined) return undefined
  const to: NameAddr = hasTag(p.to) ? p.to : { ...p.to, params: [...p.to.params, ["tag", newTag()]] }
  const headers = p.via.map((via) => Header.make(Headers.Via, via))
  headers.push(
    Header.make(Headers.From, p.from),
    Header.make(Headers.To, to),
    Header.make(Headers.CallId, p.callId),
    Header.make(Headers.CSeq, p.cseq),
  )
  const detail = error.reason.replace(/[^\x20-\x7e]+/g, " ").slice(0, 120)
  const reason = error.status === 505 ? "Version Not Supported" : `Bad Request (${detail})`
  return { _tag: "SipResponse", status: error.status, reason, headers, body: new Uint8Array(0) }
}
