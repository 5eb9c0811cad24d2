/**
 * Forking with real peers: SIPp UASes bound to one AOR behind the stateful proxy (in this process,
 * over a real NodeTransport on 127.0.0.1), a SIPp uac calling it. `sipfx serve` forks in parallel
 * only, so sequential forking is driven through the proxy Layer with `forking: "sequential"`.
 * Each SIPp run is bounded (-m, -timeout, -nostdin, kill timer) and logs its messages, which
 * the tests count.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Ports, Sipp } from "@sipfx/peers"
import { Effect } from "effect"
import * as NodeProxy from "./nodeProxy.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

/** A folder for SIPp's logs, removed with the Scope. */
const workdir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sipfx-forking-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

/** One SIPp call with scenario `file`, its messages logged to `dir/name.log`. */
const sipp = (dir: string, name: string, file: string, options: { localPort?: number; target?: string }) =>
  Sipp.spawn({
    scenario: { file: fixture(file) },
    ...options,
    ...(options.target === undefined ? {} : { service: "bob" }),
    calls: 1,
    timeoutSeconds: 25,
    cwd: dir,
    extra: ["-trace_msg", "-message_file", join(dir, `${name}.log`)],
  })

const log = (dir: string, name: string) => NodeProxy.messages(join(dir, `${name}.log`))

