/**
 * A stateless proxy (RFC 3261 §16.11): every request and response is forwarded on its own,
 * without transactions or response contexts. The §16.3 checks that need no state, §16.4
 * preprocessing, one target from the same `Router` policy, §16.6 copying with a branch that is
 * a function of the request (so a retransmission, its CANCEL and its non-2xx ACK take the same
 * branch and path) and responses sent up after their top Via is popped. Every destination,
 * request or response, passes the outbound `NextHopPolicy` first.
 */
import { Header, Headers, Message, type SipRequest, type SipResponse, type SipUri, Uri, type Via } from "@sipfx/message"
import {
  type Destination,
  type Inbound,
  type ListenPoint,
  type Protocol,
  Resolver,
  Routing,
  type Source,
  Transport,
  type TransportError,
} from "@sipfx/transport"
import { Context, Effect, Layer } from "effect"
import * as Branch from "./Branch.ts"
import type { RoutingFailed } from "./Errors.ts"
import * as Numeric from "./Numeric.ts"
import * as RouteInfo from "./RouteInfo.ts"
import { type Decision, Router } from "./Router.ts"
import * as Self from "./Self.ts"
import { copyFor, type Options as StatefulOptions } from "./StatefulProxy.ts"
import * as Validation from "./Validation.ts"

/** The stateful proxy's options that apply without state: routing, outbound policy, Record-Route, §16.3. */
export type Options = Pick<StatefulOptions, "nextHops" | "domains" | "aliases" | "recordRoute" | "validation">

export interface Stats {
  readonly requests: number
  readonly responses: number
  /** requests answered by the proxy itself (§16.3 rejections, Router responses, 403/408) */
  readonly answered: number
  /** destinations refused by the next-hop policy */
  readonly refused: number
  /** messages dropped: responses without our Via, ACKs that could not be forwarded */
  readonly dropped: number
}

export interface StatelessShape {
  /** takes one inbound message (what `Transport.subscribe` hands over) */
  readonly handle: (inbound: Inbound) => void
  readonly stats: () => Stats
}

export class StatelessProxy extends Context.Service<StatelessProxy, StatelessShape>()("@sipfx/proxy/StatelessProxy") {}

const bracket = (host: string) => (host.includes(":") && !host.startsWith("[") ? `[${host}]` : host)
const wildcard = (address: string) => address === "0.0.0.0" || address === "::"
const hostOf = (p: ListenPoint): string =>
  bracket(p.sentBy ?? (wildcard(p.address) ? (p.address === "::" ? "::1" : "127.0.0.1") : p.address))

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)

