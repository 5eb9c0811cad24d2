import { describe, expect, it } from "@effect/vitest"
import { Aor, LocationService, MemoryLocation, Registration } from "@sipfx/location"
import { Message, Parser, type SipRequest, type SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { TransactionLayer } from "@sipfx/transaction"
import { type Destination, Transport } from "@sipfx/transport"
import { Context, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Redirect } from "../src/index.ts"

let n = 0
const invite = (target: string, method = "INVITE"): SipRequest => {
  n++
  const text = [
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
  ].join("\r\n")
  const r = Parser.parse(new TextEncoder().encode(text))
  if (r._tag === "Err") throw new Error(r.error.reason)
  return r.message as SipRequest
}

const setup = (options: Redirect.Options = {}) =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 3 })
    const server = yield* network.endpoint({ name: "redirect", protocol: "UDP", address: "192.0.2.1" })
    const ua = yield* network.endpoint({ name: "ua", protocol: "UDP", address: "192.0.2.20", port: 5060 })
    const base = Layer.mergeAll(
      MemoryLocation.layer(),
      TransactionLayer.layer().pipe(Layer.provide(Layer.succeed(Transport, server))),
    )
    const context = yield* Layer.build(
      Redirect.serve.pipe(Layer.provideMerge(Redirect.layer(options)), Layer.provideMerge(base)),
    )
    const location = Context.get(context, LocationService)
    const responses: Array<SipResponse> = []
    yield* ua.subscribe((i) => {
      if (i.message._tag === "SipResponse") responses.push(i.message)
    })
    const p = server.listenPoints[0]!
    const to: Destination = { protocol: "UDP", address: p.address, port: p.port }
    const send = (request: SipRequest) =>
      Effect.gen(function* () {
        const branch = Message.branch(request)
        yield* ua.send(request, to).pipe(Effect.orDie)
        for (let i = 0; i < 50; i++) {
          yield* TestClock.adjust(0)
          const found = responses.find((r) => Message.branch(r) === branch && r.status >= 200)
          if (found !== undefined) return found
        }
        return yield* Effect.die(new Error("no final response"))
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
