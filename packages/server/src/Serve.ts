/**
 * `sipfx serve` as Layers: NodeTransport → TransactionLayer → roles (registrar, redirect)
 * behind one dispatcher, over the in-memory or Redis location service.
 */
import { Credentials } from "@sipfx/auth"
import { type LocationService, type LocationStoreError, MemoryLocation, RedisLocation } from "@sipfx/location"
import { MessageRelay, PresenceServer } from "@sipfx/presence"
import { NextHops, Router, StatefulProxy } from "@sipfx/proxy"
import { Redirect } from "@sipfx/redirect"
import { Registrar } from "@sipfx/registrar"
import { TransactionLayer } from "@sipfx/transaction"
import {
  NodeTransport,
  Resolver,
  Transport,
  type Config as TransportConfig,
  type TransportError,
} from "@sipfx/transport"
import { Effect, Layer } from "effect"
import * as Roles from "./Roles.ts"

export interface ServeConfig {
  /** listen URLs (`udp://127.0.0.1:5060`, `tcp://…`, `tls://…`, `ws://…`) */
  readonly listen: ReadonlyArray<string>
  /** served domains (§10.3 step 1); empty: any */
  readonly domains: ReadonlyArray<string>
  /** `memory` or a `redis://` URL */
  readonly location: string
  /** closed user list (§10.3 step 5); empty: anyone */
  readonly users: ReadonlyArray<string>
  /** digest authentication when set: realm, HMAC secret for nonces, user → password */
  readonly auth?:
    | { readonly realm: string; readonly secret: string; readonly credentials: Readonly<Record<string, string>> }
    | undefined
  readonly minExpires: number
  readonly maxExpires: number
  readonly defaultExpires: number
  /** static redirect targets: AOR → contacts */
  readonly mappings: Readonly<Record<string, ReadonlyArray<string>>>
  /**
   * SO_RCVBUF of the UDP sockets, bytes (the kernel caps it at net.core.rmem_max). A burst
   * beyond it is dropped by the kernel and comes back as retransmissions (§17.1.2.2), so a
   * registrar wants a deep one: a 50 ms pause at 6 000 REGISTER/s is 300 datagrams.
   */
  readonly udpReceiveBuffer: number
  /**
   * Where the proxy may send besides registered contacts (`address`, `address:port`, `a.b.c.d/len`):
   * it is never an open relay (RFC 3261 §26.3.2.2 concerns; §16.5 foreign domains refused).
   */
  readonly peers: ReadonlyArray<string>
  /** answer INVITE & co with 302 to the bindings (§8.3) rather than proxying them (§16) */
  readonly redirect: boolean
}

export const defaults: ServeConfig = {
  // loopback only: the default exposes nothing and relays nowhere
  listen: ["udp://127.0.0.1:5060", "tcp://127.0.0.1:5060"],
  domains: [],
  location: "memory",
  users: [],
  auth: undefined,
  minExpires: 60,
  maxExpires: 7200,
  defaultExpires: 3600,
  mappings: {},
  udpReceiveBuffer: 4 * 1024 * 1024,
  peers: [],
  redirect: false,
}

/** methods the redirect role answers with `redirect` on */
export const redirectMethods = ["INVITE", "MESSAGE", "SUBSCRIBE", "REFER"]

/** methods the proxy takes (presence and the MESSAGE relay, earlier in the table, keep theirs) */
export const proxyMethods = [
  "INVITE",
  "CANCEL",
  "BYE",
  "MESSAGE",
  "SUBSCRIBE",
  "NOTIFY",
  "REFER",
  "UPDATE",
  "INFO",
  "PRACK",
]

/**
 * The proxy co-located with the registrar: targets are the bindings of our domains; requests
 * for other domains are refused unless in a dialog we record-routed, and then only towards a
 * registered contact (learned when the dialog started) or a configured peer.
 */
export const proxyLayer = (config: ServeConfig) => {
  const learned = NextHops.learned()
  return StatefulProxy.layer({
    nextHops: NextHops.either(NextHops.allow(config.peers), learned.policy),
    registered: learned,
    domains: config.domains,
    methods: proxyMethods,
    validation: { supported: ["path"] },
  }).pipe(
    Layer.provide(Router.location({ foreign: "routed", users: config.users.length === 0 ? undefined : config.users })),
  )
}

export const locationLayer = (url: string): Layer.Layer<LocationService, LocationStoreError> =>
  url === "memory" ? MemoryLocation.layer() : RedisLocation.layer({ url })

/** Announces the bound listen points (ports resolved when 0 was asked). */
const announce = Layer.effectDiscard(
  Effect.gen(function* () {
    const transport = yield* Transport
    const points = transport.listenPoints.map(
      (p) => `${p.protocol.toLowerCase()}://${p.address.includes(":") ? `[${p.address}]` : p.address}:${p.port}`,
    )
    yield* Effect.logInfo(`sipfx listening on ${points.join(" ")}`)
  }),
)

export const layer = (
  config: ServeConfig,
): Layer.Layer<
  never,
  TransportError | TransportConfig.TransportConfigError | LocationStoreError | Registrar.RegistrarConfigError
> => {
  const transport = NodeTransport.layer({
    listen: config.listen,
    limits: { udpReceiveBuffer: config.udpReceiveBuffer },
  })
  const transactions = TransactionLayer.layer().pipe(Layer.provideMerge(transport))
  const credentials =
    config.auth === undefined ? Layer.empty : Credentials.layer({ [config.auth.realm]: config.auth.credentials })
  const storage = Layer.merge(locationLayer(config.location), credentials)
  const list = (xs: ReadonlyArray<string>) => (xs.length === 0 ? undefined : xs)
  const roles = Layer.mergeAll(
    Registrar.layer({
      domains: list(config.domains),
      users: list(config.users),
      minExpires: config.minExpires,
      maxExpires: config.maxExpires,
      defaultExpires: config.defaultExpires,
      auth:
        config.auth === undefined
          ? undefined
          : { realm: config.auth.realm, secret: new TextEncoder().encode(config.auth.secret) },
    }),
    Redirect.layer({ users: list(config.users), mappings: config.mappings, methods: redirectMethods }),
    proxyLayer(config),
    // presence (SUBSCRIBE/PUBLISH, RFC 3856/3903) and the MESSAGE relay (RFC 3428) over the same location data
    PresenceServer.layer({ domains: list(config.domains) }),
    MessageRelay.layer({ domains: list(config.domains) }),
  ).pipe(Layer.provide(storage), Layer.provide(Resolver.layer()), Layer.provide(transactions))
  // first role naming a method wins: presence and the relay take SUBSCRIBE and MESSAGE before the redirect role
  const dispatch = Roles.layer(
    Effect.all([
      Registrar.Registrar,
      PresenceServer.PresenceServer,
      MessageRelay.MessageRelay,
      config.redirect ? Redirect.Redirect : StatefulProxy.StatefulProxy,
    ]),
    { supported: ["path"] },
  )
  return Layer.mergeAll(dispatch, announce).pipe(Layer.provide(roles), Layer.provide(transactions))
}