export const make = (options: Options): Effect.Effect<StatelessShape, never, Transport | Resolver.Resolver | Router> =>
  Effect.gen(function* () {
    const transport = yield* Transport
    const resolver = yield* Resolver.Resolver
    const router = yield* Router
    const routeSync = router.routeSync
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const self = Self.make(transport.listenPoints, options)
    const supported: ReadonlyArray<Protocol> = [...new Set(transport.listenPoints.map((p) => p.protocol))]
    const recordRoute = options.recordRoute ?? true
    let requests = 0
    let responses = 0
    let answered = 0
    let refused = 0
    let dropped = 0

    const ignore = (_: TransportError) => {}
    const sendNow = transport.sendNow
    const send = (message: SipRequest | SipResponse, destination: Destination): void => {
      if (sendNow !== undefined) sendNow(message, destination, ignore)
      else run(Effect.ignore(transport.send(message, destination)))
    }

    /** a response of our own, sent statelessly (§16.11, §8.2.6); never to an ACK */
    const reply = (
      request: SipRequest,
      source: Source,
      status: number,
      reason?: string,
      headers?: ReadonlyArray<Header.Header>,
    ): void => {
      if (request.method === "ACK") {
        dropped++
        return
      }
      // §16.11: the To tag must be the same for retransmissions, so it is derived from the branch
      const toTag = `${tagPrefix}s${(tagCounter++).toString(36)}`
      const response = Message.response(request, status, reason, {
        toTag: Message.branch(request) ?? toTag,
        headers: headers ?? [],
      })
      const destination = Routing.responseDestination(response, source)
      if ("_tag" in destination) return
      answered++
      send(response, destination)
    }

    const resolve = (uri: Uri.Uri): Effect.Effect<ReadonlyArray<Destination>> =>
      uri._tag !== "SipUri"
        ? Effect.succeed([])
        : resolver.resolve(uri as SipUri, { supported }).pipe(Effect.orElseSucceed(() => []))

    /** §16.11: the copy leaves on the first destination the policy allows (no failover). */
    const relay = (
      received: SipRequest,
      source: Source,
      forwarded: { readonly request: SipRequest; readonly strict: boolean },
      nextHop: Uri.Uri,
      found: ReadonlyArray<Destination>,
    ): void => {
      if (found.length === 0) {
        reply(received, source, 408) // §16.6 step 7: no destination, as if 408
        return
      }
      // a stateless element cannot fail over: the first destination the policy allows
      let destination: Destination | undefined
      for (const d of found) {
        if (options.nextHops(d)) {
          destination = d
          break
        }
        refused++
      }
      const point = destination === undefined ? undefined : self.pointFor(destination.protocol)
      if (destination === undefined || point === undefined) {
        reply(received, source, 403, "Forbidden (next hop not allowed)")
        return
      }
      const via: Via = {
        protocol: "SIP",
        version: "2.0",
        transport: destination.protocol,
        host: hostOf(point),
        port: point.port,
        params: [
          ["branch", Branch.stateless(received, Uri.format(nextHop))],
          ["rport", null],
        ],
      }
      let out = forwarded.request
      if (recordRoute && received.method !== "ACK" && received.method !== "CANCEL") {
        const sips = out.uri._tag === "SipUri" && out.uri.scheme === "sips"
        out = Message.prependHeader(
          out,
          Header.raw(
            "Record-Route",
            `<${sips ? "sips" : "sip"}:${hostOf(point)}:${point.port}${point.protocol === "UDP" || sips ? "" : `;transport=${point.protocol.toLowerCase()}`};lr>`,
          ),
        )
      }
      out = Message.prependHeader(out, Header.make(Headers.Via, via))
      requests++
      send(out, destination)
    }

    /** §16.11: one target, §16.6 copy, deterministic branch; a fiber only for a Router or DNS that does I/O. */
    const forward = (received: SipRequest, source: Source, request: SipRequest): void => {
      const first = Message.first(received, Headers.Route)
      const routedViaUs = first !== undefined && Self.isUs(self, first.uri)
      const input = { request, source, ours: Self.isOurDomain(self, request.uri), routedViaUs }
      const decided = (decision: Decision | RoutingFailed): void => {
        if (decision._tag === "RoutingFailed") {
          reply(received, source, 500, `Server Internal Error (${decision.reason})`)
          return
        }
        if (decision._tag === "Respond") {
          reply(received, source, decision.status, decision.reason, decision.headers)
          return
        }
        // §16.11: one and only one target, chosen from the message alone (the Router's first)
        const target = decision.targets[0]
        if (target === undefined) {
          reply(received, source, 480)
          return
        }
        const forwarded = copyFor(request, target)
        const nextHop = RouteInfo.nextHopUri(forwarded)
        const known = target.destination ?? Numeric.destination(nextHop)
        if (known !== undefined) relay(received, source, forwarded, nextHop, [known])
        else run(Effect.map(resolve(nextHop), (found) => relay(received, source, forwarded, nextHop, found)))
      }
      if (routeSync !== undefined) decided(routeSync(input))
      else run(Effect.match(router.route(input), { onFailure: decided, onSuccess: decided }))
    }

    const onRequest = (received: SipRequest, source: Source) => {
      // §16.3 steps 1–5 (authentication, step 6, needs a challenge state: not in this mode)
      const rejection = Validation.check(self, received, options.validation)
      if (rejection !== undefined) {
        reply(received, source, rejection.status, rejection.reason, rejection.headers)
        return
      }
      forward(received, source, RouteInfo.preprocess(self, received))
    }

    /** §16.11: pop our Via and send to the next one; a response not carrying ours is dropped. */
    const onResponse = (response: SipResponse) => {
      const top = Message.topVia(response)
      if (top === undefined || !Self.isOurVia(self, top)) {
        dropped++
        return
      }
      const up = Message.removeFirst(response, "Via")
      if (Message.topVia(up) === undefined) {
        dropped++ // it was addressed to us
        return
      }
      const destination = Routing.responseDestination(up)
      if ("_tag" in destination) {
        dropped++
        return
      }
      if (!options.nextHops(destination)) {
        refused++
        return
      }
      responses++
      send(up, destination)
    }

    const handle = (inbound: Inbound): void => {
      const m = inbound.message
      if (m._tag === "SipRequest") onRequest(m, inbound.source)
      else onResponse(m)
    }

    return { handle, stats: () => ({ requests, responses, answered, refused, dropped }) }
  })

/** The stateless proxy as a service (it does not receive anything until `serve` subscribes it). */
export const layer = (options: Options): Layer.Layer<StatelessProxy, never, Transport | Resolver.Resolver | Router> =>
  Layer.effect(
    StatelessProxy,
    Effect.map(make(options), (shape) => StatelessProxy.of(shape)),
  )

/** The stateless proxy as the only user of the Transport: every inbound message goes to it. */
export const serve: Layer.Layer<never, never, StatelessProxy | Transport> = Layer.effectDiscard(
  Effect.gen(function* () {
    const proxy = yield* StatelessProxy
    const transport = yield* Transport
    yield* transport.subscribe(proxy.handle)
  }),
)
