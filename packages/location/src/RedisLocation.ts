/**
 * LocationService on Redis, so that several registrar/proxy processes share one location
 * table. Per AOR one hash `{prefix}{aor}` holds `b` (the bindings as JSON) and `v` (a random version
 * token). An update reads both, applies the same pure rules as the
 * in-memory Layer (`Registration.apply`), and commits with a compare-and-set Lua script that
 * writes only if `v` is unchanged; on a race it retries with the state the script returns.
 * Redis removes the hash by itself once its last binding has expired (PEXPIRE), and lookups
 * filter expired bindings by the Clock they run with.
 */
import { randomUUID } from "node:crypto"
import { createClient } from "@redis/client"
import { Clock, Effect, Layer, type Scope, Semaphore } from "effect"
import type { Aor } from "./Aor.ts"
import { callIdOf, contactKey, contactOf, makeStored, type Stored, sourceOf, toBinding } from "./Binding.ts"
import { byPreference, LocationService, LocationStoreError, type UpdateResult } from "./LocationService.ts"
import { apply, type Changes, InvalidChange, live, RegistrationConflict } from "./Registration.ts"

export interface Options {
  /** e.g. `redis://127.0.0.1:6379` */
  readonly url: string
  /** key prefix (default `sipfx:loc:`) */
  readonly prefix?: string
  /** extra life given to a hash after its last binding expires, in ms (default 60 000) */
  readonly graceMillis?: number
  /** compare-and-set attempts before giving up with LocationStoreError (default 32) */
  readonly maxAttempts?: number
  /** (default 5 000) */
  readonly connectTimeoutMillis?: number
}

/**
 * Runs effects on the same key one at a time. Updates of one AOR from this process are
 * serialised here, so compare-and-set races only happen between processes.
 */
const keyedLock = () => {
  const locks = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let lock = locks.get(key)
      if (lock === undefined) locks.set(key, (lock = { semaphore: Semaphore.makeUnsafe(1), users: 0 }))
      const held = lock
      held.users++
      return held.semaphore.withPermit(effect).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            if (--held.users === 0) locks.delete(key)
          }),
        ),
      )
    })
}

// KEYS[1] the AOR hash. ARGV[1] expected version ("0": absent), ARGV[2] bindings JSON ("" deletes),
// ARGV[3] TTL in ms, ARGV[4] the new version: a random token, so a deleted and re-created hash
// never shows an old version again (no ABA) and the script touches one key only (Cluster-safe).
// Answers {1} when written, or {0, version, bindings} with the current state.
const casScript = `
local v = redis.call('HGET', KEYS[1], 'v') or '0'
if v ~= ARGV[1] then
  return {0, v, redis.call('HGET', KEYS[1], 'b') or ''}
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'v', ARGV[4], 'b', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1}
`

type Tuple = [string, string, number, number, number, string | null, Array<string> | null, string | null, number | null]

const encode = (list: ReadonlyArray<Stored>): string =>
  list.length === 0
    ? ""
    : JSON.stringify(
        list.map(
          (s): Tuple => [
            contactOf(s),
            callIdOf(s),
            s.cseq,
            s.q,
            s.expiresAt,
            sourceOf(s) ?? null,
            s.ext === undefined ? null : (s.ext.path as Array<string>),
            s.ext?.instanceId ?? null,
            s.ext?.regId ?? null,
          ],
        ),
      )

const decode = (json: string | null | undefined): ReadonlyArray<Stored> =>
  json === null || json === undefined || json === ""
    ? []
    : (JSON.parse(json) as Array<Tuple>).map(([contact, callId, cseq, q, expiresAt, source, path, instanceId, regId]) =>
        makeStored(
          contact,
          callId,
          cseq,
          q,
          expiresAt,
          source ?? undefined,
          path === null ? undefined : { path, instanceId: instanceId ?? undefined, regId: regId ?? undefined },
        ),
      )

/** The part of the client used here. */
interface Client {
  sendCommand<T>(args: ReadonlyArray<string>): Promise<T>
  close(): Promise<void>
}

