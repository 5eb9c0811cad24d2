/**
 * Sending a request from a TU that is not the user agent core: locate the next hop (RFC 3263
 * via the Resolver), stamp the top Via for the chosen listening point (§18.1.1, RFC 3581
 * rport), start a client transaction. Requests of one subscription go out in order: the
 * destination is resolved once and kept (it changes only with the remote target).
 */
import { Headers, Message, type SipRequest, type SipResponse, Uri } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import {
  type Destination,
  type ListenPoint,
  type Protocol,
  Resolver,
  Routing,
  Transport,
  type TransportError,
} from "@sipfx/transport"
import { Effect, Result } from "effect"
import { NoRoute } from "./Errors.ts"

export interface Outbound {
  readonly locate: (next: Uri.Uri) => Effect.Effect<Destination, NoRoute>
  /**
   * starts a client transaction with a fresh top Via; false when the layer refused the request.
   * `proxied`: the request already carries the Vias of earlier hops and a new top Via to fill in (§16.6 step 8).
   */
  readonly start: (
    request: SipRequest,
    destination: Destination,
    callbacks: TransactionLayer.ClientCallbacks,
    proxied?: boolean,
  ) => boolean
  /** locate + start; resolves with the final response (408 on Timer F, 503 on a transport error, §8.1.3.1) */
  readonly request: (request: SipRequest, next: Uri.Uri) => Effect.Effect<SipResponse, NoRoute>
  readonly pointFor: (protocol: Protocol) => ListenPoint | undefined
  /** our address on a transport, as a SIP URI (`sip:user@host:port;transport=tcp`) */
  readonly contactUri: (protocol: Protocol, user?: string) => Uri.Uri
}

export const make = Effect.gen(function* () {
  const tl = yield* TransactionLayer.TransactionLayer
  const transport = yield* Transport
  const resolver = yield* Resolver.Resolver
  const supported = [...new Set(transport.listenPoints.map((p) => p.protocol))]
  const pointFor = (protocol: Protocol) => transport.listenPoints.find((p) => p.protocol === protocol)

  const locate = (next: Uri.Uri): Effect.Effect<Destination, NoRoute> =>
    next._tag !== "SipUri"
      ? Effect.fail(new NoRoute({ reason: `cannot route to ${Uri.format(next)}` }))
      : resolver.resolve(next, { supported }).pipe(
          Effect.mapError((e: TransportError) => new NoRoute({ reason: e.message })),
          Effect.flatMap((found) =>
            found[0] === undefined
              ? Effect.fail(new NoRoute({ reason: `${Uri.format(next)} does not resolve` }))
              : Effect.succeed(found[0]),
          ),
        )

  const start = (
    request: SipRequest,
    destination: Destination,
    callbacks: TransactionLayer.ClientCallbacks,
    proxied = false,
  ): boolean => {
    const point = pointFor(destination.protocol)
    if (point === undefined) return false
    const stamped = Routing.prepareRequest(proxied ? request : Message.removeAll(request, Headers.Via), point, {
      rport: true,
    })
    return Result.isSuccess(tl.sendRequest(stamped, destination, callbacks))
  }

  const synthetic = (request: SipRequest, status: number): SipResponse => Message.response(request, status)

  const request = (req: SipRequest, next: Uri.Uri): Effect.Effect<SipResponse, NoRoute> =>
    Effect.flatMap(locate(next), (destination) =>
      Effect.callback<SipResponse, NoRoute>((resume) => {
        let done = false
        const finish = (r: SipResponse) => {
          if (done) return
          done = true
          resume(Effect.succeed(r))
        }
        const ok = start(req, destination, {
          onResponse: (r) => {
            if (r.status >= 200) finish(r)
          },
          onTimeout: () => finish(synthetic(req, 408)),
          onTransportError: () => finish(synthetic(req, 503)),
        })
        if (!ok) resume(Effect.fail(new NoRoute({ reason: `no ${destination.protocol} listening point` })))
      }),
    )

  const contactUri = (protocol: Protocol, user?: string): Uri.Uri => {
    const p = pointFor(protocol) ?? transport.listenPoints[0]!
    const host = p.sentBy ?? (p.address.includes(":") ? `[${p.address}]` : p.address)
    return Uri.sip({
      user,
      host,
      port: p.port,
      params: p.protocol === "UDP" ? [] : [["transport", p.protocol.toLowerCase()]],
    })
  }

  return { locate, start, request, pointFor, contactUri } satisfies Outbound
})
