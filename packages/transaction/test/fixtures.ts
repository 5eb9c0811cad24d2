/** Hand-built messages for tests (hosts are example.com names; nothing leaves the simulated network). */
import type { SipRequest, SipResponse } from "@sipfx/message"
import type { Source } from "@sipfx/transport"

type Header = SipRequest["headers"][number]
const empty = new Uint8Array(0)
let counter = 0

export const branch = (): string => `z9hG4bK-test-${++counter}`

export interface RequestOptions {
  readonly method: string
  readonly branch?: string | undefined
  readonly via?: string | undefined
  readonly seq?: number | undefined
  readonly callId?: string | undefined
  readonly toTag?: string | undefined
}

export const request = (o: RequestOptions): SipRequest => {
  const headers: Array<Header> = [
    { name: "Via", value: o.via ?? `SIP/2.0/UDP client.example.com:5060;branch=${o.branch ?? branch()};rport` },
    { name: "Max-Forwards", value: "70" },
    { name: "From", value: "<sip:alice@example.com>;tag=a1" },
    { name: "To", value: `<sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ""}` },
    { name: "Call-ID", value: o.callId ?? `call-${counter}@example.com` },
    { name: "CSeq", value: `${o.seq ?? 1} ${o.method}` },
  ]
  return {
    _tag: "SipRequest",
    method: o.method,
    uri: {
      _tag: "SipUri",
      scheme: "sip",
      user: "bob",
      password: undefined,
      host: "example.com",
      port: undefined,
      params: [],
      headers: [],
    },
    headers,
    body: empty,
  }
}

/** §8.2.6.2: a response copies Via, From, To (plus a tag), Call-ID and CSeq */
export const response = (req: SipRequest, status: number, toTag?: string): SipResponse => ({
  _tag: "SipResponse",
  status,
  reason: status === 200 ? "OK" : "Test",
  headers: req.headers
    .filter((h) => ["Via", "From", "To", "Call-ID", "CSeq"].includes(h.name))
    .map((h) =>
      h.name === "To" && toTag !== undefined && status > 100 ? { name: "To", value: `${h.value};tag=${toTag}` } : h,
    ),
  body: empty,
})

export const toDestination = (source: Source) => ({
  protocol: source.protocol,
  address: source.address,
  port: source.port,
  connectionId: source.connectionId,
})
