/** A proxy, a caller and callees on the simulated network; TestClock drives every timer. */
import { Credentials, type Table } from "@sipfx/auth"
import { Aor, LocationService, MemoryLocation, Registration } from "@sipfx/location"
import { Message, Parser, type SipMessage, type SipRequest, type SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { TransactionLayer } from "@sipfx/transaction"
import { type Destination, type Inbound, Resolver, Transport } from "@sipfx/transport"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { NextHops, Router, StatefulProxy, StatelessProxy } from "../src/index.ts"

const enc = new TextEncoder()

export const parse = <M extends SipMessage>(text: string): M => {
  const r = Parser.parse(enc.encode(text))
  if (r._tag === "Err") throw new Error(r.error.reason)
  return r.message as M
}

let n = 0
export const request = (
  method: string,
  uri: string,
  extra: ReadonlyArray<string> = [],
  options: { readonly maxForwards?: number; readonly body?: string; readonly cseq?: number } = {},
): SipRequest => {
  n++
  const body = options.body ?? ""
  return parse(
    [
      `${method} ${uri} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-c${n}`,
      ...(options.maxForwards === undefined
        ? ["Max-Forwards: 70"]
        : options.maxForwards < 0
          ? []
          : [`Max-Forwards: ${options.maxForwards}`]),
      `To: <${uri}>`,
      `From: <sip:carol@example.com>;tag=c${n}`,
      `Call-ID: call-${n}@127.0.0.2`,
      `CSeq: ${options.cseq ?? 1} ${method}`,
      ...extra,
      `Content-Length: ${enc.encode(body).length}`,
      "",
      body,
    ].join("\r\n"),
  )
}

/** How a callee answers a new server transaction. */
export type Behaviour = (
  tx: TransactionLayer.ServerTransaction,
  tl: TransactionLayer.TransactionLayer["Service"],
) => void

export interface Callee {
  readonly address: string
  readonly port: number
  readonly uri: string
  readonly arrivals: Array<SipMessage>
  readonly requests: (method: string) => Array<SipRequest>
  behaviour: Behaviour
}

export interface Caller {
  readonly arrivals: Array<SipMessage>
  readonly responses: (branch?: string) => Array<SipResponse>
  readonly send: (m: SipMessage) => Effect.Effect<void>
}

// timers of the callees run on the test's Clock (set by `setup`)
let later: (ms: number, f: () => void) => void = () => {}

let tagN = 0
export const answer = (
  tx: TransactionLayer.ServerTransaction,
  status: number,
  headers: ReadonlyArray<{ name: string; value: string }> = [],
) => tx.respond(Message.response(tx.request, status, undefined, { toTag: `callee${tagN++}`, headers }))

/** Rings, then answers `status` after `ms` (never when undefined); CANCEL → 200 + 487. */
export const ringThen =
  (status: number | undefined, ms = 0): Behaviour =>
  (tx, _tl) => {
    if (tx.request.method === "CANCEL") {
      answer(tx, tx.cancelMatched ? 200 : 481)
      if (tx.cancels) answer(tx.cancels, 487)
      return
    }
    if (tx.request.method !== "INVITE") {
      answer(tx, status ?? 200)
      return
    }
    answer(tx, 180)
    if (status !== undefined) {
      if (ms === 0) answer(tx, status)
      else later(ms, () => answer(tx, status))
    }
  }

export interface SetupOptions {
  readonly proxy?: Partial<StatefulProxy.Options>
  readonly router?: Layer.Layer<Router.Router, never, LocationService>
  readonly dns?: Record<string, ReadonlyArray<string>>
  readonly credentials?: Table
  readonly callees?: number
}

export const setup = (options: SetupOptions = {}) =>
  Effect.gen(function* () {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    later = (ms, f) => {
      run(Effect.sleep(ms).pipe(Effect.andThen(Effect.sync(f))))
    }
    const network = yield* Network.make({ seed: 7 })
    const proxyEp = yield* network.endpoint({ name: "proxy", address: "127.0.0.1", port: 5060 })
    const callerEp = yield* network.endpoint({ name: "caller", address: "127.0.0.2", port: 5060 })
    const foreign = yield* network.endpoint({ name: "foreign", address: "192.0.2.50", port: 5060 })
    const foreignArrivals: Array<SipMessage> = []
    yield* foreign.subscribe((i) => foreignArrivals.push(i.message))

    const callees: Array<Callee> = []
    for (let i = 0; i < (options.callees ?? 2); i++) {
      const address = `127.0.0.${3 + i}`
      const ep = yield* network.endpoint({ name: `callee${i}`, address, port: 5060 })
      const arrivals: Array<SipMessage> = []
      yield* ep.subscribe((inb: Inbound) => arrivals.push(inb.message))
      const tl = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, ep))
      const callee: Callee = {
        address,
        port: 5060,
        uri: `sip:callee${i}@${address}:5060`,
        arrivals,
        requests: (method) => arrivals.flatMap((m) => (m._tag === "SipRequest" && m.method === method ? [m] : [])),
        behaviour: ringThen(200),
      }
      yield* tl.serve((tx) => callee.behaviour(tx, tl))
      callees.push(callee)
    }

    const base = Layer.mergeAll(
      MemoryLocation.layer(),
      Resolver.memory({ "example.com": ["127.0.0.1"], ...(options.dns ?? {}) }),
      options.credentials === undefined ? Layer.empty : Credentials.layer(options.credentials),
      TransactionLayer.layer().pipe(Layer.provideMerge(Layer.succeed(Transport, proxyEp))),
    )
    const proxyOptions: StatefulProxy.Options = {
      nextHops: NextHops.loopback,
      domains: ["example.com"],
      ...options.proxy,
    }
    const router = options.router ?? Router.location()
    const context = yield* Layer.build(
      StatefulProxy.serve.pipe(
        Layer.provideMerge(StatefulProxy.layer(proxyOptions)),
        Layer.provideMerge(router),
        Layer.provideMerge(base),
      ),
    )
    const location = Context.get(context, LocationService)
    const proxy = Context.get(context, StatefulProxy.StatefulProxy)

    const callerArrivals: Array<SipMessage> = []
    yield* callerEp.subscribe((i) => callerArrivals.push(i.message))
    const to: Destination = { protocol: "UDP", address: "127.0.0.1", port: 5060 }
    const caller: Caller = {
      arrivals: callerArrivals,
      responses: (branch) =>
        callerArrivals.flatMap((m) =>
          m._tag === "SipResponse" && (branch === undefined || Message.branch(m) === branch) ? [m] : [],
        ),
      send: (m) => Effect.orDie(callerEp.send(m, to)),
    }

    const bind = (aor: string, contact: string, q?: number, path?: ReadonlyArray<string>) =>
      location.update(
        Aor.fromString(aor) as Aor.Aor,
        Registration.contacts(`${contact}-reg`, 1, [{ contact, expires: 3600, q, path }]),
      )

    /** Sends and lets the network and every zero-delay step settle. */
    const exchange = (m: SipMessage) =>
      Effect.gen(function* () {
        yield* caller.send(m)
        yield* settle
      })

    const finalFor = (req: SipRequest) => {
      const branch = Message.branch(req)
      return caller.responses(branch).find((r) => r.status >= 200 && Message.cseq(r)?.method === req.method)
    }

    return { proxy, location, callees, caller, foreignArrivals, bind, exchange, finalFor, network }
  })

