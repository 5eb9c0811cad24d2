import { describe, expect, it } from "@effect/vitest"
import { Aor, Binding } from "../src/index.ts"

describe("Aor and Binding", () => {
  it("§10.3 step 5 canonical AOR: parameters and headers removed, escapes undone, scheme/host lower-cased", () => {
    expect(Aor.fromString("SIP:%61lice@Atlanta.Example.COM:5070;transport=tcp?subject=x")).toBe(
      "sip:alice@atlanta.example.com:5070",
    )
    // an escaped '@' would change the URI's meaning, so it stays escaped
    expect(Aor.fromString("sip:a%40b@example.com")).toBe("sip:a%40b@example.com")
    expect(Aor.fromString("tel:+1-201-555-0123;phone-context=x")).toBe("tel:+12015550123")
    expect(Aor.fromString("not a uri")).toBeInstanceOf(Aor.InvalidAor)
  })

  it("§19.1.4 contact comparison ignores host case and parameter order, not user case", () => {
    const k = Binding.contactKey
    expect(k("sip:bob@PC33.Example.com;transport=TCP;lr")).toBe(k("SIP:bob@pc33.example.com;lr;transport=tcp"))
    expect(k("sip:Bob@pc33.example.com")).not.toBe(k("sip:bob@pc33.example.com"))
    expect(k("sip:bob@pc33.example.com:5060")).not.toBe(k("sip:bob@pc33.example.com"))
    // ';' may appear in a user part (§25.1 user-unreserved)
    expect(k("sip:b;x=1@h.example.com;ob")).toBe(k("sip:b;x=1@H.example.com;OB"))
  })

  it("§19.1.4 a contact already in compared form is its own key; other spellings meet it", () => {
    const k = Binding.contactKey
    for (const uri of ["sip:bob@192.0.2.4:5062", "sips:bob@pc33.example.com", "sip:pc33.example.com:5070"]) {
      expect(k(uri)).toBe(uri)
      const upper = uri.replace(/^sips?/, (s) => s.toUpperCase()).replace(/@?[^@]*$/, (s) => s.toUpperCase())
      expect(k(upper)).toBe(uri)
      expect(k(` ${uri} `)).toBe(uri)
    }
    // a '?' before any ';' starts the headers; the user part may hold both
    expect(k("sip:a;b?c@H.example.com?subject=x&priority=y")).toBe("sip:a;b?c@h.example.com?priority=y&subject=x")
    expect(k("sip:bob@h.example.com?x=1;y")).toBe(k("sip:bob@H.example.com?x=1;y"))
    expect(k("TEL:+1-201")).toBe("tel:+1-201")
  })

  it("§10.3 step 8 a source without a connection id comes back as it was stored", () => {
    const s = Binding.makeStored("sip:bob@192.0.2.4", "c1@host", 1, -1, 1000, "UDP 192.0.2.1 5060", undefined)
    expect(Binding.toBinding(Aor.fromString("sip:bob@example.com") as Aor.Aor, s).received).toEqual({
      transport: "UDP",
      address: "192.0.2.1",
      port: 5060,
    })
    expect(Binding.decodeReceived("TCP ::1 5061 conn-7")).toEqual({
      transport: "TCP",
      address: "::1",
      port: 5061,
      connectionId: "conn-7",
    })
  })

  it("§10.3 step 8 the stored form keeps contact, Call-ID and source exactly, whatever the characters", () => {
    for (const contact of ["sip:jos%C3%A9@example.com", "sip:bob@example.com;x=é", "sip:bob@example.com;x=€"]) {
      const s = Binding.makeStored(contact, "c€1@host", 1, -1, 1000, "UDP 192.0.2.1 5060 conn-1", undefined)
      const b = Binding.toBinding(Aor.fromString("sip:bob@example.com") as Aor.Aor, s, 500)
      expect([b.contact, b.callId, b.expiresAt, b.received]).toEqual([
        contact,
        "c€1@host",
        1500,
        { transport: "UDP", address: "192.0.2.1", port: 5060, connectionId: "conn-1" },
      ])
    }
  })
})
