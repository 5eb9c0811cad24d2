/**
 * UAS core checks (RFC 3261 §8.2.1–§8.2.2) as pure functions: each returns the response the
 * RFC demands, or undefined when the request may go on.
 */
import { Headers, Message, type SipRequest, type SipResponse } from "@sipfx/message"

export interface Capabilities {
  /** methods we handle (Allow) */
  readonly allow: ReadonlyArray<string>
  /** option tags we support (Supported) */
  readonly supported: ReadonlyArray<string>
  /** body types we accept (Accept) */
  readonly accept: ReadonlyArray<string>
}

export const defaults: Capabilities = {
  allow: ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "MESSAGE", "INFO", "UPDATE"],
  supported: [],
  accept: ["application/sdp", "text/plain"],
}

const header = (name: string, values: ReadonlyArray<string>) => ({ name, value: values.join(", ") })

/** §8.2.1 method, §8.2.2.1 URI scheme, §8.2.2.3 Require — in the RFC's order. */
export const check = (request: SipRequest, caps: Capabilities): SipResponse | undefined => {
  // §8.2.1: 405 with Allow
  if (!caps.allow.includes(request.method))
    return Message.response(request, 405, undefined, { headers: [header("Allow", caps.allow)] })
  // §8.2.2.1: a scheme we do not understand → 416
  if (request.uri._tag !== "SipUri") return Message.response(request, 416)
  // §8.2.2.3: unknown Require option tags → 420 listing them in Unsupported (not for ACK/CANCEL)
  if (request.method !== "ACK" && request.method !== "CANCEL") {
    const required = Message.all(request, Headers.Require)
    const unknown = required.filter((t) => !caps.supported.includes(t))
    if (unknown.length > 0)
      return Message.response(request, 420, undefined, { headers: [header("Unsupported", unknown)] })
  }
  return undefined
}

/** §11.2: the 200 to OPTIONS lists Allow, Accept and Supported. */
export const optionsResponse = (
  request: SipRequest,
  caps: Capabilities,
  extra: ReadonlyArray<{ name: string; value: string }> = [],
): SipResponse =>
  Message.response(request, 200, undefined, {
    headers: [
      header("Allow", caps.allow),
      header("Accept", caps.accept),
      ...(caps.supported.length > 0 ? [header("Supported", caps.supported)] : []),
      ...extra,
    ],
  })

/**
 * §8.2.2.2 merged requests: a request without To tag whose From tag, Call-ID and CSeq match a
 * request in progress that arrived by another path (other branch) is answered 482.
 */
export class MergeDetector {
  private readonly live = new Map<string, string>()

  /** the 482 to send, or undefined after recording the request; `done` forgets it */
  admit(request: SipRequest, transactionId: string): SipResponse | undefined {
    if (Message.toTag(request) !== undefined) return undefined
    const cseq = Message.cseq(request)
    const key = `${Message.fromTag(request) ?? ""}\u0000${Message.callId(request) ?? ""}\u0000${cseq?.seq}\u0000${cseq?.method}`
    const seen = this.live.get(key)
    if (seen !== undefined && seen !== transactionId) return Message.response(request, 482)
    this.live.set(key, transactionId)
    return undefined
  }

  done(request: SipRequest): void {
    const cseq = Message.cseq(request)
    this.live.delete(
      `${Message.fromTag(request) ?? ""}\u0000${Message.callId(request) ?? ""}\u0000${cseq?.seq}\u0000${cseq?.method}`,
    )
  }
}