export const settle = Effect.gen(function* () {
  for (let i = 0; i < 20; i++) yield* TestClock.adjust(0)
})

export const statuses = (rs: ReadonlyArray<SipResponse>) => rs.map((r) => r.status)

/** The stateless proxy (§16.11) on 127.0.0.1:5060, the same caller and callees. */
export const setupStateless = (options: SetupOptions & { readonly stateless?: Partial<StatelessProxy.Options> } = {}) =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 7 })
    const proxyEp = yield* network.endpoint({ name: "proxy", address: "127.0.0.1", port: 5060 })
    const callerEp = yield* network.endpoint({ name: "caller", address: "127.0.0.2", port: 5060 })
    const foreign = yield* network.endpoint({ name: "foreign", address: "192.0.2.50", port: 5060 })
    const foreignArrivals: Array<SipMessage> = []
    yield* foreign.subscribe((i) => foreignArrivals.push(i.message))
    const callees: Array<Callee> = []
    for (let i = 0; i < (options.callees ?? 2); i++) {
      const address = `127.0.0.${3 + i}`
      const ep = yield* network.endpoint({ name: `callee${i}`, address, port: 5060 })
      const arrivals: Array<SipMessage> = []
      yield* ep.subscribe((inb: Inbound) => arrivals.push(inb.message))
      const tl = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, ep))
      const callee: Callee = {
        address,
        port: 5060,
        uri: `sip:callee${i}@${address}:5060`,
        arrivals,
        requests: (method) => arrivals.flatMap((m) => (m._tag === "SipRequest" && m.method === method ? [m] : [])),
        behaviour: ringThen(200),
      }
      yield* tl.serve((tx) => callee.behaviour(tx, tl))
      callees.push(callee)
    }
    const base = Layer.mergeAll(
      MemoryLocation.layer(),
      Resolver.memory({ "example.com": ["127.0.0.1"], ...(options.dns ?? {}) }),
      Layer.succeed(Transport, proxyEp),
    )
    const context = yield* Layer.build(
      StatelessProxy.serve.pipe(
        Layer.provideMerge(
          StatelessProxy.layer({ nextHops: NextHops.loopback, domains: ["example.com"], ...options.stateless }),
        ),
        Layer.provideMerge(options.router ?? Router.location()),
        Layer.provideMerge(base),
      ),
    )
    const location = Context.get(context, LocationService)
    const proxy = Context.get(context, StatelessProxy.StatelessProxy)
    const callerArrivals: Array<SipMessage> = []
    yield* callerEp.subscribe((i) => callerArrivals.push(i.message))
    const to: Destination = { protocol: "UDP", address: "127.0.0.1", port: 5060 }
    const caller: Caller = {
      arrivals: callerArrivals,
      responses: (branch) =>
        callerArrivals.flatMap((m) =>
          m._tag === "SipResponse" && (branch === undefined || Message.branch(m) === branch) ? [m] : [],
        ),
      send: (m) => Effect.orDie(callerEp.send(m, to)),
    }
    const bind = (aor: string, contact: string, q?: number) =>
      location.update(
        Aor.fromString(aor) as Aor.Aor,
        Registration.contacts(`${contact}-reg`, 1, [{ contact, expires: 3600, q }]),
      )
    const exchange = (m: SipMessage) =>
      Effect.gen(function* () {
        yield* caller.send(m)
        yield* settle
      })
    /** a message arriving at the proxy's own port from a callee (responses, in-dialog requests) */
    const fromCallee = (i: number, m: SipMessage) =>
      Effect.gen(function* () {
        const ep = yield* network.endpoint({ name: `raw${i}-${n}`, address: `127.0.0.${3 + i}`, port: 6000 + n++ })
        yield* Effect.orDie(ep.send(m, to))
        yield* settle
      })
    return { proxy, location, callees, caller, foreignArrivals, bind, exchange, fromCallee, network }
  })
