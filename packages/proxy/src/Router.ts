/**
 * Target determination (RFC 3261 §16.5) as a replaceable service: a `Router` turns the
 * preprocessed request into targets (or a response). Users supply their own policy as an
 * Effect; `Router.location` is the default over the `LocationService`.
 */
import { Aor, type Binding, LocationService } from "@sipfx/location"
import { type Header, Headers, Message, type NameAddr, type SipRequest, Uri } from "@sipfx/message"
import type { Destination, Source } from "@sipfx/transport"
import { Context, Effect, Layer } from "effect"
import { RoutingFailed } from "./Errors.ts"

/** One element of the target set. */
export interface Target {
  readonly uri: Uri.Uri
  /** q-value (§20.10); targets of equal q form one group when forking sequentially */
  readonly q?: number | undefined
  /** Route values pushed ahead of the request's (local policy / RFC 3327 Path), §16.6 step 6 */
  readonly routes?: ReadonlyArray<NameAddr> | undefined
  /** send here rather than resolving the URI (e.g. the flow a REGISTER arrived on) */
  readonly destination?: Destination | undefined
  /** a contact registered with us (a binding of the location service): see `Options.registered` */
  readonly registered?: boolean | undefined
}

export type Decision =
  | { readonly _tag: "Forward"; readonly targets: ReadonlyArray<Target> }
  | {
      readonly _tag: "Respond"
      readonly status: number
      readonly reason?: string | undefined
      readonly headers?: ReadonlyArray<Header.Header> | undefined
    }

export interface RouteInput {
  /** the request after §16.4 (our Route removed, strict-router fix-up done) */
  readonly request: SipRequest
  readonly source: Source
  /** §16.5: the Request-URI's domain is one this proxy is responsible for */
  readonly ours: boolean
  /** the request carried our URI as its first Route (§16.12: loose routing through us) */
  readonly routedViaUs: boolean
}

export interface RouterShape {
  readonly route: (input: RouteInput) => Effect.Effect<Decision, RoutingFailed>
  /**
   * `route` as a plain call, for policies that decide without I/O (the default one over the
   * in-memory location store): the proxy then needs no fiber per request. Optional.
   */
  readonly routeSync?: ((input: RouteInput) => Decision | RoutingFailed) | undefined
}

export class Router extends Context.Service<Router, RouterShape>()("@sipfx/proxy/Router") {}

export const forward = (...targets: ReadonlyArray<Target>): Decision => ({ _tag: "Forward", targets })
export const respond = (status: number, reason?: string, headers?: ReadonlyArray<Header.Header>): Decision => ({
  _tag: "Respond",
  status,
  reason,
  headers,
})

export interface LocationOptions {
  /**
   * Requests for domains that are not ours (§16.5 "forward the Request-URI"): `forward` (default),
   * `routed` (only when they came through our Route, i.e. dialogs we record-routed, or carry a
   * To tag), `refuse` (403).
   */
  readonly foreign?: "forward" | "routed" | "refuse" | undefined
  /** known users: no binding → 480 for them, 404 for others (§16.5); default: 480 for anyone */
  readonly users?: ReadonlyArray<string> | undefined
}

const hasParam = (uri: Uri.Uri, name: string) =>
  uri._tag === "SipUri" && uri.params.some(([k]) => k.toLowerCase() === name)

const parsePath = (value: string): NameAddr | undefined => {
  try {
    return Headers.Route.parse(value)
  } catch {
    return undefined
  }
}

/** The default policy: §16.5 with the location service built by the registrar. */
export const location = (options: LocationOptions = {}): Layer.Layer<Router, never, LocationService> =>
  Layer.effect(
    Router,
    Effect.gen(function* () {
      const store = yield* LocationService
      const users = options.users === undefined ? undefined : new Set(options.users)
      const foreign = options.foreign ?? "forward"
      // §16.5: a maddr, or a domain we are not responsible for: the Request-URI is the only target
      const direct = (input: RouteInput): Decision | undefined => {
        const uri = input.request.uri
        if (!hasParam(uri, "maddr") && input.ours) return undefined
        const inDialog = input.routedViaUs || Message.toTag(input.request) !== undefined
        if (foreign === "refuse" || (foreign === "routed" && !inDialog))
          return respond(403, "Forbidden (relaying denied)")
        return forward({ uri })
      }
      const fromBindings = (uri: Uri.Uri, bindings: ReadonlyArray<Binding.Binding>): Decision => {
        if (bindings.length === 0) {
          const user = uri._tag === "SipUri" && uri.user !== undefined ? Uri.decodeEscapes(uri.user) : undefined
          // §16.5: a resource here that does not exist → 404; an empty target set → 480
          return users !== undefined && (user === undefined || !users.has(user)) ? respond(404) : respond(480)
        }
        const targets: Array<Target> = []
        for (const b of bindings) {
          const contact = Uri.decode(b.contact)
          if (contact._tag === "UriError") continue
          // §16.5: a URI is placed in the target set once
          if (targets.some((t) => Uri.equals(t.uri, contact))) continue
          const routes = b.path.flatMap((p) => parsePath(p) ?? [])
          targets.push({ uri: contact, q: b.q, routes, registered: true })
        }
        return targets.length === 0 ? respond(480) : forward(...targets)
      }
      const route = (input: RouteInput): Effect.Effect<Decision, RoutingFailed> => {
        const decided = direct(input)
        if (decided !== undefined) return Effect.succeed(decided)
        const uri = input.request.uri
        return store.lookup(Aor.canonical(uri)).pipe(
          Effect.mapError((e) => new RoutingFailed({ reason: e.reason, cause: e })),
          Effect.map((bindings) => fromBindings(uri, bindings)),
        )
      }
      const lookupSync = store.lookupSync
      const routeSync =
        lookupSync === undefined
          ? undefined
          : (input: RouteInput): Decision | RoutingFailed => {
              const decided = direct(input)
              if (decided !== undefined) return decided
              const uri = input.request.uri
              return fromBindings(uri, lookupSync(Aor.canonical(uri)))
            }
      return Router.of({ route, routeSync })
    }),
  )

/** A fixed policy from a function (tests, static routes). */
export const make = (route: (input: RouteInput) => Effect.Effect<Decision, RoutingFailed>): Layer.Layer<Router> =>
  Layer.succeed(Router, Router.of({ route }))

/** A policy that decides without I/O, as a plain function: the proxy runs it without a fiber. */
export const makeSync = (route: (input: RouteInput) => Decision | RoutingFailed): Layer.Layer<Router> =>
  Layer.succeed(
    Router,
    Router.of({
      route: (input) => {
        const decided = route(input)
        return decided._tag === "RoutingFailed" ? Effect.fail(decided) : Effect.succeed(decided)
      },
      routeSync: route,
    }),
  )
