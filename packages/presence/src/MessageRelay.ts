/**
 * A minimal MESSAGE relay (RFC 3428 §7 through a registrar's location data): a MESSAGE to an
 * AOR is forwarded to every registered contact at once (forked, RFC 3261 §16.6 as a
 * stateful proxy), the first 2xx is passed back, otherwise the best final response (§16.7:
 * the lowest class). 480 when no contact is registered, 513 when the body is over the size
 * limit (RFC 3428 §8), 483 when Max-Forwards is exhausted (§16.3).
 */
import { Outbound } from "@sipfx/event"
import { Aor, LocationService } from "@sipfx/location"
import { Header, Headers, Message, type SipResponse, Uri } from "@sipfx/message"
import type { TransactionLayer } from "@sipfx/transaction"
import { type Resolver, Routing, type Transport } from "@sipfx/transport"
import { Context, Effect, FiberSet, Layer, type Scope } from "effect"

export interface Options {
  /** largest body relayed (bytes); RFC 3428 §8 puts 1300 as the limit without congestion control */
  readonly maxBodySize?: number | undefined
  /** served domains; empty: any */
  readonly domains?: ReadonlyArray<string> | undefined
}

export interface MessageRelayShape {
  readonly methods: ReadonlyArray<string>
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
}

export class MessageRelay extends Context.Service<MessageRelay, MessageRelayShape>()("@sipfx/presence/MessageRelay") {}

/** The same server transaction, seen with a preprocessed request (responses still go through it). */
const withRequest = (
  tx: TransactionLayer.ServerTransaction,
  request: TransactionLayer.ServerTransaction["request"],
): TransactionLayer.ServerTransaction => ({
  id: tx.id,
  request,
  source: tx.source,
  destination: tx.destination,
  get state() {
    return tx.state
  },
  cancelMatched: tx.cancelMatched,
  cancels: tx.cancels,
  get lastResponse() {
    return tx.lastResponse
  },
  get tu() {
    return tx.tu
  },
  set tu(value) {
    tx.tu = value
  },
  respond: (r) => tx.respond(r),
  listen: (l) => tx.listen(l),
})

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)

export const make = (
  options: Options = {},
): Effect.Effect<
  MessageRelayShape,
  never,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | LocationService | Scope.Scope
> =>
  Effect.gen(function* () {
    const location = yield* LocationService
    const out = yield* Outbound.make
    const run = yield* FiberSet.makeRuntime<never>()
    const maxBody = options.maxBodySize ?? 1300
    const domains = (options.domains ?? []).map((d) => d.toLowerCase())

    const answer = (tx: TransactionLayer.ServerTransaction, status: number): undefined => {
      tx.respond(
        Message.response(tx.request, status, undefined, { toTag: `${tagPrefix}m${(tagCounter++).toString(36)}` }),
      )
    }

    const forward = (tx: TransactionLayer.ServerTransaction, contacts: ReadonlyArray<string>) =>
      Effect.gen(function* () {
        const request = tx.request
        const maxForwards = Message.maxForwards(request) ?? 70
        let pending = 0
        let done = false
        const finals: Array<SipResponse> = []
        const relay = (r: SipResponse) => {
          // §16.7 step 9: our Via goes, the rest of the response is passed back unchanged
          tx.respond(Message.removeFirst(r, Headers.Via))
        }
        const settle = () => {
          if (done || pending > 0) return
          done = true
          if (finals.length === 0) return answer(tx, 480)
          // §16.7 step 6: the lowest class (6xx aside, rare for MESSAGE)
          finals.sort((a, b) => a.status - b.status)
          relay(finals[0]!)
        }
        for (const contact of contacts) {
          const uri = Uri.decode(contact)
          if (uri._tag === "UriError") continue
          const destination = yield* Effect.option(out.locate(uri))
          if (destination._tag === "None") continue
          const point = out.pointFor(destination.value.protocol)
          if (point === undefined) continue
          // §16.6: new Request-URI, Max-Forwards - 1, our Via on top
          let copy = Message.setHeader({ ...request, uri }, Header.make(Headers.MaxForwards, maxForwards - 1))
          copy = Message.prependHeader(
            copy,
            Header.raw("Via", `SIP/2.0/${point.protocol} ${point.address}:${point.port};branch=${Routing.newBranch()}`),
          )
          pending++
          let counted = false
          const final = (r: SipResponse) => {
            if (counted) return
            counted = true
            pending--
            if (done) return
            if (r.status >= 200 && r.status < 300) {
              done = true
              relay(r)
              return
            }
            finals.push(r)
            settle()
          }
          const started = out.start(
            copy,
            destination.value,
            {
              onResponse: (r) => {
                if (r.status >= 200) final(r)
              },
              onTimeout: () => final(Message.response(copy, 408)),
              onTransportError: () => final(Message.response(copy, 503)),
            },
            true,
          )
          if (!started) final(Message.response(copy, 503))
        }
        settle()
      })

    // §16.4: a Route naming us (the UA's outbound proxy) is ours to remove
    const isUs = (uri: Uri.Uri): boolean =>
      uri._tag === "SipUri" &&
      [out.pointFor("UDP"), out.pointFor("TCP"), out.pointFor("TLS")].some(
        (p) => p !== undefined && p.address === uri.host.replace(/^\[|\]$/g, "") && p.port === (uri.port ?? 5060),
      )

    const handle = (tx0: TransactionLayer.ServerTransaction): undefined => {
      const top = Message.first(tx0.request, Headers.Route)
      const request = top !== undefined && isUs(top.uri) ? Message.removeFirst(tx0.request, Headers.Route) : tx0.request
      const tx = request === tx0.request ? tx0 : withRequest(tx0, request)
      // RFC 3428 §8: too large for a relay without congestion control
      if (request.body.length > maxBody) return answer(tx, 513)
      if ((Message.maxForwards(request) ?? 70) <= 0) return answer(tx, 483)
      const uri = request.uri
      if (uri._tag !== "SipUri" || (domains.length > 0 && !domains.includes(uri.host.toLowerCase())))
        return answer(tx, 404)
      const aor = Aor.canonical(uri)
      run(
        Effect.gen(function* () {
          const bindings = yield* Effect.orElseSucceed(location.lookup(aor), () => [])
          // §10: no registered contact → 480 Temporarily Unavailable
          if (bindings.length === 0) return answer(tx, 480)
          yield* forward(
            tx,
            bindings.map((b) => b.contact),
          )
        }),
      )
    }

    return { methods: ["MESSAGE"], handle } satisfies MessageRelayShape
  })

export const layer = (
  options?: Options,
): Layer.Layer<
  MessageRelay,
  never,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | LocationService
> =>
  Layer.effect(
    MessageRelay,
    Effect.map(make(options), (s) => MessageRelay.of(s)),
  )
