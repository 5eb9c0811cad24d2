/**
 * The behaviour every LocationService Layer must show, run against each of them
 * (memory.test.ts, redis.test.ts). Time is driven by TestClock.
 */
import { expect, it } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import { TestClock } from "effect/testing"
import { Aor, LocationService, Registration } from "../src/index.ts"

const aorOf = (text: string) => {
  const a = Aor.fromString(text)
  if (typeof a !== "string") throw a
  return a
}

const contact = (uri: string, expires: number, extra: Partial<Registration.ContactChange> = {}) => ({
  contact: uri,
  expires,
  ...extra,
})

/** `layer(prefix)` gives a fresh service; `prefix` keeps tests apart when the back end is shared. */
export const locationSuite = (
  makeLayer: (prefix: string) => Layer.Layer<LocationService, unknown>,
  options: { readonly timeout?: number } = {},
) => {
  let n = 0
  const test = (title: string, body: Effect.Effect<void, unknown, LocationService>) =>
    it.effect(title, () => body.pipe(Effect.provide(makeLayer(`t${++n}:${Date.now()}:`))), options.timeout)

  const bob = aorOf("sip:bob@biloxi.example.com")

  test(
    "§10.3 step 7 a new contact is added with its Call-ID, CSeq, expiry and q",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* TestClock.setTime(1_000)
      const r = yield* loc.update(
        bob,
        Registration.contacts("c1@pc33", 1, [contact("sip:bob@192.0.2.4:5060", 3600, { q: 0.7 })]),
      )
      expect(r.added).toBe(1)
      const [b, ...rest] = yield* loc.lookup(bob)
      expect(rest).toEqual([])
      expect(b).toMatchObject({
        aor: "sip:bob@biloxi.example.com",
        contact: "sip:bob@192.0.2.4:5060",
        callId: "c1@pc33",
        cseq: 1,
        q: 0.7,
        expiresAt: 1_000 + 3_600_000,
        path: [],
        instanceId: undefined,
        received: undefined,
      })
    }),
  )

  test(
    "§10.3 step 7 same Call-ID with a higher CSeq refreshes the binding",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(bob, Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 60)]))
      yield* TestClock.adjust("30 seconds")
      const r = yield* loc.update(bob, Registration.contacts("c1", 2, [contact("sip:bob@192.0.2.4", 120)]))
      expect([r.added, r.refreshed, r.removed]).toEqual([0, 1, 0])
      const [b] = yield* loc.lookup(bob)
      expect(b?.cseq).toBe(2)
      expect(b?.expiresAt).toBe(30_000 + 120_000)
    }),
  )

  test(
    "§10.3 step 7 same Call-ID without a higher CSeq aborts the whole update and reports the conflict",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(bob, Registration.contacts("c1", 5, [contact("sip:bob@192.0.2.4", 60)]))
      // a new contact in the same (out-of-order) request must not be committed either
      const err = yield* Effect.flip(
        loc.update(
          bob,
          Registration.contacts("c1", 5, [contact("sip:bob@198.51.100.7", 60), contact("sip:bob@192.0.2.4", 0)]),
        ),
      )
      expect(err._tag).toBe("RegistrationConflict")
      if (err._tag !== "RegistrationConflict") return
      expect(err.conflicts).toEqual([{ contact: "sip:bob@192.0.2.4", callId: "c1", storedCseq: 5, requestCseq: 5 }])
      const older = yield* Effect.flip(
        loc.update(bob, Registration.contacts("c1", 4, [contact("sip:bob@192.0.2.4", 0)])),
      )
      expect(older._tag).toBe("RegistrationConflict")
      const after = yield* loc.lookup(bob)
      expect(after.map((b) => [b.contact, b.cseq])).toEqual([["sip:bob@192.0.2.4", 5]])
    }),
  )

  test(
    "§10.3 step 7 another Call-ID updates the binding whatever its CSeq",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(bob, Registration.contacts("c1", 9, [contact("sip:bob@192.0.2.4", 60)]))
      yield* loc.update(bob, Registration.contacts("c2", 1, [contact("sip:bob@192.0.2.4", 90)]))
      const [b, ...rest] = yield* loc.lookup(bob)
      expect(rest).toEqual([])
      expect([b?.callId, b?.cseq, b?.expiresAt]).toEqual(["c2", 1, 90_000])
    }),
  )

  test(
    "§10.3 step 7 expires=0 removes the binding, other bindings stay",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(
        bob,
        Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 60), contact("sip:bob@192.0.2.5", 60)]),
      )
      const r = yield* loc.update(bob, Registration.contacts("c1", 2, [contact("sip:bob@192.0.2.4", 0)]))
      expect(r.removed).toBe(1)
      expect(r.bindings.map((b) => b.contact)).toEqual(["sip:bob@192.0.2.5"])
      // removing an unknown contact is not an error and adds nothing
      const none = yield* loc.update(bob, Registration.contacts("c9", 1, [contact("sip:bob@203.0.113.1", 0)]))
      expect([none.added, none.removed, none.bindings.length]).toEqual([0, 0, 1])
    }),
  )

  test(
    "§10.3 step 6 Contact: * removes every binding, but not with a stale CSeq of the same Call-ID",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(bob, Registration.contacts("c1", 3, [contact("sip:bob@192.0.2.4", 60)]))
      yield* loc.update(bob, Registration.contacts("c2", 7, [contact("sip:bob@192.0.2.5", 60)]))
      const err = yield* Effect.flip(loc.update(bob, Registration.wildcard("c2", 7)))
      expect(err._tag).toBe("RegistrationConflict")
      expect((yield* loc.lookup(bob)).length).toBe(2)
      const r = yield* loc.update(bob, Registration.wildcard("c2", 8))
      expect(r.removed).toBe(2)
      expect(yield* loc.lookup(bob)).toEqual([])
    }),
  )

  test(
    "§10.2.1.1 a binding disappears from lookups the moment it expires",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(
        bob,
        Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 10), contact("sip:bob@192.0.2.5", 20)]),
      )
      yield* TestClock.adjust(9_999)
      expect((yield* loc.lookup(bob)).length).toBe(2)
      yield* TestClock.adjust(1)
      expect((yield* loc.lookup(bob)).map((b) => b.contact)).toEqual(["sip:bob@192.0.2.5"])
      yield* TestClock.adjust("10 seconds")
      expect(yield* loc.lookup(bob)).toEqual([])
      // an expired binding does not block a new registration with an old CSeq (it is gone)
      const r = yield* loc.update(bob, Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 10)]))
      expect(r.added).toBe(1)
    }),
  )

  test(
    "§16.6 lookup orders targets by q, highest first (no q counts as 1.0)",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(
        bob,
        Registration.contacts("c1", 1, [
          contact("sip:bob@low.example.com", 60, { q: 0.1 }),
          contact("sip:bob@mid.example.com", 60, { q: 0.5 }),
          contact("sip:bob@none.example.com", 60),
          contact("sip:bob@high.example.com", 60, { q: 0.9 }),
        ]),
      )
      const order = (yield* loc.lookup(bob)).map((b) => [b.contact.slice(8, -12), b.q])
      expect(order).toEqual([
        ["none", undefined],
        ["high", 0.9],
        ["mid", 0.5],
        ["low", 0.1],
      ])
    }),
  )

  test(
    "§10.3 step 5 the AOR is canonical: parameters dropped, escapes undone, host case ignored",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(
        aorOf("sip:%62ob@BILOXI.example.com;user=phone;transport=tcp"),
        Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 60)]),
      )
      expect((yield* loc.lookup(bob)).length).toBe(1)
      // the user part stays case-sensitive (§19.1.4)
      expect(yield* loc.lookup(aorOf("sip:BOB@biloxi.example.com"))).toEqual([])
    }),
  )

  test(
    "§19.1.4 a contact written with another host case and parameter order is the same binding",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(bob, Registration.contacts("c1", 1, [contact("sip:bob@PC33.example.com;transport=tcp;ob", 60)]))
      const r = yield* loc.update(
        bob,
        Registration.contacts("c1", 2, [contact("sip:bob@pc33.example.com;ob;Transport=TCP", 60)]),
      )
      expect([r.added, r.refreshed]).toEqual([0, 1])
      expect((yield* loc.lookup(bob)).length).toBe(1)
    }),
  )

  test(
    "RFC 5626 §6 the same +sip.instance and reg-id replace the old flow; Path and source are kept",
    Effect.gen(function* () {
      const loc = yield* LocationService
      const instanceId = "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"
      const received = { transport: "TCP", address: "198.51.100.7", port: 40312, connectionId: "c17" }
      yield* loc.update(
        bob,
        Registration.contacts("c1", 1, [
          contact("sip:bob@10.0.0.2:5060;transport=tcp;ob", 3600, {
            instanceId,
            regId: 1,
            path: ["<sip:edge1.example.com;lr;ob>"],
            received,
          }),
        ]),
      )
      // reboot behind another NAT binding: new Call-ID, new contact, same instance and reg-id
      yield* loc.update(
        bob,
        Registration.contacts("c2", 1, [
          contact("sip:bob@10.0.0.2:5062;transport=tcp;ob", 3600, {
            instanceId,
            regId: 1,
            path: ["<sip:edge2.example.com;lr;ob>"],
            received: { transport: "TCP", address: "198.51.100.7", port: 40999 },
          }),
          contact("sip:bob@10.0.0.2:5063;transport=tcp;ob", 3600, { instanceId, regId: 2, received }),
        ]),
      )
      const bindings = yield* loc.lookup(bob)
      expect(bindings.map((b) => [b.contact, b.regId, b.path, b.received])).toEqual([
        [
          "sip:bob@10.0.0.2:5062;transport=tcp;ob",
          1,
          ["<sip:edge2.example.com;lr;ob>"],
          { transport: "TCP", address: "198.51.100.7", port: 40999 },
        ],
        ["sip:bob@10.0.0.2:5063;transport=tcp;ob", 2, [], received],
      ])
      expect(bindings[0]?.instanceId).toBe(instanceId)
    }),
  )

  test(
    "§10.3 step 7 invalid expiration or q is refused with a typed error and changes nothing",
    Effect.gen(function* () {
      const loc = yield* LocationService
      const bad = yield* Effect.flip(
        loc.update(bob, Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 60, { q: 1.5 })])),
      )
      expect(bad._tag).toBe("InvalidChange")
      const neg = yield* Effect.flip(
        loc.update(bob, Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", -1)])),
      )
      expect(neg._tag).toBe("InvalidChange")
      expect(yield* loc.lookup(bob)).toEqual([])
    }),
  )

  test(
    "§10.2.2 remove drops one contact or every binding of the AOR",
    Effect.gen(function* () {
      const loc = yield* LocationService
      yield* loc.update(
        bob,
        Registration.contacts("c1", 1, [
          contact("sip:bob@192.0.2.4", 60),
          contact("sip:bob@192.0.2.5", 60),
          contact("sip:bob@192.0.2.6", 60),
        ]),
      )
      expect(yield* loc.remove(bob, "sip:bob@192.0.2.5")).toBe(1)
      expect((yield* loc.lookup(bob)).map((b) => b.contact)).toEqual(["sip:bob@192.0.2.4", "sip:bob@192.0.2.6"])
      expect(yield* loc.remove(bob)).toBe(2)
      expect(yield* loc.lookup(bob)).toEqual([])
    }),
  )

  test(
    "§10.2.1.1 purgeExpired drops expired bindings from the store",
    Effect.gen(function* () {
      const loc = yield* LocationService
      const alice = aorOf("sip:alice@atlanta.example.com")
      yield* loc.update(bob, Registration.contacts("c1", 1, [contact("sip:bob@192.0.2.4", 10)]))
      yield* loc.update(
        alice,
        Registration.contacts("a1", 1, [contact("sip:alice@192.0.2.9", 10), contact("sip:alice@192.0.2.8", 100)]),
      )
      expect(yield* loc.size).toEqual({ aors: 2, bindings: 3 })
      yield* TestClock.adjust("11 seconds")
      expect(yield* loc.purgeExpired).toBe(2)
      expect(yield* loc.size).toEqual({ aors: 1, bindings: 1 })
    }),
  )
}
