/**
 * Hand-built messages and a synchronous in-memory network, shared by this package's tests and
 * `pnpm bench transaction`. Hosts are example.com names or loopback; nothing leaves the process.
 */
import { Header, Parser, type SipMessage, type SipRequest, type SipResponse } from "@sipfx/message"
import {
  type Destination,
  type Inbound,
  type Protocol,
  type Source,
  type Transport,
  TransportError,
} from "@sipfx/transport"
import { Effect, Stream } from "effect"

const empty = new Uint8Array(0)
let counter = 0

/** a fresh RFC 3261 branch (§8.1.1.7: magic cookie first) */
export const branch = (): string => `z9hG4bK-t${(++counter).toString(36)}`

export interface RequestOptions {
  readonly method: string
  readonly branch?: string | undefined
  /** the whole top Via value; by default UDP from client.example.com:5060 with rport */
  readonly via?: string | undefined
  readonly seq?: number | undefined
  readonly callId?: string | undefined
  readonly toTag?: string | undefined
}

/** A request with the §8.1.1 mandatory headers, one field per header as the parser makes them. */
export const request = (o: RequestOptions): SipRequest => {
  const headers = [
    Header.raw("Via", o.via ?? `SIP/2.0/UDP client.example.com:5060;branch=${o.branch ?? branch()};rport`),
    Header.raw("Max-Forwards", "70"),
    Header.raw("From", "<sip:alice@example.com>;tag=a1"),
    Header.raw("To", `<sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ""}`),
    Header.raw("Call-ID", o.callId ?? `call-${counter}@example.com`),
    Header.raw("CSeq", `${o.seq ?? 1} ${o.method}`),
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

const copied = new Set(["Via", "From", "To", "Call-ID", "CSeq"])

/** §8.2.6.2: a response copies Via, From, To (plus a tag above 100), Call-ID and CSeq (the fields are shared) */
export const response = (req: SipRequest, status: number, toTag?: string): SipResponse => ({
  _tag: "SipResponse",
  status,
  reason: status === 200 ? "OK" : "Test",
  headers: req.headers
    .filter((h) => copied.has(h.name))
    .map((h) =>
      h.name === "To" && toTag !== undefined && status > 100 ? Header.raw("To", `${h.value};tag=${toTag}`) : h,
    ),
  body: empty,
})

/** where to answer a message from `source` (the connection, for reliable transports) */
export const toDestination = (source: Source): Destination => ({
  protocol: source.protocol,
  address: source.address,
  port: source.port,
  connectionId: source.connectionId,
})

/**
 * A minimal network of endpoints on 127.0.0.1 keyed by port: synchronous delivery inside `send`,
 * no loss, no Scope of its own (the simulated network of @sipfx/simnet adds loss, delay and time).
 * Messages travel as objects; `sendBytes` (a transaction's retransmissions) parses the octets as a
 * receiver would. `counters` says how many went each way.
 */
export const memoryNetwork = () => {
  const handlers = new Map<number, (inbound: Inbound) => void>()
  const counters = { sent: 0, sentBytes: 0 }
  const deliver = (port: number, protocol: Protocol, message: SipMessage, destination: Destination): void => {
    handlers.get(destination.port)?.({
      message,
      source: {
        protocol,
        address: "127.0.0.1",
        port,
        connectionId: protocol === "UDP" ? undefined : `mem-${port}`,
        local: { address: "127.0.0.1", port: destination.port },
      },
      receivedAt: 0,
    })
  }
  const endpoint = (port: number, protocol: Protocol): Transport["Service"] => ({
    listenPoints: [{ protocol, address: "127.0.0.1", port }],
    subscribe: (handler) =>
      Effect.acquireRelease(
        Effect.sync(() => handlers.set(port, handler)),
        () => Effect.sync(() => handlers.delete(port)),
      ).pipe(Effect.asVoid),
    incoming: Stream.empty,
    send: (message, destination) =>
      Effect.sync(() => {
        counters.sent++
        deliver(port, protocol, message, destination)
      }),
    sendBytes: (bytes, destination, onError) => {
      counters.sentBytes++
      const parsed = Parser.parse(bytes, protocol === "UDP" ? undefined : { transport: "stream" })
      if (parsed._tag === "Err") {
        onError(new TransportError({ reason: "Encode", destination, message: parsed.error.reason }))
        return
      }
      deliver(port, protocol, parsed.message, destination)
    },
  })
  return { endpoint, counters }
}
