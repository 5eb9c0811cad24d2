/**
 * A presence server (RFC 3856 §6): SUBSCRIBE to `presence` answered by the RFC 6665 notifier,
 * PUBLISH composed by the RFC 3903 compositor, and registrations read from the location
 * service (a registered AOR is open). The location service is polled for the presentities
 * that have watchers; any change NOTIFYs every watcher. Who may watch is the
 * `Authorization` policy of `@sipfx/event` (default: allow).
 */
import { Notifier, Runner } from "@sipfx/event"
import { type Aor, type Binding, LocationService } from "@sipfx/location"
import { Header, Headers, Message } from "@sipfx/message"
import type { TransactionLayer } from "@sipfx/transaction"
import type { Resolver, Transport } from "@sipfx/transport"
import { Clock, Context, Effect, FiberSet, Layer, type Scope } from "effect"
import { Compositor, type Options as PublishOptions, defaults as publishDefaults } from "./Compositor.ts"
import * as PresencePackage from "./PresencePackage.ts"

export interface Options {
  /** served domains; empty: any */
  readonly domains?: ReadonlyArray<string> | undefined
  /** how often the location service is read for watched presentities (ms) */
  readonly pollInterval?: number | undefined
  readonly publish?: Partial<PublishOptions> | undefined
}

export interface PresenceServerShape {
  readonly methods: ReadonlyArray<string>
  readonly handle: (tx: TransactionLayer.ServerTransaction) => void
  /** the composed document of a presentity */
  readonly document: (aor: string) => ReturnType<typeof PresencePackage.compose>
  /** reads the location service now and notifies on change (the poller does it on its own) */
  readonly refresh: Effect.Effect<void>
  readonly notifier: Notifier.NotifierShape
}

export class PresenceServer extends Context.Service<PresenceServer, PresenceServerShape>()(
  "@sipfx/presence/PresenceServer",
) {}

let tagCounter = 0
const tagPrefix = Math.floor(Math.random() * 0xffffffff).toString(36)

export const make = (
  options: Options = {},
): Effect.Effect<
  PresenceServerShape,
  never,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | LocationService | Scope.Scope
> =>
  Effect.gen(function* () {
    const location = yield* LocationService
    const clock = yield* Clock.Clock
    const run = yield* FiberSet.makeRuntime<never>()
    const domains = (options.domains ?? []).map((d) => d.toLowerCase())
    const registered = new Map<string, ReadonlyArray<string>>()
    const contactsOf = (bindings: ReadonlyArray<Binding.Binding>) => bindings.map((b) => b.contact).sort()
    const readRegistered = (aor: string): ReadonlyArray<string> => {
      if (location.lookupSync !== undefined) return contactsOf(location.lookupSync(aor as Aor.Aor))
      return registered.get(aor) ?? []
    }
    let notifier: Notifier.NotifierShape | undefined
    const compositor = new Compositor(
      { ...publishDefaults, ...options.publish },
      Runner.effectTimers(run),
      () => clock.currentTimeMillisUnsafe(),
      (aor) => notifier?.changed("presence", aor),
    )
    const pkg = PresencePackage.make({
      domains,
      publications: (aor) => compositor.publications(aor).map((p) => p.document),
      registered: readRegistered,
    })
    notifier = yield* Notifier.make({ packages: [pkg] })
    const n = notifier

    // RFC 3856 §6.6: registrations are a source of presence; poll the watched presentities
    const refresh = Effect.gen(function* () {
      const watched = new Set(n.subscriptions().map((s) => s.resource))
      for (const aor of watched) {
        const now = contactsOf(yield* Effect.orElseSucceed(location.lookup(aor as Aor.Aor), () => []))
        const before = registered.get(aor) ?? []
        registered.set(aor, now)
        if (now.join("\n") !== before.join("\n") || location.lookupSync !== undefined) n.changed("presence", aor)
      }
      for (const aor of [...registered.keys()]) if (!watched.has(aor)) registered.delete(aor)
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(options.pollInterval ?? 1000), refresh)))

    const answer = (
      tx: TransactionLayer.ServerTransaction,
      status: number,
      headers: ReadonlyArray<Header.Header> = [],
      reason?: string,
    ): undefined => {
      tx.respond(
        Message.response(tx.request, status, reason, { toTag: `${tagPrefix}p${(tagCounter++).toString(36)}`, headers }),
      )
    }

    const publish = (tx: TransactionLayer.ServerTransaction): undefined => {
      const request = tx.request
      let ev: ReturnType<typeof Message.first<{ package: string }>>
      try {
        ev = Message.first(request, Headers.Event)
      } catch {
        ev = undefined
      }
      // RFC 3903 §6 step 2: only packages we compose; 489 otherwise
      if (ev === undefined || ev.package.toLowerCase() !== "presence")
        return answer(tx, 489, [Header.raw("Allow-Events", "presence")])
      const aor = pkg.resourceOf(request)
      if (aor === undefined) return answer(tx, 404)
      const outcome = compositor.publish(aor, {
        ifMatch: Message.header(request, "SIP-If-Match")?.trim(),
        expires: Message.first(request, Headers.Expires),
        body: request.body,
        contentType: Message.contentType(request),
      })
      switch (outcome._tag) {
        case "Ok":
          return answer(tx, 200, [Header.raw("SIP-ETag", outcome.etag), Header.make(Headers.Expires, outcome.expires)])
        case "Removed":
          return answer(tx, 200, [Header.make(Headers.Expires, 0)])
        case "Reject":
          return answer(
            tx,
            outcome.status,
            outcome.status === 423
              ? [Header.make(Headers.MinExpires, outcome.minExpires ?? 60)]
              : outcome.status === 415
                ? [Header.raw("Accept", "application/pidf+xml")]
                : [],
            outcome.reason,
          )
      }
    }

    const handle = (tx: TransactionLayer.ServerTransaction): undefined => {
      if (tx.request.method === "PUBLISH") return publish(tx)
      n.handle(tx)
    }

    return {
      methods: ["SUBSCRIBE", "PUBLISH"],
      handle,
      document: (aor) =>
        PresencePackage.compose(aor, {
          domains,
          publications: (a) => compositor.publications(a).map((p) => p.document),
          registered: readRegistered,
        }),
      refresh,
      notifier: n,
    } satisfies PresenceServerShape
  })

export const layer = (
  options?: Options,
): Layer.Layer<
  PresenceServer,
  never,
  TransactionLayer.TransactionLayer | Transport | Resolver.Resolver | LocationService
> =>
  Layer.effect(
    PresenceServer,
    Effect.map(make(options), (s) => PresenceServer.of(s)),
  )
