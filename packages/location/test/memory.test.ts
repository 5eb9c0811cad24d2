import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Aor, LocationService, MemoryLocation, Registration } from "../src/index.ts"
import { locationSuite } from "./suite.ts"

describe("MemoryLocation", () => {
  locationSuite(() => MemoryLocation.layer())

  it.effect("§10.2.1.1 the sweeper purges expired bindings on the Clock, without a lookup", () =>
    Effect.gen(function* () {
      const loc = yield* LocationService
      for (let i = 0; i < 50; i++) {
        const aor = Aor.fromString(`sip:user${i}@example.com`) as Aor.Aor
        yield* loc.update(aor, Registration.contacts(`c${i}`, 1, [{ contact: `sip:u${i}@192.0.2.1`, expires: 5 + i }]))
      }
      expect(yield* loc.size).toEqual({ aors: 50, bindings: 50 })
      yield* TestClock.adjust("9 seconds") // sweeps run every 10 s: nothing purged yet
      expect((yield* loc.size).bindings).toBe(50)
      yield* TestClock.adjust("1 second") // t=10 s: bindings with expires 5..10 are gone
      expect((yield* loc.size).bindings).toBe(44)
      yield* TestClock.adjust("50 seconds") // t=60 s: all expired (last at 54 s)
      expect(yield* loc.size).toEqual({ aors: 0, bindings: 0 })
    }).pipe(Effect.provide(MemoryLocation.layer({ sweepInterval: "10 seconds", sweepSlice: 7 }))),
  )

  it.effect("§10.3 step 8 binding expiry is on the Clock's epoch when the service starts at a real time", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(1_795_000_000_000) // a wall-clock epoch, not 0
      const loc = yield* MemoryLocation.make()
      const aor = Aor.fromString("sip:bob@example.com") as Aor.Aor
      const r = yield* loc.update(aor, Registration.contacts("c1", 1, [{ contact: "sip:bob@192.0.2.4", expires: 60 }]))
      expect(r.bindings[0]!.expiresAt).toBe(1_795_000_060_000)
      yield* TestClock.adjust("59 seconds")
      expect(yield* loc.lookup(aor)).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      expect(yield* loc.lookup(aor)).toHaveLength(0)
    }),
  )

  it.effect(
    "§10.3 steps 6–8 updateSync/lookupSync: same rules and atomicity as the Effect forms, on the service's Clock",
    () =>
      Effect.gen(function* () {
        const loc = yield* MemoryLocation.make()
        const updateSync = loc.updateSync!
        const lookupSync = loc.lookupSync!
        const aor = Aor.fromString("sip:carol@example.com") as Aor.Aor
        const a = { contact: "sip:carol@192.0.2.7", expires: 60 }
        const first = updateSync(
          aor,
          Registration.contacts("c1", 5, [a, { contact: "sip:carol@192.0.2.8", expires: 120, q: 0.5 }]),
        )
        expect("bindings" in first && first.bindings.map((b) => b.contact)).toEqual([
          "sip:carol@192.0.2.7",
          "sip:carol@192.0.2.8",
        ])
        // §10.3 step 7: same Call-ID, CSeq not higher: refused, nothing changes
        const stale = updateSync(aor, Registration.contacts("c1", 5, [{ ...a, expires: 0 }]))
        expect(stale).toBeInstanceOf(Registration.RegistrationConflict)
        expect(lookupSync(aor)).toHaveLength(2)
        expect(updateSync(aor, Registration.contacts("c1", 6, [{ ...a, expires: -1 }]))).toBeInstanceOf(
          Registration.InvalidChange,
        )
        // the Effect form sees what the sync form stored, and vice versa
        expect((yield* loc.lookup(aor)).map((b) => b.contact)).toEqual(lookupSync(aor).map((b) => b.contact))
        yield* TestClock.adjust("60 seconds") // §10.2.1.1: the first binding expires on the Clock
        expect(lookupSync(aor).map((b) => b.contact)).toEqual(["sip:carol@192.0.2.8"])
        const removed = updateSync(
          aor,
          Registration.contacts("c1", 7, [{ contact: "sip:carol@192.0.2.8", expires: 0 }]),
        )
        expect("removed" in removed && removed.removed).toBe(2) // the one removed and the one expired
        expect(yield* loc.size).toEqual({ aors: 0, bindings: 0 })
      }),
  )
})