describe.skipIf(!Sipp.available)("forking with SIPp peers (RFC 3261 §16.6, §16.7)", () => {
  it.live(
    "§16.6 / §16.7 sequential forking by q (§20.10): the q=1.0 uas answers 486, only then the q=0.5 uas gets the INVITE and answers 200; the caller sees 200",
    () =>
      Effect.gen(function* () {
        const dir = yield* workdir
        const p = yield* NodeProxy.start({ forking: "sequential" })
        const [busyPort, answerPort] = yield* Effect.promise(() => Ports.freePorts(2))
        yield* p.bind("bob", [
          { port: answerPort, q: 0.5 },
          { port: busyPort, q: 1 },
        ])
        const busy = yield* sipp(dir, "busy", "uas-busy.xml", { localPort: busyPort })
        const answer = yield* sipp(dir, "answer", "uas-answer.xml", { localPort: answerPort })
        yield* Effect.sleep("300 millis")
        const uac = yield* sipp(dir, "uac", "uac.xml", { target: `127.0.0.1:${p.port}` })
        const exits = yield* Effect.all([uac.exit, busy.exit, answer.exit], { concurrency: 3 })
        for (const e of exits) expect(e.code, e.output).toBe(0)

        const busyLog = log(dir, "busy")
        const answerLog = log(dir, "answer")
        const uacLog = log(dir, "uac")
        // the first group saw one INVITE, sent one 486 (no retransmission: the ACK matched) and one ACK
        expect(NodeProxy.count(busyLog, "received", /^INVITE /)).toBe(1)
        expect(NodeProxy.count(busyLog, "sent", /^SIP\/2\.0 486 /)).toBe(1)
        expect(NodeProxy.count(busyLog, "received", /^ACK /)).toBe(1)
        expect(NodeProxy.count(busyLog, "received", /^CANCEL /)).toBe(0)
        // the second group started only after the first failed
        expect(NodeProxy.count(answerLog, "received", /^INVITE /)).toBe(1)
        const busyAt = busyLog.find((m) => m.direction === "sent" && m.firstLine.startsWith("SIP/2.0 486"))!.at
        const inviteAt = answerLog.find((m) => m.direction === "received" && m.firstLine.startsWith("INVITE"))!.at
        // each SIPp stamps its log from its own clock read once per loop: a few ms of skew
        expect(inviteAt).toBeGreaterThanOrEqual(busyAt - 5)
        // §16.7 step 6: a 486 is not forwarded once a 2xx came; the caller saw the 200 only
        expect(NodeProxy.count(uacLog, "received", /^SIP\/2\.0 486 /)).toBe(0)
        expect(NodeProxy.count(uacLog, "received", /^SIP\/2\.0 200 /)).toBeGreaterThanOrEqual(1)
        yield* Effect.sleep("100 millis")
        expect(p.proxy.stats().contexts).toBe(0)
      }).pipe(Effect.scoped),
    45_000,
  )

  it.live(
    "§16.6 sequential forking: a group without a final response within the branch timeout is CANCELled (487), the next group answers 200",
    () =>
      Effect.gen(function* () {
        const dir = yield* workdir
        const p = yield* NodeProxy.start({ forking: "sequential", branchTimeout: 1_500 })
        const [ringPort, answerPort] = yield* Effect.promise(() => Ports.freePorts(2))
        yield* p.bind("bob", [
          { port: ringPort, q: 0.9 },
          { port: answerPort, q: 0.1 },
        ])
        const ringing = yield* sipp(dir, "ringing", "uas-cancelled.xml", { localPort: ringPort })
        const answer = yield* sipp(dir, "answer", "uas-answer.xml", { localPort: answerPort })
        yield* Effect.sleep("300 millis")
        const uac = yield* sipp(dir, "uac", "uac.xml", { target: `127.0.0.1:${p.port}` })
        const exits = yield* Effect.all([uac.exit, ringing.exit, answer.exit], { concurrency: 3 })
        for (const e of exits) expect(e.code, e.output).toBe(0)

        const ringLog = log(dir, "ringing")
        const answerLog = log(dir, "answer")
        expect(NodeProxy.count(ringLog, "received", /^CANCEL /)).toBe(1)
        expect(NodeProxy.count(ringLog, "received", /^ACK /)).toBe(1)
        const cancelAt = ringLog.find((m) => m.direction === "received" && m.firstLine.startsWith("CANCEL"))!.at
        const inviteAt = answerLog.find((m) => m.direction === "received" && m.firstLine.startsWith("INVITE"))!.at
        const firstInviteAt = ringLog.find((m) => m.direction === "received" && m.firstLine.startsWith("INVITE"))!.at
        // the group had its 1.5 s, then was cancelled and the next one tried
        expect(cancelAt - firstInviteAt).toBeGreaterThanOrEqual(1_400)
        expect(inviteAt).toBeGreaterThanOrEqual(cancelAt - 5)
        // the cancelled branch's 487 stays in the proxy (§16.7 step 6: the 200 is the answer)
        expect(NodeProxy.count(log(dir, "uac"), "received", /^SIP\/2\.0 487 /)).toBe(0)
        yield* Effect.sleep("100 millis")
        expect(p.proxy.stats().contexts).toBe(0)
      }).pipe(Effect.scoped),
    45_000,
  )

  it.live(
    "§16.7 step 5 a 6xx ends the other branches: the ringing uas gets CANCEL (§16.10), the caller gets the 603 and ACKs it once",
    () =>
      Effect.gen(function* () {
        const dir = yield* workdir
        const p = yield* NodeProxy.start()
        const [declinePort, ringPort] = yield* Effect.promise(() => Ports.freePorts(2))
        yield* p.bind("bob", [{ port: declinePort }, { port: ringPort }])
        const decline = yield* sipp(dir, "decline", "uas-decline.xml", { localPort: declinePort })
        const ringing = yield* sipp(dir, "ringing", "uas-cancelled.xml", { localPort: ringPort })
        yield* Effect.sleep("300 millis")
        const uac = yield* sipp(dir, "uac", "uac-declined.xml", { target: `127.0.0.1:${p.port}` })
        const exits = yield* Effect.all([uac.exit, decline.exit, ringing.exit], { concurrency: 3 })
        for (const e of exits) expect(e.code, e.output).toBe(0)

        const uacLog = log(dir, "uac")
        const ringLog = log(dir, "ringing")
        const declineLog = log(dir, "decline")
        // both branches were tried in parallel, the declining one is never CANCELled
        expect(NodeProxy.count(declineLog, "received", /^INVITE /)).toBe(1)
        expect(NodeProxy.count(declineLog, "received", /^CANCEL /)).toBe(0)
        expect(NodeProxy.count(declineLog, "received", /^ACK /)).toBe(1)
        // the ringing branch is CANCELled after the 603 and its 487 is ACKed hop by hop
        expect(NodeProxy.count(ringLog, "received", /^CANCEL /)).toBe(1)
        expect(NodeProxy.count(ringLog, "received", /^ACK /)).toBe(1)
        const declinedAt = declineLog.find((m) => m.direction === "sent" && m.firstLine.startsWith("SIP/2.0 603"))!.at
        const cancelAt = ringLog.find((m) => m.direction === "received" && m.firstLine.startsWith("CANCEL"))!.at
        // each SIPp stamps its log with a clock read once per loop turn: a few ms apart between processes
        expect(cancelAt).toBeGreaterThanOrEqual(declinedAt - 5)
        // the caller got the 603 once (its ACK matched the server transaction: no retransmission),
        // never the 487
        expect(NodeProxy.count(uacLog, "received", /^SIP\/2\.0 603 /)).toBe(1)
        expect(NodeProxy.count(uacLog, "received", /^SIP\/2\.0 487 /)).toBe(0)
        yield* Effect.sleep("100 millis")
        expect(p.proxy.stats().contexts).toBe(0)
      }).pipe(Effect.scoped),
    45_000,
  )
})
