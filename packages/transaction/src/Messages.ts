/**
 * Messages the transaction layer itself builds: the ACK for a non-2xx final response
 * (§17.1.1.3), 100 Trying (§17.2.1, §8.2.6.1) and CANCEL (§9.1) for the TU's convenience.
 */
import { Header, Headers, Message, type SipRequest, type SipResponse } from "@sipfx/message"

const empty = new Uint8Array(0)
const maxForwards = Header.make(Headers.MaxForwards, 70)

// a message holds one Via element per field (the parser splits lists), so the first field is the top Via
const topViaOnly = (request: SipRequest): Array<Header.Header> => {
  const via = request.headers.find((h) => h.name === "Via")
  return via === undefined ? [] : [via]
}

/** RFC 3261 §17.1.1.3: ACK for a 300–699 response, built by the INVITE client transaction. */
export const ackFor = (invite: SipRequest, response: SipResponse): SipRequest => {
  const headers = topViaOnly(invite)
  for (const h of invite.headers) if (h.name === "Route") headers.push(h)
  headers.push(maxForwards)
  for (const h of invite.headers) if (h.name === "From" || h.name === "Call-ID") headers.push(h)
  const to = response.headers.find((h) => h.name === "To")
  if (to !== undefined) headers.push(to)
  headers.push(Header.make(Headers.CSeq, { seq: Message.cseq(invite)?.seq ?? 1, method: "ACK" }))
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
  const headers = topViaOnly(request)
  for (const h of request.headers) if (h.name === "Route") headers.push(h)
  headers.push(maxForwards)
  for (const h of request.headers) if (h.name === "From" || h.name === "To" || h.name === "Call-ID") headers.push(h)
  headers.push(Header.make(Headers.CSeq, { seq: Message.cseq(request)?.seq ?? 1, method: "CANCEL" }))
  return { _tag: "SipRequest", method: "CANCEL", uri: request.uri, headers, body: empty }
}

/** RFC 3261 §8.2.2.2: what a UAS compares to detect a merged request (From tag, Call-ID, CSeq). */
export const mergeKey = (request: SipRequest): string => {
  const cseq = Message.cseq(request)
  return `${Message.fromTag(request) ?? ""}\u0000${Message.callId(request) ?? ""}\u0000${cseq?.seq ?? ""}\u0000${cseq?.method ?? ""}`
}
