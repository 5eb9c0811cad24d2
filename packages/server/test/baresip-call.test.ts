/**
 * A call between two registered baresip users through `sipfx serve` (registrar + stateful proxy),
 * signalling only (audio from a silent 8 kHz WAV through aufile, played to /dev/null): alice dials
 * bob over ctrl_tcp, bob answers on his own (answermode=auto), alice hangs up and the BYE takes
 * the recorded route. When tshark is installed, a capture on lo for the server's port shows each
 * request and 2xx relayed.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Baresip, Process, ServeProcess } from "@sipfx/peers"
import { Effect } from "effect"

/**
 * 2 s of silence, 8 kHz 16-bit mono WAV: the audio source of the call. baresip's ausine only
 * runs at 48 kHz and fails to start for PCMU/PCMA, which aborts the answer.
 */
const silence = (): Uint8Array => {
  const samples = 16_000
  const wav = Buffer.alloc(44 + samples * 2)
  wav.write("RIFF", 0, "latin1")
  wav.writeUInt32LE(36 + samples * 2, 4)
  wav.write("WAVEfmt ", 8, "latin1")
  wav.writeUInt32LE(16, 16) // fmt chunk size
  wav.writeUInt16LE(1, 20) // PCM
  wav.writeUInt16LE(1, 22) // mono
  wav.writeUInt32LE(8000, 24)
  wav.writeUInt32LE(16_000, 28) // byte rate
  wav.writeUInt16LE(2, 32) // block align
  wav.writeUInt16LE(16, 34)
  wav.write("data", 36, "latin1")
  wav.writeUInt32LE(samples * 2, 40)
  return wav
}

const audioFile = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "sipfx-call-"))
    writeFileSync(join(dir, "silence.wav"), silence())
    return dir
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
).pipe(Effect.map((dir) => join(dir, "silence.wav")))

/** Polls `check` every 200 ms, at most `ms`; answers whether it held. */
const eventually = (check: () => Effect.Effect<boolean>, ms: number) =>
  Effect.gen(function* () {
    for (let waited = 0; waited <= ms; waited += 200) {
      if (yield* check()) return true
      yield* Effect.sleep("200 millis")
    }
    return false
  })

const hasTshark = existsSync("/usr/bin/tshark")

/**
 * tshark on lo for the server's UDP port, in the current Scope; `stop` ends the capture and
 * answers the SIP messages seen as `src dst method-or-status cseq-method` lines.
 */
const capture = (dir: string, port: number) =>
  Effect.gen(function* () {
    const file = join(dir, "call.pcapng")
    const proc = yield* Process.spawnBounded("tshark", ["-i", "lo", "-f", `udp port ${port}`, "-w", file], 60_000)
    const started = yield* eventually(() => Effect.succeed(/Capturing on/.test(proc.output())), 10_000)
    expect(started, proc.output()).toBe(true)
    const stop = Effect.gen(function* () {
      yield* Effect.sleep("300 millis")
      proc.child.kill("SIGINT")
      yield* proc.exit
      const fields = ["udp.srcport", "udp.dstport", "sip.Method", "sip.Status-Code", "sip.CSeq.method"]
      const out = execFileSync(
        "tshark",
        ["-r", file, "-Y", "sip", "-T", "fields", ...fields.flatMap((f) => ["-e", f])],
        {
          encoding: "latin1",
          stdio: ["ignore", "pipe", "ignore"],
          timeout: 20_000,
        },
      )
      return out
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => {
          const [src, dst, method, status, cseq] = l.split("\t")
          return `${src} ${dst} ${method || status} ${cseq}`
        })
    })
    return { stop }
  })

const account = (user: string, serverPort: number, answermode: "auto" | "manual", wav: string) =>
  `<sip:${user}@127.0.0.1:${serverPort};transport=udp>;regint=300;answermode=${answermode};pubint=0;audio_source=aufile,${wav}`

describe.skipIf(!Baresip.available)("baresip calls baresip through sipfx serve", () => {
  it.live(
    "§10.2 / §16.6 / §16.12 / §13.2.2.4 alice dials bob (registered), bob answers 200, alice ACKs; alice hangs up and the BYE reaches bob along the Record-Route",
    () =>
      Effect.gen(function* () {
        const wav = yield* audioFile
        const server = yield* ServeProcess.scoped()
        const sip = hasTshark ? yield* capture(dirname(wav), server.udp) : undefined
        const alice = yield* Baresip.start({ account: () => account("alice", server.udp, "manual", wav), seconds: 40 })
        const bob = yield* Baresip.start({ account: () => account("bob", server.udp, "auto", wav), seconds: 40 })
        // both registered (§10.2): baresip reports the registrar's 200
        for (const [ua, user] of [
          [alice, "alice"],
          [bob, "bob"],
        ] as const) {
          const registered = yield* eventually(
            () => ua.command("reginfo").pipe(Effect.map((r) => r.includes(`${user}@127.0.0.1`) && /OK/.test(r))),
            10_000,
          )
          expect(registered, ua.output()).toBe(true)
        }

        const dialled = yield* alice.command("dial", `sip:bob@127.0.0.1:${server.udp}`)
        expect(dialled).toMatch(/"ok":true/)
        const established = yield* eventually(
          () => Effect.succeed(/Call established/i.test(alice.output()) && /Call established/i.test(bob.output())),
          10_000,
        )
        expect(established, `alice:\n${alice.output()}\nbob:\n${bob.output()}\nserve:\n${server.output()}`).toBe(true)

        expect(yield* bob.command("listcalls")).toMatch(/Active calls \(1\)/)
        yield* alice.command("hangup")
        // libre closes the callee's session with ECONNRESET when the BYE arrives
        const ended = yield* eventually(
          () => Effect.succeed(/session closed: Connection reset by peer/.test(bob.output())),
          10_000,
        )
        expect(ended, `alice:\n${alice.output()}\nbob:\n${bob.output()}`).toBe(true)
        yield* Effect.sleep("300 millis")
        expect(yield* bob.command("listcalls")).toMatch(/Active calls \(0\)/)

        if (sip !== undefined) {
          // the wire (lo, the server's port): every request of the dialog and its 2xx went through the proxy
          const seen = yield* sip.stop
          const a = String(alice.sipPort)
          const b = String(bob.sipPort)
          const s = String(server.udp)
          const trace = seen.join("\n")
          for (const line of [
            `${a} ${s} INVITE INVITE`,
            `${s} ${b} INVITE INVITE`,
            `${b} ${s} 200 INVITE`,
            `${s} ${a} 200 INVITE`,
            // §16.12 / §12.2.1.1: ACK and BYE follow the Record-Route to the proxy, which relays them
            `${a} ${s} ACK ACK`,
            `${s} ${b} ACK ACK`,
            `${a} ${s} BYE BYE`,
            `${s} ${b} BYE BYE`,
            `${b} ${s} 200 BYE`,
            `${s} ${a} 200 BYE`,
          ])
            expect(seen, trace).toContain(line)
        }
      }).pipe(Effect.scoped),
    60_000,
  )
})
