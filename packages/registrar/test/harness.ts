/**
 * A registrar behind a TransactionLayer on a simulated network, and a raw UA endpoint that
 * sends REGISTERs as wire text and collects the responses. Hosts are example.com names;
 * nothing leaves the simulated network.
 */
import { Credentials, type Table } from "@sipfx/auth"
import { LocationService, MemoryLocation } from "@sipfx/location"
import { Message, Parser, type SipRequest, type SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { TransactionLayer } from "@sipfx/transaction"
import { type Destination, Transport } from "@sipfx/transport"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { type Options, Registrar } from "../src/index.ts"

let counter = 0

/** A request from wire text (LF line ends are turned into CRLF); Content-Length added when missing. */
export const parse = (text: string): SipRequest => {
  let wire = text.replace(/\r?\n/g, "\r\n")
  if (!/\r\nContent-Length:/i.test(wire) && !/\r\nl:/.test(wire))
    wire = wire.replace(/\r\n$/, "") + "\r\nContent-Length: 0\r\n"
  if (!wire.endsWith("\r\n\r\n")) wire += "\r\n"
  const r = Parser.parse(new TextEncoder().encode(wire))
  if (r._tag === "Err") throw new Error(`test message does not parse: ${r.error.reason}`)
  return r.message as SipRequest
}

export interface RegisterOptions {
  readonly user?: string
  readonly domain?: string
  readonly contacts?: ReadonlyArray<string>
  readonly expires?: number | string
  readonly callId?: string
  readonly cseq?: number
  readonly extra?: ReadonlyArray<string>
  readonly requestUri?: string
  readonly to?: string
}

export const register = (o: RegisterOptions = {}): SipRequest => {
  const n = ++counter
  const user = o.user ?? "alice"
  const domain = o.domain ?? "example.com"
  const lines = [
    `REGISTER ${o.requestUri ?? `sip:${domain}`} SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-reg-${n};rport`,
    "Max-Forwards: 70",
    `To: ${o.to ?? `<sip:${user}@${domain}>`}`,
    `From: <sip:${user}@${domain}>;tag=f${n}`,
    `Call-ID: ${o.callId ?? `reg-${n}@192.0.2.10`}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    ...(o.contacts ?? [`<sip:${user}@192.0.2.10:5060>`]).map((c) => `Contact: ${c}`),
    ...(o.expires === undefined ? [] : [`Expires: ${o.expires}`]),
    ...(o.extra ?? []),
  ]
  return parse(lines.join("\r\n") + "\r\n")
}

export const headerValues = (m: SipResponse, name: string): ReadonlyArray<string> => Message.headerValues(m, name)

/** Contact URI → expires param of a 200's Contact list. */
export const bindingsOf = (m: SipResponse): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const v of headerValues(m, "Contact")) {
    const match = /^<([^>]*)>.*;expires=(\d+)/.exec(v)
    if (match) out[match[1]!] = Number(match[2])
  }
  return out
}

export interface Harness {
  /** sends a request from the UA and answers the final response it gets */
  readonly send: (request: SipRequest) => Effect.Effect<SipResponse>
  readonly location: LocationService["Service"]
  readonly responses: Array<SipResponse>
}

/** The registrar Layers over a fresh simulated network, in the test's Scope. */
export const setup = (options: Options.Options = {}, users?: Table) =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 7 })
    const serverTransport = yield* network.endpoint({ name: "registrar", protocol: "UDP", address: "192.0.2.1" })
    const ua = yield* network.endpoint({ name: "ua", protocol: "UDP", address: "192.0.2.10", port: 5060 })
    const base = Layer.mergeAll(
      MemoryLocation.layer(),
      TransactionLayer.layer().pipe(Layer.provide(Layer.succeed(Transport, serverTransport))),
      users === undefined ? Layer.empty : Credentials.layer(users),
    )
    const app = Registrar.serve.pipe(Layer.provideMerge(Registrar.layer(options)), Layer.provideMerge(base))
    const context = yield* Layer.build(app)
    const location = Context.get(context, LocationService)
    const responses: Array<SipResponse> = []
    yield* ua.subscribe((inbound) => {
      if (inbound.message._tag === "SipResponse") responses.push(inbound.message)
    })
    const point = serverTransport.listenPoints[0]!
    const to: Destination = { protocol: "UDP", address: point.address, port: point.port }
    const send = (request: SipRequest) =>
      Effect.gen(function* () {
        const branch = Message.branch(request)
        yield* ua.send(request, to).pipe(Effect.orDie)
        for (let i = 0; i < 50; i++) {
          yield* TestClock.adjust(0)
          yield* Effect.yieldNow
          const found = responses.find((r) => Message.branch(r) === branch && r.status >= 200)
          if (found !== undefined) return found
        }
        return yield* Effect.die(new Error(`no final response to ${request.method} ${branch}`))
      })
    return { send, location, responses } satisfies Harness
  })
