/**
 * In-memory LocationService: one Map from AOR to its bindings, a binding being one compact
 * record (a lone binding is stored without an array around it). Expiry follows Effect's Clock:
 * lookups skip expired bindings at once, and one sweeper fiber purges them in slices.
 */
import { Clock, Duration, Effect, Layer } from "effect"
import type { Aor } from "./Aor.ts"
import { contactKey, contactOf, flat, type Stored, toBinding } from "./Binding.ts"
import { byPreference, LocationService, type UpdateResult } from "./LocationService.ts"
import { apply, type Changes, InvalidChange, live, RegistrationConflict } from "./Registration.ts"

export interface Options {
  /** how often the sweeper purges expired bindings (default 30 s) */
  readonly sweepInterval?: Duration.Input
  /** AORs examined per slice before yielding to other fibers (default 10 000) */
  readonly sweepSlice?: number
}

type Slot = Stored | Array<Stored>

const list = (slot: Slot | undefined): ReadonlyArray<Stored> =>
  slot === undefined ? [] : Array.isArray(slot) ? slot : [slot as Stored]

/**
 * Creates the service over a fresh Map (no sweeper; `layer` adds one). `updateSync` and
 * `lookupSync` read the Clock the service was made with; the Effect forms read the caller's.
 */
export const make = (options: Options = {}) =>
  Clock.clockWith((clock) => {
    const origin = clock.currentTimeMillisUnsafe()
    // expiries are kept relative to the service's start (small integers, not boxed doubles)
    const table = new Map<string, Slot>()
    let bindings = 0
    const slice = options.sweepSlice ?? 10_000

    const store = (aor: string, next: ReadonlyArray<Stored>, before: number) => {
      bindings += next.length - before
      if (next.length === 0) table.delete(aor)
      else table.set(before === 0 ? flat(aor) : aor, next.length === 1 ? next[0]! : (next as Array<Stored>))
    }

    const sorted = (aor: Aor, stored: ReadonlyArray<Stored>) =>
      (stored.length > 1 ? stored.slice().sort(byPreference) : stored).map((s) => toBinding(aor, s, origin))

    // synchronous from read to write: nothing can interleave (§10.3 step 7 atomicity)
    const updateAt = (aor: Aor, changes: Changes, now: number): UpdateResult | RegistrationConflict | InvalidChange => {
      const current = list(table.get(aor))
      const result = apply(current, changes, now - origin)
      if (result._tag === "InvalidChange") return result
      if (result._tag === "Refused") return new RegistrationConflict({ aor, conflicts: result.conflicts })
      store(aor, result.next, current.length)
      return {
        bindings: sorted(aor, result.next),
        added: result.added,
        refreshed: result.refreshed,
        removed: result.removed,
      }
    }

    const update = (aor: Aor, changes: Changes) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now): Effect.Effect<UpdateResult, RegistrationConflict | InvalidChange> => {
          const r = updateAt(aor, changes, now)
          return r instanceof RegistrationConflict || r instanceof InvalidChange ? Effect.fail(r) : Effect.succeed(r)
        },
      )

    const lookupAt = (aor: Aor, now: number) => sorted(aor, live(list(table.get(aor)), now - origin))

    const lookup = (aor: Aor) => Effect.map(Clock.currentTimeMillis, (now) => lookupAt(aor, now))

    const remove = (aor: Aor, contact?: string) =>
      Effect.sync(() => {
        const current = list(table.get(aor))
        if (contact === undefined) {
          store(aor, [], current.length)
          return current.length
        }
        const key = contactKey(contact)
        const next = current.filter((s) => contactKey(contactOf(s)) !== key)
        store(aor, next, current.length)
        return current.length - next.length
      })

    const purgeExpired = Effect.gen(function* () {
      const now = (yield* Clock.currentTimeMillis) - origin
      let purged = 0
      let seen = 0
      // Map iteration tolerates deletion; yielding between slices keeps the event loop responsive
      for (const [aor, slot] of table) {
        if (Array.isArray(slot)) {
          const next = live(slot, now)
          if (next !== slot) {
            purged += slot.length - next.length
            store(aor, next, slot.length)
          }
        } else if ((slot as Stored).expiresAt <= now) {
          purged++
          store(aor, [], 1)
        }
        if (++seen % slice === 0) yield* Effect.yieldNow
      }
      return purged
    })

    const service = LocationService.of({
      update,
      lookup,
      remove,
      purgeExpired,
      size: Effect.sync(() => ({ aors: table.size, bindings })),
      updateSync: (aor, changes) => updateAt(aor, changes, clock.currentTimeMillisUnsafe()),
      lookupSync: (aor) => lookupAt(aor, clock.currentTimeMillisUnsafe()),
    })
    return Effect.succeed(service)
  })

/** The embedded location service, with its sweeper fiber tied to the Layer's scope. */
export const layer = (options: Options = {}): Layer.Layer<LocationService> =>
  Layer.effect(
    LocationService,
    Effect.gen(function* () {
      const service = yield* make(options)
      const every = Duration.fromInputUnsafe(options.sweepInterval ?? "30 seconds")
      yield* service.purgeExpired.pipe(Effect.delay(every), Effect.forever, Effect.forkScoped)
      return service
    }),
  )
