/** Messages for dialog tests, parsed from text (hosts are example.com names; nothing is sent). */
import { Parser, type SipRequest, type SipResponse } from "@sipfx/message"

const enc = new TextEncoder()

export const parse = <M extends SipRequest | SipResponse>(lines: ReadonlyArray<string>, body = ""): M => {
  const text = `${lines.join("\r\n")}\r\nContent-Length: ${enc.encode(body).length}\r\n\r\n${body}`
  const r = Parser.parse(enc.encode(text))
  if (r._tag === "Err") throw new Error(`fixture does not parse: ${r.error.reason}`)
  return r.message as M
}

export const invite = (extra: ReadonlyArray<string> = []): SipRequest =>
  parse([
    "INVITE sip:bob@biloxi.example.com SIP/2.0",
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@biloxi.example.com>",
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@pc33.atlanta.example.com>",
    ...extra,
  ])

export const response = (
  status: number,
  toTag: string | undefined,
  extra: ReadonlyArray<string> = [],
  reason = "OK",
): SipResponse =>
  parse([
    `SIP/2.0 ${status} ${reason}`,
    "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
    `To: Bob <sip:bob@biloxi.example.com>${toTag === undefined ? "" : `;tag=${toTag}`}`,
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    "CSeq: 314159 INVITE",
    ...extra,
  ])

/** a request from Bob inside the dialog (UAC view: To = Alice with her tag) */
export const inDialog = (method: string, seq: number, extra: ReadonlyArray<string> = []): SipRequest =>
  parse([
    `${method} sip:alice@pc33.atlanta.example.com SIP/2.0`,
    "Via: SIP/2.0/UDP bobspc.biloxi.example.com;branch=z9hG4bKnashds8",
    "Max-Forwards: 70",
    "From: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf",
    "To: Alice <sip:alice@atlanta.example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com",
    `CSeq: ${seq} ${method}`,
    ...extra,
  ])
