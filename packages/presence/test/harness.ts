/**
 * The seed scenario's cast on real loopback sockets: a server (registrar + presence server +
 * MESSAGE relay behind one method table) and user agents that subscribe through
 * `@sipfx/event`'s Subscriber. Test domains resolve to loopback in memory; every request of
 * the UAs goes to the server as their outbound proxy.
 */
import { Notifier, Outbound, Subscriber } from "@sipfx/event"
import { LocationService, MemoryLocation } from "@sipfx/location"
import { Header, Message, type SipMessage } from "@sipfx/message"
import { Registrar } from "@sipfx/registrar"
import { TransactionLayer } from "@sipfx/transaction"
import { NodeTransport, Resolver, Transport } from "@sipfx/transport"
import { UserAgent } from "@sipfx/ua"
import { Effect, Layer, type Scope } from "effect"
import { DialogPackage, MessageRelay, PresenceServer } from "../src/index.ts"

export const dns = {
  "lecturehall21.academy.ru": ["127.0.0.1"],
  "dist.probability.org": ["127.0.0.1"],
}

/** Every message a transport sent or received, in order, for checking a whole flow. */
export interface Wire {
  readonly log: Array<{ readonly dir: "in" | "out"; readonly message: SipMessage }>
}

const tapped = (transport: Transport["Service"], wire: Wire): Transport["Service"] => ({
  ...transport,
  send: (message, destination) => {
    wire.log.push({ dir: "out", message })
    return transport.send(message, destination)
  },
  sendNow:
    transport.sendNow === undefined
      ? undefined
      : (message, destination, onError) => {
          wire.log.push({ dir: "out", message })
          return transport.sendNow!(message, destination, onError)
        },
  subscribe: (handler) =>
    transport.subscribe((inbound) => {
      wire.log.push({ dir: "in", message: inbound.message })
      handler(inbound)
    }),
})

const endpoint = (port: number, wire?: Wire) =>
  Effect.gen(function* () {
    const raw = yield* NodeTransport.make({ listen: [`udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`] })
    const transport = wire === undefined ? raw : tapped(raw, wire)
    const tl = yield* TransactionLayer.make({ timers: { t1: 100 } }).pipe(Effect.provideService(Transport, transport))
    return Layer.mergeAll(
      Layer.succeed(Transport, transport),
      Layer.succeed(TransactionLayer.TransactionLayer, tl),
      Resolver.memory(dns),
    )
  })

/** Registrar, presence server and MESSAGE relay on udp+tcp 127.0.0.1:port. */
export const server = (
  port: number,
  options: { readonly maxBodySize?: number; readonly publishMinExpires?: number } = {},
): Effect.Effect<
  {
    readonly wire: Wire
    readonly presence: PresenceServer.PresenceServerShape
    readonly location: LocationService["Service"]
  },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const wire: Wire = { log: [] }
    const base = yield* endpoint(port, wire)
    const location = yield* Layer.build(MemoryLocation.layer())
    const env = Layer.merge(base, Layer.succeedContext(location))
    const registrar = yield* Registrar.make({}).pipe(Effect.provide(env))
    const presence = yield* PresenceServer.make({
      pollInterval: 100,
      publish: options.publishMinExpires === undefined ? undefined : { minExpires: options.publishMinExpires },
    }).pipe(Effect.provide(env))
    const relay = yield* MessageRelay.make({ maxBodySize: options.maxBodySize }).pipe(Effect.provide(env))
    const tl = yield* TransactionLayer.TransactionLayer.pipe(Effect.provide(base))
    const roles = [registrar, presence, relay]
    yield* tl.serve((tx) => {
      const role = roles.find((r) => r.methods.includes(tx.request.method))
      if (role !== undefined) role.handle(tx)
      else
        tx.respond(
          Message.response(tx.request, 405, undefined, {
            headers: [Header.raw("Allow", "REGISTER, SUBSCRIBE, PUBLISH, MESSAGE")],
          }),
        )
    })
    const locationService = yield* LocationService.pipe(Effect.provide(Layer.succeedContext(location)))
    return { wire, presence, location: locationService }
  })

/** A user agent with an RFC 6665 subscriber in front of it, the server as outbound proxy. */
export const agent = (
  aor: string,
  port: number,
  proxy: string,
): Effect.Effect<
  { readonly ua: UserAgent.UserAgent["Service"]; readonly subscriber: Subscriber.SubscriberShape; readonly wire: Wire },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const wire: Wire = { log: [] }
    const base = yield* endpoint(port, wire)
    const subscriber = yield* Subscriber.make({ aor, outboundProxy: proxy }).pipe(Effect.provide(base))
    const ua = yield* UserAgent.make({ aor, outboundProxy: proxy, requests: subscriber.handle }).pipe(
      Effect.provide(base),
    )
    return { ua, subscriber, wire }
  })

/** A bare client on udp+tcp 127.0.0.1:port: sends a request through a client transaction, gives the final response. */
export const client = (
  port: number,
): Effect.Effect<{ readonly out: Outbound.Outbound; readonly wire: Wire }, unknown, Scope.Scope> =>
  Effect.gen(function* () {
    const wire: Wire = { log: [] }
    const base = yield* endpoint(port, wire)
    const out = yield* Outbound.make.pipe(Effect.provide(base))
    return { out, wire }
  })

/** A UA (no outbound proxy) whose RFC 4235 dialog FSM feeds a `dialog` notifier on the same stack. */
export const observedUa = (
  aor: string,
  port: number,
): Effect.Effect<
  {
    readonly ua: UserAgent.UserAgent["Service"]
    readonly dialogs: DialogPackage.DialogState
    readonly notifier: Notifier.NotifierShape
  },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const base = yield* endpoint(port)
    const dialogs = DialogPackage.make({ entity: aor })
    const notifier = yield* Notifier.make({ packages: [dialogs.package] }).pipe(Effect.provide(base))
    dialogs.onChange((resource) => notifier.changed("dialog", resource))
    const takeSubscribe = (tx: Parameters<Notifier.NotifierShape["handle"]>[0]): boolean => {
      if (tx.request.method !== "SUBSCRIBE") return false
      notifier.handle(tx)
      return true
    }
    const ua = yield* UserAgent.make({ aor, requests: takeSubscribe, dialogEvents: dialogs.observe }).pipe(
      Effect.provide(base),
    )
    return { ua, dialogs, notifier }
  })

/** A UA with an RFC 6665 subscriber in front of it, talking to peers directly (no proxy). */
export const directAgent = (
  aor: string,
  port: number,
): Effect.Effect<
  { readonly ua: UserAgent.UserAgent["Service"]; readonly subscriber: Subscriber.SubscriberShape },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const base = yield* endpoint(port)
    const subscriber = yield* Subscriber.make({ aor }).pipe(Effect.provide(base))
    const ua = yield* UserAgent.make({ aor, requests: subscriber.handle }).pipe(Effect.provide(base))
    return { ua, subscriber }
  })
