/**
 * SIPp scenarios (test/fixtures) against `sipfx serve` in a child process: a presence watcher
 * (SUBSCRIBE/NOTIFY) and a publisher (PUBLISH). Each run is one call, bounded by -timeout.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { hasSipp, register, sipp, startServe } from "./peers.ts"

describe.skipIf(!hasSipp)("SIPp against sipfx serve", () => {
  it.live(
    "RFC 6665 §4.1 / RFC 3856 §6: SIPp subscribes (200, NOTIFY closed), the presentity registers (NOTIFY open), SIPp unsubscribes (200, NOTIFY terminated)",
    () =>
      Effect.gen(function* () {
        const serve = yield* startServe()
        const watcher = yield* Effect.forkChild(
          sipp("subscribe.xml", `127.0.0.1:${serve.udp}`, { service: "ada", timeoutSeconds: 20 }),
        )
        yield* Effect.sleep("1500 millis")
        const ok = yield* register(serve.udp, "ada")
        expect(ok).toMatch(/^SIP\/2\.0 200 /)
        const run = yield* Fiber.join(watcher)
        expect(run.code, run.output).toBe(0)
      }).pipe(Effect.scoped),
    40_000,
  )

  it.live(
    "RFC 3903 §4 / §6: SIPp publishes, refreshes and modifies with SIP-If-Match (200 each), a stale tag gets 412, an unknown package 489, removal 200",
    () =>
      Effect.gen(function* () {
        const serve = yield* startServe()
        const run = yield* sipp("publish.xml", `127.0.0.1:${serve.udp}`, { service: "grace" })
        expect(run.code, run.output).toBe(0)
      }).pipe(Effect.scoped),
    40_000,
  )
})
