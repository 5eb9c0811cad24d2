import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@sipfx/peers"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Aor, LocationService, RedisLocation, Registration } from "../src/index.ts"
import { locationSuite } from "./suite.ts"

let redis: RedisServer.RedisServer
beforeAll(async () => {
  redis = await RedisServer.start()
}, 20_000)
afterAll(() => redis?.stop())

const alice = Aor.fromString("sip:alice@atlanta.example.com") as Aor.Aor
const reg = (callId: string, cseq: number, uri: string, expires = 3600) =>
  Registration.contacts(callId, cseq, [{ contact: uri, expires }])

describe("RedisLocation", () => {
  locationSuite((prefix) => RedisLocation.layer({ url: redis.url, prefix }), { timeout: 10_000 })

  it.effect("§10.3 two service instances on one Redis see each other's bindings at once", () =>
    Effect.gen(function* () {
      const prefix = `two:${Date.now()}:`
      const a = yield* RedisLocation.make({ url: redis.url, prefix })
      const b = yield* RedisLocation.make({ url: redis.url, prefix })
      yield* a.update(alice, reg("a1", 1, "sip:alice@192.0.2.1"))
      expect((yield* b.lookup(alice)).map((x) => x.contact)).toEqual(["sip:alice@192.0.2.1"])
      // §10.3 step 7 ordering holds across instances: b cannot apply an older CSeq of a's Call-ID
      const err = yield* Effect.flip(b.update(alice, reg("a1", 1, "sip:alice@192.0.2.1", 0)))
      expect(err._tag).toBe("RegistrationConflict")
      yield* b.update(alice, reg("a1", 2, "sip:alice@192.0.2.1", 0))
      expect(yield* a.lookup(alice)).toEqual([])
    }),
  )

  it.effect("§10.3 step 7 concurrent updates of one AOR from two instances are all committed", () =>
    Effect.gen(function* () {
      const prefix = `race:${Date.now()}:`
      const a = yield* RedisLocation.make({ url: redis.url, prefix })
      const b = yield* RedisLocation.make({ url: redis.url, prefix })
      const updates = Array.from({ length: 40 }, (_, i) =>
        (i % 2 === 0 ? a : b).update(alice, reg(`call-${i}`, 1, `sip:alice@192.0.2.${i + 1}`)),
      )
      yield* Effect.all(updates, { concurrency: "unbounded" })
      const contacts = (yield* a.lookup(alice)).map((x) => x.contact).sort()
      expect(contacts).toEqual(Array.from({ length: 40 }, (_, i) => `sip:alice@192.0.2.${i + 1}`).sort())
    }),
  )

  it.effect("§10.3 a restarted service (new client) loses no binding", () =>
    Effect.gen(function* () {
      const prefix = `restart:${Date.now()}:`
      yield* TestClock.setTime(5_000)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const first = yield* RedisLocation.make({ url: redis.url, prefix })
          yield* first.update(alice, reg("a1", 7, "sip:alice@192.0.2.1", 600))
        }),
      )
      const second = yield* RedisLocation.make({ url: redis.url, prefix })
      const [binding] = yield* second.lookup(alice)
      expect([binding?.callId, binding?.cseq, binding?.expiresAt]).toEqual(["a1", 7, 605_000])
    }),
  )

  it.effect("§10.2.1.1 Redis drops the AOR's key by itself once its last binding has expired", () =>
    Effect.gen(function* () {
      const prefix = `ttl:${Date.now()}:`
      const loc = yield* RedisLocation.make({ url: redis.url, prefix, graceMillis: 0 })
      yield* loc.update(alice, reg("a1", 1, "sip:alice@192.0.2.1", 1))
      expect((yield* loc.size).aors).toBe(1)
      // the key's TTL is relative to the service Clock's now: 1 s of real time
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 1_200)))
      expect(yield* loc.size).toEqual({ aors: 0, bindings: 0 })
    }),
  )

  it.effect("§10.3 step 7 an unreachable Redis is a typed LocationStoreError (the registrar answers 500)", () =>
    Effect.gen(function* () {
      const err = yield* Effect.flip(RedisLocation.make({ url: "redis://127.0.0.1:1", prefix: "x:" }))
      expect(err._tag).toBe("LocationStoreError")
    }),
  )
})

it.effect("LocationService tag is provided by RedisLocation.layer", () =>
  Effect.gen(function* () {
    const loc = yield* LocationService
    expect(yield* loc.lookup(alice)).toEqual([])
  }).pipe(Effect.provide(RedisLocation.layer({ url: redis.url, prefix: `tag:${Date.now()}:` }))),
)
