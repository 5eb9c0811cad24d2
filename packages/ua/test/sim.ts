/** A UA and raw peers on the simulated network (TestClock drives every timer). */
import { Parser, type SipMessage, type SipRequest, type SipResponse } from "@sipfx/message"
import type { Network } from "@sipfx/simnet"
import { TransactionLayer } from "@sipfx/transaction"
import { type Destination, type Inbound, Resolver, Transport } from "@sipfx/transport"
import { Effect, Layer, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { UserAgent } from "../src/index.ts"

const enc = new TextEncoder()

export const parse = <M extends SipMessage>(lines: ReadonlyArray<string>, body = ""): M => {
  const r = Parser.parse(
    enc.encode(`${lines.join("\r\n")}\r\nContent-Length: ${enc.encode(body).length}\r\n\r\n${body}`),
  )
  if (r._tag === "Err") throw new Error(r.error.reason)
  return r.message as M
}

export interface Peer {
  readonly transport: Transport["Service"]
  readonly arrivals: Array<{ readonly at: number; readonly message: SipMessage; readonly inbound: Inbound }>
  readonly address: string
  readonly port: number
  readonly requests: (method: string) => Array<SipRequest>
  readonly responses: (status?: number) => Array<SipResponse>
}

export const peer = (network: Network.Network["Service"], name: string): Effect.Effect<Peer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* network.endpoint({ name })
    const arrivals: Peer["arrivals"] = []
    yield* transport.subscribe((inbound) =>
      arrivals.push({ at: inbound.receivedAt, message: inbound.message, inbound }),
    )
    const p = transport.listenPoints[0]!
    return {
      transport,
      arrivals,
      address: p.address,
      port: p.port,
      requests: (method) =>
        arrivals.flatMap((a) =>
          a.message._tag === "SipRequest" && a.message.method === method ? [a.message as SipRequest] : [],
        ),
      responses: (status) =>
        arrivals.flatMap((a) =>
          a.message._tag === "SipResponse" && (status === undefined || a.message.status === status)
            ? [a.message as SipResponse]
            : [],
        ),
    }
  })

export const simUa = (
  network: Network.Network["Service"],
  name: string,
  config: UserAgent.Config,
  extra: Layer.Layer<never> = Layer.empty,
  timers?: TransactionLayer.Options["timers"],
): Effect.Effect<
  {
    readonly ua: UserAgent.UserAgent["Service"]
    readonly tl: TransactionLayer.TransactionLayer["Service"]
    readonly transport: Transport["Service"]
    readonly to: Destination
    readonly port: number
  },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const transport = yield* network.endpoint({ name })
    const tl = yield* TransactionLayer.make({ timers }).pipe(Effect.provideService(Transport, transport))
    const layer = Layer.mergeAll(
      Layer.succeed(Transport, transport),
      Layer.succeed(TransactionLayer.TransactionLayer, tl),
      Resolver.memory({}),
      extra,
    )
    const ua = yield* UserAgent.make(config).pipe(Effect.provide(layer))
    const p = transport.listenPoints[0]!
    const to: Destination = { protocol: "UDP", address: p.address, port: p.port }
    return { ua, tl, transport, to, port: p.port }
  })

export const dest = (p: { readonly address: string; readonly port: number }): Destination => ({
  protocol: "UDP",
  address: p.address,
  port: p.port,
})

let n = 0
/** An INVITE (or other request) from a raw peer at `from` to the UA. */
export const request = (
  method: string,
  from: { readonly address: string; readonly port: number },
  o: {
    readonly branch?: string
    readonly callId?: string
    readonly seq?: number
    readonly toTag?: string
    readonly fromTag?: string
    readonly extra?: ReadonlyArray<string>
    readonly uri?: string
    readonly body?: string
  } = {},
): SipRequest =>
  parse(
    [
      `${method} ${o.uri ?? "sip:bob@example.com"} SIP/2.0`,
      `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=${o.branch ?? `z9hG4bK-peer-${++n}`};rport`,
      "Max-Forwards: 70",
      `From: <sip:carol@example.org>;tag=${o.fromTag ?? "peer-tag"}`,
      `To: <sip:bob@example.com>${o.toTag ? `;tag=${o.toTag}` : ""}`,
      `Call-ID: ${o.callId ?? `call-${n}@example.org`}`,
      `CSeq: ${o.seq ?? 1} ${method}`,
      `Contact: <sip:carol@${from.address}:${from.port}>`,
      ...(o.extra ?? []),
    ],
    o.body ?? "",
  )

/**
 * Lets every fiber that is ready run: TestClock.adjust(0) and a macrotask turn, a few times
 * (the fiber scheduler may defer work to the next turn of the event loop).
 */
export const settle = Effect.gen(function* () {
  for (let i = 0; i < 4; i++) {
    yield* TestClock.adjust(0)
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  }
})
