/**
 * A simulated network: named endpoints, each its own `Transport`, exchanging message objects
 * with seeded loss, duplication, reordering and delay. Every delay runs on Effect's Clock, so
 * TestClock moves the network too. "UDP" endpoints are unreliable; "TCP" endpoints deliver
 * every message once, in order (a connection), and refuse sends to unknown addresses.
 */
import { Parser, type SipMessage } from "@sipfx/message"
import {
  type Destination,
  type Inbound,
  type ListenPoint,
  type Protocol,
  type Source,
  Transport,
  TransportError,
} from "@sipfx/transport"
import { Clock, Context, Effect, Layer, Queue, type Scope, Stream } from "effect"

/** Conditions applied to unreliable (UDP) deliveries; probabilities in [0, 1], delays in ms. */
export interface Conditions {
  readonly loss?: number | undefined
  readonly duplicate?: number | undefined
  /** probability that a message gets an extra delay of up to `reorderWindow` ms */
  readonly reorder?: number | undefined
  readonly reorderWindow?: number | undefined
  /** base one-way delay, uniformly drawn in [min, max] */
  readonly delay?: { readonly min: number; readonly max: number } | undefined
}

export interface Options {
  /** seed of the network's PRNG: the same seed and the same sends give the same schedule */
  readonly seed?: number | undefined
  readonly conditions?: Conditions | undefined
}

export interface EndpointOptions {
  readonly name: string
  readonly address?: string | undefined
  /** 0 or absent: the network picks a free one */
  readonly port?: number | undefined
  readonly protocol?: Protocol | undefined
  /** per-endpoint conditions for what it sends, overriding the network's */
  readonly conditions?: Conditions | undefined
}

export interface Counters {
  sent: number
  delivered: number
  lost: number
  duplicated: number
  reordered: number
  unroutable: number
}

/** mulberry32: small, fast, good enough to drive fault injection deterministically */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Endpoint {
  readonly name: string
  readonly point: ListenPoint
  readonly conditions: Conditions | undefined
  readonly handlers: Set<(inbound: Inbound) => void>
}

export class Network extends Context.Service<
  Network,
  {
    /** Adds an endpoint for the Scope's lifetime and returns its Transport. */
    readonly endpoint: (options: EndpointOptions) => Effect.Effect<Transport["Service"], never, Scope.Scope>
    readonly counters: Counters
    /** messages scheduled but not delivered yet */
    readonly inFlight: () => number
  }
>()("@sipfx/simnet/Network") {}

const key = (address: string, port: number): string => `${address}|${port}`

