/**
 * The location service (RFC 3261 §10.2, §10.3): bindings per address-of-record.
 * Implementations: `MemoryLocation.layer` (embedded) and `RedisLocation.layer` (shared).
 */
import { Context, Data, type Effect } from "effect"
import type { Aor } from "./Aor.ts"
import type { Binding, Stored } from "./Binding.ts"
import type { Changes, InvalidChange, RegistrationConflict } from "./Registration.ts"

/** The back end failed; §10.3 step 7: the REGISTER fails with 500 and nothing is committed. */
export class LocationStoreError extends Data.TaggedError("LocationStoreError")<{
  readonly reason: string
  readonly cause?: unknown
}> {}

export interface UpdateResult {
  /** all current bindings of the AOR after the update, highest q first (§10.3 step 8) */
  readonly bindings: ReadonlyArray<Binding>
  readonly added: number
  readonly refreshed: number
  /** removed by the request, or found expired */
  readonly removed: number
}

export interface LocationServiceShape {
  /** Applies a REGISTER's contact changes atomically (§10.3 steps 6–7); a conflict changes nothing. */
  readonly update: (
    aor: Aor,
    changes: Changes,
  ) => Effect.Effect<UpdateResult, RegistrationConflict | InvalidChange | LocationStoreError>
  /** Current bindings, highest q first, expired ones left out (§16.5 target set). */
  readonly lookup: (aor: Aor) => Effect.Effect<ReadonlyArray<Binding>, LocationStoreError>
  /** Removes one contact of the AOR (by URI), or all its bindings; answers how many went. */
  readonly remove: (aor: Aor, contact?: string) => Effect.Effect<number, LocationStoreError>
  /** Drops expired bindings now (the Layers also do it on their own); answers how many went. */
  readonly purgeExpired: Effect.Effect<number, LocationStoreError>
  /** Bindings stored, expired ones not yet purged included. */
  readonly size: Effect.Effect<{ readonly aors: number; readonly bindings: number }, LocationStoreError>
  /**
   * `update` as a plain call, on the service's own Clock, for stores that answer without I/O
   * (the in-memory one): a registrar's hot path needs no fiber then. Absent on async back ends.
   */
  readonly updateSync?:
    | ((aor: Aor, changes: Changes) => UpdateResult | RegistrationConflict | InvalidChange)
    | undefined
  /** `lookup` as a plain call (in-memory store only). */
  readonly lookupSync?: ((aor: Aor) => ReadonlyArray<Binding>) | undefined
}

export class LocationService extends Context.Service<LocationService, LocationServiceShape>()(
  "@sipfx/location/LocationService",
) {}

const qOrder = (s: Stored): number => (s.q < 0 ? 1000 : s.q)

/**
 * Target order (RFC 3261 §16.6 / RFC 3840 practice): highest q first; a Contact without q
 * counts as q=1.0; equal q keeps registration order (Array.prototype.sort is stable).
 */
export const byPreference = (a: Stored, b: Stored): number => qOrder(b) - qOrder(a)
