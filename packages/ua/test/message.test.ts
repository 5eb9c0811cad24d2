/**
 * RFC 3428 MESSAGE over real loopback sockets: between two sipfx UAs, and with baresip (Debian
 * package `baresip`) in both directions. Every process is bounded in time and killed by the Scope.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@sipfx/message"
import { Effect, Fiber, Option, Stream } from "effect"
import { freePort, realUa, spawnBounded } from "./helpers.ts"

describe("RFC 3428 MESSAGE between two sipfx UAs (UDP and TCP)", () => {
  for (const transport of ["udp", "tcp"] as const) {
    it.live(
      `RFC 3428 §7 / §8 ${transport}: each side sends, the other receives it on its Stream and answers 200`,
      () =>
        Effect.gen(function* () {
          const [pa, pb] = yield* Effect.promise(() => Promise.all([freePort(), freePort()]))
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

const hasBaresip = existsSync("/usr/bin/baresip")

/** ctrl_tcp speaks netstrings carrying JSON commands. */
const ctrl = (port: number, command: string, params: string) =>
  Effect.promise(
    () =>
      new Promise<string>((resolve) => {
        const body = JSON.stringify({ command, params, token: "t1" })
        const socket = net.connect(port, "127.0.0.1", () => socket.write(`${Buffer.byteLength(body)}:${body},`))
        let reply = ""
        socket.on("data", (d) => {
          reply += String(d)
          if (reply.includes("t1")) socket.end()
        })
        socket.on("close", () => resolve(reply))
        socket.on("error", () => resolve(reply))
        setTimeout(() => socket.destroy(), 3000)
      }),
  )

describe.skipIf(!hasBaresip)("RFC 3428 MESSAGE with baresip", () => {
  it.live(
    "RFC 3428 §7 baresip → sipfx and sipfx → baresip, both answered 200",
    () =>
      Effect.gen(function* () {
        const [uaPort, barePort, ctrlPort] = yield* Effect.promise(() =>
          Promise.all([freePort(), freePort(), freePort()]),
        )
        const dir = mkdtempSync(join(tmpdir(), "sipfx-baresip-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        writeFileSync(
          join(dir, "config"),
          [
            `sip_listen 127.0.0.1:${barePort}`,
            "module_path /usr/lib/baresip/modules",
            "module stdio.so",
            "module g711.so",
            "module aufile.so",
            "module ausine.so",
            "module_app account.so",
            "module_app contact.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
            "audio_player aufile,/dev/null",
            "audio_source ausine,440",
            "",
          ].join("\n"),
        )
        writeFileSync(
          join(dir, "accounts"),
          `<sip:carol@127.0.0.1:${barePort};transport=udp>;regint=0;answermode=auto;pubint=0\n`,
        )
        writeFileSync(join(dir, "contacts"), `"bob" <sip:bob@127.0.0.1:${uaPort}>\n`)
        const bob = yield* realUa({ aor: "sip:bob@example.com" }, uaPort)
        const inbox = yield* Effect.forkChild(bob.messages.pipe(Stream.take(1), Stream.runCollect))
        // stdin must be an open pipe, or baresip quits at once
        const baresip = yield* spawnBounded("baresip", ["-f", dir, "-t", "20"], 25_000, true)
        yield* Effect.sleep("1500 millis")
        const reply = yield* ctrl(ctrlPort, "message", "hello from baresip")
        const got = yield* Effect.timeout(Fiber.join(inbox), "5 seconds").pipe(Effect.option)
        expect(Option.isSome(got), `${reply}\n${baresip.child.pid}`).toBe(true)
        if (Option.isSome(got)) expect([...got.value].map((m) => m.text)).toEqual(["hello from baresip"])
        const r = yield* bob.message(`sip:carol@127.0.0.1:${barePort}`, "hello from sipfx")
        expect(r.status).toBe(200)
        baresip.child.kill("SIGTERM")
        const exit = yield* baresip.exit
        expect(exit.stdout + exit.stderr).toContain("hello from sipfx")
      }).pipe(Effect.scoped),
    40_000,
  )
})
