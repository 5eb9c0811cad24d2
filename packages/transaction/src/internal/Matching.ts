/**
 * Transaction matching keys (RFC 3261 §17.1.3, §17.2.3) over the typed header values of
 * `@sipfx/message`, which the receive-path parser has already validated and cached.
 */
import { Headers, Message, type SipRequest, Uri, type Via } from "@sipfx/message"

/** RFC 3261 §17.2.3: branches with the magic cookie are unique per transaction */
export const MAGIC_COOKIE = "z9hG4bK"

/** the branch parameter of a Via element (names compare case-insensitively, §7.3.1) */
export const branchOf = (via: Via): string | undefined => Message.param(via.params, "branch") ?? undefined

/** §17.2.3: sent-by compares host (case-insensitive) and port; no string is built */
export const sameSentBy = (a: Via, b: Via): boolean =>
  a.port === b.port && (a.host === b.host || a.host.toLowerCase() === b.host.toLowerCase())

/** sent-by as one lower-cased string, for the rare composite key of colliding branches */
export const sentByKey = (via: Via): string => `${via.host.toLowerCase()}:${via.port ?? ""}`

/**
 * RFC 2543 fallback key (§17.2.3) for requests whose branch lacks the magic cookie: Request-URI,
 * From tag, Call-ID, CSeq number and top Via. `method` is "INVITE" for an ACK or CANCEL lookup.
 */
export const rfc2543Key = (request: SipRequest, via: Via, method: string): string =>
  `2543\u0000${Uri.format(request.uri)}\u0000${Message.fromTag(request) ?? ""}\u0000${Message.callId(request) ?? ""}\u0000${Message.cseq(request)?.seq ?? ""}\u0000${Headers.Via.format(via)}\u0000${method}`
