/**
 * RFC 3428 MESSAGE over real loopback sockets: between two sipfx UAs, and with baresip (Debian
 * package `baresip`) in both directions. Every process is bounded in time and killed by the Scope.
 */
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@sipfx/message"
import { Baresip, Ports } from "@sipfx/peers"
import { Effect, Fiber, Option, Stream } from "effect"
import { realUa } from "./helpers.ts"

describe("RFC 3428 MESSAGE between two sipfx UAs (UDP and TCP)", () => {
  for (const transport of ["udp", "tcp"] as const) {
    it.live(
      `RFC 3428 §7 / §8 ${transport}: each side sends, the other receives it on its Stream and answers 200`,
      () =>
        Effect.gen(function* () {
          const [pa, pb] = yield* Effect.promise(() => Ports.freePorts(2))
          const alice = yield* realUa({ aor: "sip:alice@example.com" }, pa)
          const bob = yield* realUa({ aor: "sip:bob@example.com" }, pb)
          const param = transport === "tcp" ? ";transport=tcp" : ""
          const toBob = yield* Effect.forkChild(bob.messages.pipe(Stream.take(2), Stream.runCollect))
          const toAlice = yield* Effect.forkChild(alice.messages.pipe(Stream.take(1), Stream.runCollect))
          yield* Effect.sleep("10 millis")
          const r1 = yield* alice.message(`sip:bob@127.0.0.1:${pb}${param}`, "hello bob")
          const r2 = yield* alice.message(`sip:bob@127.0.0.1:${pb}${param}`, "second")
          const r3 = yield* bob.message(`sip:alice@127.0.0.1:${pa}${param}`, "hi alice")
          expect([r1.status, r2.status, r3.status]).toEqual([200, 200, 200])
          const got = yield* Effect.timeout(Fiber.join(toBob), "2 seconds")
          expect([...got].map((m) => m.text)).toEqual(["hello bob", "second"])
          expect([...got].map((m) => m.contentType)).toEqual(["text/plain", "text/plain"])
          // outside any dialog, each its own Call-ID and From tag
          const [m1, m2] = [...got]
          expect(Message.callId(m1!.request)).not.toBe(Message.callId(m2!.request))
          expect(Message.fromTag(m1!.request)).not.toBe(Message.fromTag(m2!.request))
          const back = yield* Effect.timeout(Fiber.join(toAlice), "2 seconds")
          expect([...back].map((m) => m.text)).toEqual(["hi alice"])
        }).pipe(Effect.scoped),
      20_000,
    )
  }
})

describe.skipIf(!Baresip.available)("RFC 3428 MESSAGE with baresip", () => {
  it.live(
    "RFC 3428 §7 baresip → sipfx and sipfx → baresip, both answered 200",
    () =>
      Effect.gen(function* () {
        const uaPort = yield* Effect.promise(() => Ports.freePort())
        const bob = yield* realUa({ aor: "sip:bob@example.com" }, uaPort)
        const inbox = yield* Effect.forkChild(bob.messages.pipe(Stream.take(1), Stream.runCollect))
        const baresip = yield* Baresip.start({
          account: (port) => `<sip:carol@127.0.0.1:${port};transport=udp>;regint=0;answermode=auto;pubint=0`,
          contacts: [`"bob" <sip:bob@127.0.0.1:${uaPort}>`],
          seconds: 20,
        })
        const barePort = baresip.sipPort
        yield* Effect.sleep("1500 millis")
        const reply = yield* baresip.command("message", "hello from baresip")
        const got = yield* Effect.timeout(Fiber.join(inbox), "5 seconds").pipe(Effect.option)
        expect(Option.isSome(got), `${reply}\n${baresip.output()}`).toBe(true)
        if (Option.isSome(got)) expect([...got.value].map((m) => m.text)).toEqual(["hello from baresip"])
        const r = yield* bob.message(`sip:carol@127.0.0.1:${barePort}`, "hello from sipfx")
        expect(r.status).toBe(200)
        expect(yield* baresip.stop).toContain("hello from sipfx")
      }).pipe(Effect.scoped),
    40_000,
  )
})
