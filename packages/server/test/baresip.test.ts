/** baresip (Debian `baresip`) registers to `sipfx serve`; both sides agree on the binding. */
import { describe, expect, it } from "@effect/vitest"
import { Baresip, RawRequest, ServeProcess, Udp } from "@sipfx/peers"
import { Effect } from "effect"

describe.skipIf(!Baresip.available)("baresip registers to sipfx serve", () => {
  it.live(
    "§10.2 baresip's REGISTER gives a binding: our registrar lists it and baresip reports OK",
    () =>
      Effect.gen(function* () {
        const server = yield* ServeProcess.scoped()
        const bare = yield* Baresip.start({
          account: () => `<sip:grace@127.0.0.1:${server.udp};transport=udp>;regint=300;answermode=auto;pubint=0`,
          seconds: 50,
        })
        let bindings = ""
        for (let i = 0; i < 40; i++) {
          yield* Effect.sleep("250 millis")
          // baresip's To (the AOR) carries the registrar's port, and §19.1.4 keeps a port significant
          bindings = yield* Effect.promise(() =>
            Udp.request(server.udp, (p) => RawRequest.request("REGISTER", "sip:127.0.0.1", p, [], "grace", server.udp)),
          )
          // baresip 1.0 registers `grace-0x…@` (a per-instance user part), older ones `grace@`
          if (/\r\nContact: <sip:grace(-[^@]*)?@127\.0\.0\.1:\d+/.test(bindings)) break
        }
        expect(bindings).toMatch(
          new RegExp(`\\r\\nContact: <sip:grace(-[^@]*)?@127\\.0\\.0\\.1:${bare.sipPort}[^>]*>;expires=(2\\d\\d|300)`),
        )
        const reply = yield* bare.command("reginfo")
        expect(reply).toMatch(/grace@127\.0\.0\.1/)
        expect(reply).toMatch(/OK/)
      }).pipe(Effect.scoped),
    45_000,
  )
})
