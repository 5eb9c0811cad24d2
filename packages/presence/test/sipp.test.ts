/**
 * SIPp scenarios (test/fixtures) against `sipfx serve` in a child process: a presence watcher
 * (SUBSCRIBE/NOTIFY) and a publisher (PUBLISH). Each run is one call, bounded by -timeout.
 */
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { RawRequest, ServeProcess, Sipp, Udp } from "@sipfx/peers"
import { Effect, Fiber } from "effect"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** One call of a scenario file, bounded by -timeout (a timeout fails the run). */
const sipp = (scenario: string, target: string, service: string) =>
  Sipp.spawn({
    scenario: { file: fixture(scenario) },
    target,
    service,
    transport: "u1",
    calls: 1,
    timeoutSeconds: 20,
    timeoutError: true,
    errorFile: join(tmpdir(), `sipfx-sipp-${process.pid}-${scenario}-${Date.now()}.log`),
  }).pipe(Effect.flatMap((run) => run.exit))

describe.skipIf(!Sipp.available)("SIPp against sipfx serve", () => {
  it.live(
    "RFC 6665 §4.1 / RFC 3856 §6: SIPp subscribes (200, NOTIFY closed), the presentity registers (NOTIFY open), SIPp unsubscribes (200, NOTIFY terminated)",
    () =>
      Effect.gen(function* () {
        const serve = yield* ServeProcess.scoped([], { lifetimeMs: 120_000 })
        const watcher = yield* Effect.forkChild(sipp("subscribe.xml", `127.0.0.1:${serve.udp}`, "ada"))
        yield* Effect.sleep("1500 millis")
        const ok = yield* Effect.promise(() =>
          Udp.request(serve.udp, (local) => RawRequest.register(serve.udp, "ada", local)),
        )
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
        const serve = yield* ServeProcess.scoped([], { lifetimeMs: 120_000 })
        const run = yield* sipp("publish.xml", `127.0.0.1:${serve.udp}`, "grace")
        expect(run.code, run.output).toBe(0)
      }).pipe(Effect.scoped),
    40_000,
  )
})
