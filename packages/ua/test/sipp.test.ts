/**
 * Calls with SIPp's built-in scenarios (a peer nobody here wrote), on 127.0.0.1 with random
 * ports, each run bounded by -m, -timeout and a kill timer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Ports, Sipp } from "@sipfx/peers"
import { Effect, Stream } from "effect"
import { realUa } from "./helpers.ts"

const offer = new TextEncoder().encode(
  "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n",
)

const cases = [
  { name: "UDP", transport: "u1" as const, uriParam: "", extra: [] as Array<string> },
  { name: "TCP", transport: "t1" as const, uriParam: ";transport=tcp", extra: [] as Array<string> },
  { name: "UDP with 10% loss", transport: "u1" as const, uriParam: "", extra: ["-lost", "10"] },
]

describe.skipIf(!Sipp.available)("SIPp built-in uas: a sipfx UA calls it", () => {
  for (const c of cases) {
    it.live(
      `§13.2 / §15 ${c.name}: INVITE → 180/200, ACK, BYE → 200`,
      () =>
        Effect.gen(function* () {
          const [sippPort, uaPort] = yield* Effect.promise(() => Ports.freePorts(2))
          const sipp = yield* Sipp.spawn({
            scenario: { builtin: "uas" },
            localPort: sippPort,
            transport: c.transport,
            calls: 1,
            timeoutSeconds: 40,
            extra: c.extra,
            killAfterMs: 45_000,
          })
          yield* Effect.sleep("300 millis")
          const ua = yield* realUa({ aor: "sip:alice@example.com" }, uaPort)
          // closing the call's Scope sends the BYE
          yield* Effect.scoped(
            Effect.gen(function* () {
              const call = yield* ua.call(`sip:service@127.0.0.1:${sippPort}${c.uriParam}`, offer)
              expect(call.state()).toBe("Confirmed")
              expect(new TextDecoder().decode(call.remoteBody())).toContain("v=0")
              yield* Effect.sleep("100 millis")
            }),
          )
          const exit = yield* sipp.exit
          expect(exit.code, exit.output).toBe(0)
          expect(ua.stats()).toEqual({ dialogs: 0, sessions: 0 })
        }).pipe(Effect.scoped),
      60_000,
    )
  }
})

describe.skipIf(!Sipp.available)("SIPp built-in uac calls a sipfx UA that answers", () => {
  for (const c of cases) {
    it.live(
      `§13.3 / §15.1.2 ${c.name}: 5 calls answered, ACKed and ended by the caller's BYE`,
      () =>
        Effect.gen(function* () {
          const [sippPort, uaPort] = yield* Effect.promise(() => Ports.freePorts(2))
          const ua = yield* realUa({ aor: "sip:bob@example.com" }, uaPort)
          let answered = 0
          yield* ua.incoming.pipe(
            Stream.runForEach((incoming) =>
              Effect.forkChild(
                Effect.scoped(
                  Effect.gen(function* () {
                    yield* incoming.ring
                    const call = yield* incoming.accept(offer)
                    answered++
                    yield* call.ended
                  }),
                ),
              ),
            ),
            Effect.forkScoped,
          )
          const sipp = yield* Sipp.spawn({
            scenario: { builtin: "uac" },
            target: `127.0.0.1:${uaPort}`,
            localPort: sippPort,
            transport: c.transport,
            calls: 5,
            rate: 5,
            limit: 5,
            timeoutSeconds: 40,
            extra: ["-d", "200", ...c.extra],
            killAfterMs: 45_000,
          })
          const exit = yield* sipp.exit
          expect(exit.code, exit.output).toBe(0)
          expect(answered).toBeGreaterThanOrEqual(5)
          // every dialog ends with its BYE (§15.1.2); a loaded machine may take a moment to run the last one
          for (let i = 0; i < 25 && ua.stats().dialogs + ua.stats().sessions > 0; i++) yield* Effect.sleep("200 millis")
          expect(ua.stats()).toEqual({ dialogs: 0, sessions: 0 })
        }).pipe(Effect.scoped),
      60_000,
    )
  }
})
