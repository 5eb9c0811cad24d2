/**
 * Interoperability with SIP tools nobody here wrote: sipsak and SIPp talk to a responder
 * built on this package, and tshark checks the wire format independently.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Ports, Process, Sipp } from "@sipfx/peers"
import { Effect } from "effect"
import { responder } from "./responder.ts"

const run = (file: string, args: ReadonlyArray<string>, timeoutMs = 30_000) =>
  Effect.promise(() => Process.run(file, args, timeoutMs))

const has = (binary: string) => existsSync(`/usr/bin/${binary}`)
const scenario = fileURLToPath(new URL("./fixtures/options-uac.xml", import.meta.url))

describe.skipIf(!has("sipsak"))("sipsak", () => {
  it.live(
    "§11 sipsak OPTIONS over UDP and TCP gets a 200",
    () =>
      Effect.gen(function* () {
        const port = yield* Effect.promise(() => Ports.freePort())
        yield* responder({ listen: [`udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`] })
        for (const transport of ["udp", "tcp"]) {
          const r = yield* run("sipsak", [
            "-vv",
            "-s",
            `sip:127.0.0.1:${port}`,
            "-H",
            "127.0.0.1",
            `--transport=${transport}`,
          ])
          expect(r.code, r.stdout + r.stderr).toBe(0)
          expect(r.stdout).toContain("SIP/2.0 200 OK")
        }
      }).pipe(Effect.scoped),
    30_000,
  )
})

describe.skipIf(!has("sipp") || !has("tshark"))("SIPp with a tshark capture", () => {
  it.live(
    "§18 SIPp OPTIONS over UDP and TCP: all answered, tshark finds no malformed SIP",
    () =>
      Effect.gen(function* () {
        const port = yield* Effect.promise(() => Ports.freePort())
        const t = yield* responder({ listen: [`udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`] })
        const dir = mkdtempSync(join(tmpdir(), "sipfx-pcap-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
        const pcap = join(dir, "sip.pcapng")
        const tshark: ChildProcess = spawn("tshark", ["-i", "lo", "-f", `port ${port}`, "-w", pcap], {
          stdio: ["ignore", "ignore", "pipe"],
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => tshark.kill("SIGKILL")))
        // capture running once tshark says so on stderr
        yield* Effect.promise(
          () =>
            new Promise<void>((resolve, reject) => {
              let err = ""
              const timer = setTimeout(() => reject(new Error(`tshark did not start: ${err}`)), 15_000)
              tshark.stderr?.on("data", (d) => {
                err += String(d)
                if (err.includes("Capturing on")) {
                  clearTimeout(timer)
                  resolve()
                }
              })
            }),
        )
        // the message comes just before the capture filter is live: give it a moment
        yield* Effect.sleep("300 millis")
        for (const transport of ["u1", "t1"] as const) {
          const local = yield* Effect.promise(() => Ports.freePort())
          const r = yield* Effect.promise(() =>
            Sipp.run({
              scenario: { file: scenario },
              target: `127.0.0.1:${port}`,
              transport,
              localPort: local,
              calls: 20,
              rate: 50,
              timeoutSeconds: 20,
              errorFile: join(dir, `err-${transport}.log`),
              killAfterMs: 30_000,
            }),
          )
          expect(r.code, `sipp ${transport}: ${r.stdout.slice(-2000)}${r.stderr}`).toBe(0)
        }
        // let the last packets reach the capture file, then stop tshark
        yield* Effect.sleep("1 second")
        yield* Effect.promise(
          () =>
            new Promise<void>((resolve) => {
              tshark.once("exit", () => resolve())
              tshark.kill("SIGINT")
            }),
        )
        const count = (filter: string) =>
          run("tshark", ["-r", pcap, "-Y", filter]).pipe(
            Effect.map((r) => r.stdout.split("\n").filter((l) => l.trim().length > 0).length),
          )
        const bad = yield* run("tshark", [
          // TCP's own notes (FIN) are not about SIP: expert items count on SIP frames only
          "-r",
          pcap,
          "-Y",
          "_ws.malformed || (sip && _ws.expert.severity >= 0x00400000)",
          "-T",
          "fields",
          "-e",
          "frame.number",
          "-e",
          "_ws.expert.message",
        ])
        expect(bad.stdout.trim(), bad.stdout).toBe("")
        const udpRequests = yield* count('udp && sip.Method == "OPTIONS"')
        const udpResponses = yield* count("udp && sip.Status-Code == 200")
        // one TCP segment may carry several messages: count messages, not frames
        const values = (field: string) =>
          run("tshark", [
            "-r",
            pcap,
            "-Y",
            "tcp && sip",
            "-T",
            "fields",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=;",
            "-e",
            field,
          ]).pipe(Effect.map((r) => r.stdout.split(/[\n;]/).filter((v) => v.trim().length > 0)))
        const tcpRequests = (yield* values("sip.Method")).filter((m) => m === "OPTIONS").length
        const tcpResponses = (yield* values("sip.Status-Code")).filter((c) => c === "200").length
        const stats = t.stats!()
        expect({
          udpRequests,
          udpResponses,
          tcpRequests,
          tcpResponses,
          received: stats.received,
          sent: stats.sent,
        }).toEqual({
          udpRequests: 20,
          udpResponses: 20,
          tcpRequests: 20,
          tcpResponses: 20,
          received: 40,
          sent: 40,
        })
        expect(stats.malformed).toBe(0)
      }).pipe(Effect.scoped),
    60_000,
  )
})
