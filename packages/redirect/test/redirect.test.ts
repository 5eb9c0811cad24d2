import { describe, expect, it } from "@effect/vitest"
import { Aor, Registration } from "@sipfx/location"
import { Message, type SipRequest } from "@sipfx/message"
import { parse, simulated } from "@sipfx/registrar/testing"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Redirect } from "../src/index.ts"

let n = 0
const invite = (target: string, method = "INVITE"): SipRequest => {
  n++
  return parse(
    [
      `${method} ${target} SIP/2.0`,
      `Via: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bK-inv-${n}`,
      "Max-Forwards: 70",
      `To: <${target}>`,
      `From: <sip:carol@example.com>;tag=c${n}`,
      `Call-ID: inv-${n}@192.0.2.20`,
      `CSeq: 1 ${method}`,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  )
}

const setup = (options: Redirect.Options = {}) =>
  Effect.gen(function* () {
    const { send, location } = yield* simulated({
      seed: 3,
      name: "redirect",
      uaAddress: "192.0.2.20",
      app: (base) => Redirect.serve.pipe(Layer.provideMerge(Redirect.layer(options)), Layer.provideMerge(base)),
    })
    const bind = (aor: string, contact: string, expires: number, q?: number) =>
      location.update(
        Aor.fromString(aor) as Aor.Aor,
        Registration.contacts(`${contact}-call`, 1, [{ contact, expires, q }]),
      )
    return { send, bind }
  })

describe("Redirect server (RFC 3261 §8.3, §21.3)", () => {
  it.effect("§21.3.3: one binding gives 302 with the contact and its remaining expires", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.30:5060", 600)
      yield* TestClock.adjust("100 seconds")
      const r = yield* h.send(invite("sip:bob@example.com"))
      expect(r.status).toBe(302)
      expect(Message.headerValues(r, "Contact")).toEqual(["<sip:bob@192.0.2.30:5060>;expires=500"])
    }),
  )

  it.effect("§21.3.1: several bindings give 300, highest q first", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.31", 300, 0.2)
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.32", 300, 0.8)
      const r = yield* h.send(invite("sip:bob@example.com", "MESSAGE"))
      expect(r.status).toBe(300)
      expect(Message.headerValues(r, "Contact")).toEqual([
        "<sip:bob@192.0.2.32>;q=0.8;expires=300",
        "<sip:bob@192.0.2.31>;q=0.2;expires=300",
      ])
    }),
  )

  it.effect("§21.4.18 / §21.4.5: a known user without binding gets 480, an unknown one 404", () =>
    Effect.gen(function* () {
      const h = yield* setup({ users: ["bob"] })
      expect((yield* h.send(invite("sip:bob@example.com"))).status).toBe(480)
      expect((yield* h.send(invite("sip:nobody@example.com"))).status).toBe(404)
      // an expired binding counts as none
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.30", 60)
      yield* TestClock.adjust("61 seconds")
      expect((yield* h.send(invite("sip:bob@example.com"))).status).toBe(480)
    }),
  )

  it.effect("§8.3: a static mapping answers 302 (300 with several)", () =>
    Effect.gen(function* () {
      const h = yield* setup({
        mappings: {
          "sip:help@example.com": ["sip:desk@192.0.2.40"],
          "sip:sales@example.com": ["sip:a@192.0.2.41", "sip:b@192.0.2.42"],
        },
      })
      const one = yield* h.send(invite("sip:help@EXAMPLE.com;transport=udp"))
      expect(one.status).toBe(302)
      expect(Message.headerValues(one, "Contact")).toEqual(["<sip:desk@192.0.2.40>"])
      expect((yield* h.send(invite("sip:sales@example.com"))).status).toBe(300)
    }),
  )

  it.effect("§8.2.2.1: a Request-URI scheme it cannot look up gets 416", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      expect((yield* h.send(invite("mailto:bob@example.com"))).status).toBe(416)
    }),
  )
})
