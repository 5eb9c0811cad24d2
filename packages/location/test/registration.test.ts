import { describe, expect, it } from "@effect/vitest"
import { Binding, Registration } from "../src/index.ts"

const stored = (contact: string, callId: string, cseq: number) =>
  Binding.makeStored(contact, callId, cseq, -1, 60_000, undefined, undefined)

const change = (contact: string, expires: number, extra: Partial<Registration.ContactChange> = {}) => ({
  contact,
  expires,
  ...extra,
})

const applied = (r: ReturnType<typeof Registration.apply>) => {
  if (r._tag !== "Applied") throw new Error(`expected Applied, got ${r._tag}`)
  return r
}

// a REGISTER with few bindings and contacts is matched in place, one with many through an index:
// both must decide alike
describe("Registration.apply", () => {
  for (const others of [0, 12]) {
    const filler = Array.from({ length: others }, (_, i) => `sip:u${i}@192.0.2.${i + 10}`)
    const label = others === 0 ? "few contacts" : `${others + 3} contacts`

    it(`§10.3 step 7 ${label}: refresh, removal, addition and a repeated contact (the last one wins)`, () => {
      const current = [stored("sip:bob@192.0.2.4", "c1", 1), stored("sip:bob@192.0.2.5", "c1", 1)]
      const r = applied(
        Registration.apply(
          current,
          Registration.contacts("c1", 2, [
            change("sip:bob@192.0.2.4", 120),
            change("SIP:bob@192.0.2.5", 0),
            ...filler.map((c) => change(c, 60)),
            change("sip:bob@192.0.2.6", 60),
            change("sip:bob@192.0.2.6;transport=udp", 60),
            change("sip:bob@192.0.2.6", 90),
          ]),
          0,
        ),
      )
      expect([r.added, r.refreshed, r.removed]).toEqual([others + 2, 1, 1])
      expect(r.next.map((s) => [Binding.contactOf(s), s.expiresAt])).toEqual([
        ["sip:bob@192.0.2.4", 120_000],
        ...filler.map((c) => [c, 60_000]),
        ["sip:bob@192.0.2.6", 90_000],
        ["sip:bob@192.0.2.6;transport=udp", 60_000],
      ])
    })

    it(`§10.3 step 7 ${label}: one stale CSeq of the same Call-ID refuses the whole update`, () => {
      const current = [stored("sip:bob@192.0.2.4", "c1", 5), ...filler.map((c) => stored(c, "c0", 9))]
      const r = Registration.apply(
        current,
        Registration.contacts("c1", 5, [...filler.map((c) => change(c, 60)), change("sip:bob@192.0.2.4", 60)]),
        0,
      )
      expect(r._tag).toBe("Refused")
      if (r._tag === "Refused")
        expect(r.conflicts).toEqual([{ contact: "sip:bob@192.0.2.4", callId: "c1", storedCseq: 5, requestCseq: 5 }])
    })

    it(`RFC 5626 §6 ${label}: a flow (instance, reg-id) replaces the old one whatever its URI`, () => {
      const flow = { instanceId: "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>", regId: 1 }
      const first = applied(
        Registration.apply(
          [],
          Registration.contacts("c1", 1, [change("sip:bob@192.0.2.4", 60, flow), ...filler.map((c) => change(c, 60))]),
          0,
        ),
      )
      const r = applied(
        Registration.apply(first.next, Registration.contacts("c2", 1, [change("sip:bob@198.51.100.9", 60, flow)]), 0),
      )
      expect([r.added, r.refreshed]).toEqual([0, 1])
      expect(r.next.map(Binding.contactOf)).toEqual(["sip:bob@198.51.100.9", ...filler])
    })
  }
})
