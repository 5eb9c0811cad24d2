/**
 * Messages the transaction layer itself builds: the ACK for a non-2xx final response
 * (§17.1.1.3), 100 Trying (§17.2.1, §8.2.6.1) and CANCEL (§9.1) for the TU's convenience.
 */
import type { SipRequest, SipResponse } from "@sipfx/message"
import * as Raw from "./internal/Raw.ts"

type Header = SipRequest["headers"][number]

const empty = new Uint8Array(0)

const topViaOnly = (request: SipRequest): Array<Header> => {
  const value = Raw.first(request, "Via")
  return value === undefined ? [] : [{ name: "Via", value: Raw.firstElement(value) }]
}

/** RFC 3261 §17.1.1.3: ACK for a 300–699 response, built by the INVITE client transaction. */
export const ackFor = (invite: SipRequest, response: SipResponse): SipRequest => {
  const headers: Array<Header> = topViaOnly(invite)
  for (const h of invite.headers) if (h.name === "Route") headers.push(h)
  headers.push({ name: "Max-Forwards", value: "70" })
  for (const h of invite.headers) if (h.name === "From" || h.name === "Call-ID") headers.push(h)
  const to = Raw.first(response, "To")
  if (to !== undefined) headers.push({ name: "To", value: to })
  const cseq = Raw.cseq(invite)
  headers.push({ name: "CSeq", value: `${cseq?.seq ?? 1} ACK` })
  return { _tag: "SipRequest", method: "ACK", uri: invite.uri, headers, body: empty }
}

/** RFC 3261 §17.2.1 / §8.2.6.1: a 100 Trying for an INVITE (no To tag, Timestamp copied). */
export const tryingFor = (request: SipRequest): SipResponse => {
  const headers = request.headers.filter(
    (h) =>
      h.name === "Via" ||
      h.name === "From" ||
      h.name === "To" ||
      h.name === "Call-ID" ||
      h.name === "CSeq" ||
      h.name === "Timestamp",
  )
  return { _tag: "SipResponse", status: 100, reason: "Trying", headers, body: empty }
}

/** RFC 3261 §9.1: CANCEL for a request: same Request-URI, top Via, From, To, Call-ID, CSeq number, Route. */
export const cancelFor = (request: SipRequest): SipRequest => {
  const headers: Array<Header> = topViaOnly(request)
  for (const h of request.headers) if (h.name === "Route") headers.push(h)
  headers.push({ name: "Max-Forwards", value: "70" })
  for (const h of request.headers) if (h.name === "From" || h.name === "To" || h.name === "Call-ID") headers.push(h)
  const cseq = Raw.cseq(request)
  headers.push({ name: "CSeq", value: `${cseq?.seq ?? 1} CANCEL` })
  return { _tag: "SipRequest", method: "CANCEL", uri: request.uri, headers, body: empty }
}

/** RFC 3261 §8.2.2.2: what a UAS compares to detect a merged request (From tag, Call-ID, CSeq). */
export const mergeKey = (request: SipRequest): string => {
  const cseq = Raw.cseq(request)
  return `${Raw.tag(Raw.first(request, "From")) ?? ""}\u0000${Raw.first(request, "Call-ID") ?? ""}\u0000${cseq?.seq ?? ""}\u0000${cseq?.method ?? ""}`
}