export const make = (options: Options = {}): Effect.Effect<Network["Service"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const random = prng(options.seed ?? 1)
    const clock = yield* Clock.Clock
    const scope = yield* Effect.scope
    // sendBytes runs outside any fiber: its delivery uses this context's Clock (TestClock in tests)
    const runCallback = Effect.runCallbackWith(yield* Effect.context<never>())
    const endpoints = new Map<string, Endpoint>()
    const counters: Counters = { sent: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, unroutable: 0 }
    let nextPort = 20_000
    // reliable "connections": one id per pair of endpoints, usable from both ends (§18.2.2: a
    // response goes back on the request's connection, whatever port the Via names)
    const connections = new Map<string, readonly [Endpoint, Endpoint]>()
    const connectionId = (a: Endpoint, b: Endpoint): string => {
      const id = a.name < b.name ? `sim:${a.name}~${b.name}` : `sim:${b.name}~${a.name}`
      if (!connections.has(id)) connections.set(id, [a, b])
      return id
    }
    const registered = (ep: Endpoint): boolean => endpoints.get(key(ep.point.address, ep.point.port)) === ep
    const peerOn = (from: Endpoint, id: string | undefined): Endpoint | undefined => {
      const ends = id === undefined ? undefined : connections.get(id)
      if (ends === undefined) return undefined
      const other = ends[0] === from ? ends[1] : ends[1] === from ? ends[0] : undefined
      return other !== undefined && registered(other) ? other : undefined
    }
    let inFlight = 0

    const deliverNow = (to: Endpoint, message: SipMessage, source: Source): void => {
      counters.delivered++
      const inbound: Inbound = { message, source, receivedAt: clock.currentTimeMillisUnsafe() }
      for (const handler of to.handlers) handler(inbound)
    }

    const deliverLater = (to: Endpoint, message: SipMessage, source: Source, ms: number): Effect.Effect<void> => {
      if (ms <= 0) return Effect.sync(() => deliverNow(to, message, source))
      inFlight++
      return Effect.sleep(ms).pipe(
        Effect.andThen(
          Effect.sync(() => {
            inFlight--
            if (endpoints.get(key(to.point.address, to.point.port)) === to) deliverNow(to, message, source)
          }),
        ),
        Effect.forkIn(scope),
        Effect.asVoid,
      )
    }

    const send =
      (from: Endpoint) =>
      (message: SipMessage, destination: Destination): Effect.Effect<void, TransportError> =>
        Effect.suspend(() => {
          counters.sent++
          const reliable = from.point.protocol !== "UDP"
          const to =
            (reliable ? peerOn(from, destination.connectionId) : undefined) ??
            endpoints.get(key(destination.address, destination.port))
          if (to === undefined) {
            counters.unroutable++
            // a datagram to nowhere just vanishes; a connection attempt is refused (§18.4)
            return reliable
              ? Effect.fail(
                  new TransportError({ reason: "Refused", destination, message: "no endpoint at destination" }),
                )
              : Effect.void
          }
          const source: Source = {
            protocol: from.point.protocol,
            address: from.point.address,
            port: from.point.port,
            connectionId: reliable ? connectionId(from, to) : undefined,
            local: { address: to.point.address, port: to.point.port },
          }
          const c = from.conditions ?? options.conditions
          if (reliable || c === undefined) return deliverLater(to, message, source, 0)
          if (c.loss !== undefined && random() < c.loss) {
            counters.lost++
            return Effect.void
          }
          const copies = c.duplicate !== undefined && random() < c.duplicate ? 2 : 1
          if (copies === 2) counters.duplicated++
          let effect: Effect.Effect<void> = Effect.void
          for (let i = 0; i < copies; i++) {
            let ms = c.delay === undefined ? 0 : c.delay.min + Math.floor(random() * (c.delay.max - c.delay.min + 1))
            if (c.reorder !== undefined && random() < c.reorder) {
              counters.reordered++
              ms += 1 + Math.floor(random() * (c.reorderWindow ?? 100))
            }
            effect = Effect.andThen(effect, deliverLater(to, message, source, ms))
          }
          return effect
        })

    /** the bytes are parsed as a receiver would, then travel like any message */
    const sendBytes =
      (from: Endpoint) =>
      (bytes: Uint8Array, destination: Destination, onError: (error: TransportError) => void): void => {
        const parsed = Parser.parse(bytes)
        if (parsed._tag === "Err") {
          onError(new TransportError({ reason: "Encode", destination, message: parsed.error.reason }))
          return
        }
        runCallback(send(from)(parsed.message, destination), {
          onExit: (exit) => {
            if (exit._tag !== "Failure") return
            for (const r of exit.cause.reasons) {
              if (r._tag === "Fail") {
                onError(r.error)
                return
              }
            }
          },
        })
      }

    const endpoint = (opts: EndpointOptions): Effect.Effect<Transport["Service"], never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const address = opts.address ?? "127.0.0.1"
          let port = opts.port ?? 0
          if (port === 0) while (endpoints.has(key(address, (port = nextPort++))));
          const ep: Endpoint = {
            name: opts.name,
            point: { protocol: opts.protocol ?? "UDP", address, port },
            conditions: opts.conditions,
            handlers: new Set(),
          }
          endpoints.set(key(address, port), ep)
          return ep
        }),
        (ep) =>
          Effect.sync(() => {
            endpoints.delete(key(ep.point.address, ep.point.port))
            for (const [id, ends] of connections) if (ends[0] === ep || ends[1] === ep) connections.delete(id)
          }),
      ).pipe(
        Effect.map((ep) => {
          const subscribe = (handler: (inbound: Inbound) => void) =>
            Effect.acquireRelease(
              Effect.sync(() => ep.handlers.add(handler)),
              () => Effect.sync(() => ep.handlers.delete(handler)),
            ).pipe(Effect.asVoid)
          return Transport.of({
            listenPoints: [ep.point],
            subscribe,
            incoming: Stream.callback<Inbound>((queue) => subscribe((inbound) => Queue.offerUnsafe(queue, inbound))),
            send: send(ep),
            sendBytes: sendBytes(ep),
          })
        }),
      )

    return Network.of({ endpoint, counters, inFlight: () => inFlight })
  })

export const layer = (options?: Options): Layer.Layer<Network> => Layer.effect(Network, make(options))

/** A Transport Layer for one endpoint of the Network in context. */
export const transport = (options: EndpointOptions): Layer.Layer<Transport, never, Network> =>
  Layer.effect(
    Transport,
    Effect.gen(function* () {
      const network = yield* Network
      return yield* network.endpoint(options)
    }),
  )