/** The service over a connected client; the client closes with the Scope. */
export const make = (options: Options): Effect.Effect<LocationService["Service"], LocationStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    const prefix = options.prefix ?? "sipfx:loc:"
    const grace = options.graceMillis ?? 60_000
    const maxAttempts = options.maxAttempts ?? 32
    const serialized = keyedLock()
    const client: Client = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          let connected = false
          const c = createClient({
            url: options.url,
            // fail fast while Redis is away: the registrar answers 500 instead of queueing (§10.3 step 7)
            disableOfflineQueue: true,
            socket: {
              connectTimeout: options.connectTimeoutMillis ?? 5_000,
              // the first connection must succeed; later, reconnect for ever with a capped back-off
              reconnectStrategy: (retries: number) => (connected ? Math.min(50 * 2 ** retries, 2_000) : false),
            },
          })
          // connection errors surface through failed commands; keep the emitter from throwing
          c.on("error", () => {})
          await c.connect()
          connected = true
          return c as unknown as Client
        },
        catch: (cause) => new LocationStoreError({ reason: `cannot connect to ${options.url}`, cause }),
      }),
      (c) => Effect.promise(() => c.close().catch(() => undefined)),
    )

    const call = <A>(what: string, f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (cause) => new LocationStoreError({ reason: `redis ${what} failed`, cause }) })

    let sha = yield* call("SCRIPT LOAD", () => client.sendCommand<string>(["SCRIPT", "LOAD", casScript]))

    const cas = (key: string, expected: string, json: string, ttl: number) =>
      call("EVALSHA", async () => {
        const args = ["1", key, expected, json, String(ttl), randomUUID()]
        try {
          return await client.sendCommand<Array<number | string>>(["EVALSHA", sha, ...args])
        } catch (e) {
          // the script cache is empty after a Redis restart
          if (!String(e).includes("NOSCRIPT")) throw e
          sha = await client.sendCommand<string>(["SCRIPT", "LOAD", casScript])
          return await client.sendCommand<Array<number | string>>(["EVALSHA", sha, ...args])
        }
      })

    const read = (key: string) =>
      Effect.map(
        call("HMGET", () => client.sendCommand<Array<string | null>>(["HMGET", key, "v", "b"])),
        ([v, b]) => ({ version: v ?? "0", list: decode(b) }),
      )

    /** Read, transform, compare-and-set; retried with fresh state when another writer won. */
    const modify = <A, E>(
      aor: Aor,
      f: (list: ReadonlyArray<Stored>, now: number) => { readonly next: ReadonlyArray<Stored>; readonly value: A } | E,
      isError: (r: { readonly next: ReadonlyArray<Stored>; readonly value: A } | E) => r is E,
    ): Effect.Effect<A, E | LocationStoreError> =>
      serialized(
        aor,
        Effect.gen(function* () {
          const key = prefix + aor
          let state = yield* read(key)
          for (let attempt = 0; attempt < maxAttempts; attempt++) {
            const now = yield* Clock.currentTimeMillis
            const r = f(state.list, now)
            if (isError(r)) return yield* Effect.fail(r)
            let ttl = 0
            for (const s of r.next) ttl = Math.max(ttl, s.expiresAt - now)
            const reply = yield* cas(key, state.version, encode(r.next), Math.ceil(ttl) + grace)
            if (reply[0] === 1) return r.value
            state = { version: String(reply[1]), list: decode(String(reply[2] ?? "")) }
          }
          return yield* Effect.fail(new LocationStoreError({ reason: `update of ${aor} lost ${maxAttempts} races` }))
        }),
      )

    const sorted = (aor: Aor, stored: ReadonlyArray<Stored>) =>
      (stored.length > 1 ? stored.slice().sort(byPreference) : stored).map((s) => toBinding(aor, s))

    type Step<A> = { readonly next: ReadonlyArray<Stored>; readonly value: A }
    const isFailure = <A>(
      r: Step<A> | RegistrationConflict | InvalidChange,
    ): r is RegistrationConflict | InvalidChange => r instanceof RegistrationConflict || r instanceof InvalidChange

    const update = (aor: Aor, changes: Changes) =>
      modify<UpdateResult, RegistrationConflict | InvalidChange>(
        aor,
        (list, now) => {
          const result = apply(list, changes, now)
          if (result._tag === "InvalidChange") return result
          if (result._tag === "Refused") return new RegistrationConflict({ aor, conflicts: result.conflicts })
          return {
            next: result.next,
            value: {
              bindings: sorted(aor, result.next),
              added: result.added,
              refreshed: result.refreshed,
              removed: result.removed,
            },
          }
        },
        isFailure,
      )

    const never = (_: unknown): _ is never => false

    const remove = (aor: Aor, contact?: string) =>
      modify<number, never>(
        aor,
        (list) => {
          if (contact === undefined) return { next: [], value: list.length }
          const key = contactKey(contact)
          const next = list.filter((s) => contactKey(contactOf(s)) !== key)
          return { next, value: list.length - next.length }
        },
        never,
      )

    const lookup = (aor: Aor) =>
      Effect.gen(function* () {
        const b = yield* call("HGET", () => client.sendCommand<string | null>(["HGET", prefix + aor, "b"]))
        const now = yield* Clock.currentTimeMillis
        return sorted(aor, live(decode(b), now))
      })

    /** Every AOR hash under the prefix (SCAN, so Redis is never blocked). */
    const scan = Effect.gen(function* () {
      const keys: Array<string> = []
      let cursor = "0"
      do {
        const [next, batch] = yield* call("SCAN", () =>
          client.sendCommand<[string, Array<string>]>(["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"]),
        )
        cursor = next
        keys.push(...batch)
      } while (cursor !== "0")
      return keys
    })

    const purgeExpired = Effect.gen(function* () {
      let purged = 0
      for (const key of yield* scan) {
        purged += yield* modify<number, never>(
          key.slice(prefix.length) as Aor,
          (list, now) => {
            const next = live(list, now)
            return { next, value: list.length - next.length }
          },
          never,
        )
      }
      return purged
    })

    const size = Effect.gen(function* () {
      const keys = yield* scan
      let bindings = 0
      for (const key of keys) bindings += (yield* read(key)).list.length
      return { aors: keys.length, bindings }
    })

    return LocationService.of({ update, lookup, remove, purgeExpired, size })
  })

/** A LocationService backed by Redis; the connection lives as long as the Layer. */
export const layer = (options: Options): Layer.Layer<LocationService, LocationStoreError> =>
  Layer.effect(LocationService, make(options))
