/**
 * Test-only (`@sipfx/registrar/testing`): a SIP server (registrar, redirect server, …) behind a
 * TransactionLayer on a simulated network, and a raw UA endpoint that sends requests and waits
 * for their final responses. Hosts are example.com names; nothing leaves the simulated network.
 */
import { LocationService, MemoryLocation } from "@sipfx/location"
import { Message, Parser, type SipRequest, type SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { TransactionLayer } from "@sipfx/transaction"
import { type Destination, Transport } from "@sipfx/transport"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"

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

/** What the server's Layers get: a memory location service and a TransactionLayer on the server endpoint. */
export type Base = LocationService | TransactionLayer.TransactionLayer

export interface Options<A, E> {
  /** the simulated network's seed */
  readonly seed: number
  /** the server endpoint's name (its address is 192.0.2.1) */
  readonly name: string
  /** the UA endpoint's address (port 5060); the test's Via headers name it */
  readonly uaAddress: string
  /** the server's Layers over the base (kept in the output: `Layer.provideMerge`) */
  readonly app: (base: Layer.Layer<Base>) => Layer.Layer<A, E>
}

export interface Simulated<A> {
  /** sends a request from the UA and answers the final response it gets */
  readonly send: (request: SipRequest) => Effect.Effect<SipResponse>
  readonly location: LocationService["Service"]
  readonly context: Context.Context<A>
  /** every response the UA received */
  readonly responses: Array<SipResponse>
}

/** The server's Layers over a fresh simulated network, in the test's Scope. */
export const simulated = <A, E>(options: Options<A, E>) =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: options.seed })
    const server = yield* network.endpoint({ name: options.name, protocol: "UDP", address: "192.0.2.1" })
    const ua = yield* network.endpoint({ name: "ua", protocol: "UDP", address: options.uaAddress, port: 5060 })
    const base = yield* Layer.build(
      Layer.mergeAll(
        MemoryLocation.layer(),
        TransactionLayer.layer().pipe(Layer.provide(Layer.succeed(Transport, server))),
      ),
    )
    const location = Context.get(base, LocationService)
    const context = yield* Layer.build(options.app(Layer.succeedContext(base)))
    const responses: Array<SipResponse> = []
    yield* ua.subscribe((inbound) => {
      if (inbound.message._tag === "SipResponse") responses.push(inbound.message)
    })
    const point = server.listenPoints[0]!
    const to: Destination = { protocol: "UDP", address: point.address, port: point.port }
    const send = (request: SipRequest) =>
      Effect.gen(function* () {
        const branch = Message.branch(request)
        yield* ua.send(request, to).pipe(Effect.orDie)
        for (let i = 0; i < 50; i++) {
          yield* TestClock.adjust(0)
          yield* Effect.yieldNow
          // §17.1.3: branch and CSeq method (a CANCEL shares its INVITE's branch)
          const found = responses.find(
            (r) => Message.branch(r) === branch && Message.cseq(r)?.method === request.method && r.status >= 200,
          )
          if (found !== undefined) return found
        }
        return yield* Effect.die(new Error(`no final response to ${request.method} ${branch}`))
      })
    return { send, location, context, responses } satisfies Simulated<A>
  })
