/**
 * baresip (Debian package `baresip`) with sipfx serve: baresip watches the presence of a sipfx
 * user (`;presence=p2p` contact) and sees it go online when that user registers, sends a
 * MESSAGE through the server's relay to a sipfx UA, and receives one from it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Baresip, Ports, ServeProcess } from "@sipfx/peers"
import { Effect, Fiber, Option, Stream } from "effect"
import { agent } from "./harness.ts"

describe.skipIf(!Baresip.available)("baresip and sipfx serve: presence and MESSAGE", () => {
  it.live(
    "RFC 3856 §6 / RFC 3428 §7: baresip's SUBSCRIBE shows ada offline then online after she registers; MESSAGE baresip → ada and ada → baresip through the relay",
    () =>
      Effect.gen(function* () {
        const serve = yield* ServeProcess.scoped([], { lifetimeMs: 120_000 })
        const ada = `sip:ada@127.0.0.1:${serve.udp}`
        const bare = yield* Baresip.start({
          account: () =>
            `<sip:bare@127.0.0.1:${serve.udp};transport=udp>;regint=300;pubint=0;answermode=auto;outbound="sip:127.0.0.1:${serve.udp}"`,
          contacts: [`"ada" <${ada}>;presence=p2p;access=allow`],
          seconds: 40,
        })
        // baresip subscribes at start: ada is not registered, so our NOTIFY says closed (Offline)
        const status = (text: string) => /(Unknown|Offline|Online|Busy)\S* ada </.exec(text)?.[1]
        let contacts = ""
        for (let i = 0; i < 30 && status(contacts) !== "Offline"; i++) {
          yield* Effect.sleep("300 millis")
          contacts = yield* bare.command("contacts")
        }
        expect(status(contacts), contacts).toBe("Offline")
        const port = yield* Effect.promise(() => Ports.freePort())
        const a = yield* agent(ada, port, `sip:127.0.0.1:${serve.udp};lr`)
        yield* a.ua.register({ expires: 600 })
        // RFC 3856 §6.6: the registration makes ada open: a NOTIFY, and baresip shows Online
        for (let i = 0; i < 20 && status(contacts) !== "Online"; i++) {
          yield* Effect.sleep("300 millis")
          contacts = yield* bare.command("contacts")
        }
        expect(status(contacts), contacts).toBe("Online")
        const inbox = yield* Effect.forkChild(a.ua.messages.pipe(Stream.take(1), Stream.runCollect))
        // baresip → relay → ada's registered contact
        const reply = yield* bare.command("message", "hello from baresip")
        const got = yield* Effect.timeout(Fiber.join(inbox), "5 seconds").pipe(Effect.option)
        expect(Option.isSome(got), reply).toBe(true)
        if (Option.isSome(got)) {
          const [m] = [...got.value]
          expect(m!.text).toBe("hello from baresip")
          // the relay put its own Via on top of baresip's (RFC 3261 §16.6 step 8)
          expect(m!.request.headers.filter((h) => h.name === "Via").length).toBeGreaterThanOrEqual(2)
        }
        // ada → relay → baresip's registered contact
        const r = yield* a.ua.message(`sip:bare@127.0.0.1:${serve.udp}`, "hello from sipfx")
        expect(r.status).toBe(200)
        const out = yield* bare.stop
        expect(out).toContain(`${ada}: "hello from sipfx"`)
      }).pipe(Effect.scoped),
    60_000,
  )
})
