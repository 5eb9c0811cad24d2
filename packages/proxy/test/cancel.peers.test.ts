/**
 * CANCEL through the stateful proxy with real peers (RFC 3261 §16.10, §9): a SIPp uac sends
 * INVITE, gets 180, CANCELs; SIPp UASes behind the proxy ring until their CANCEL arrives. Once
 * through the proxy Layer in this process, once through `sipfx serve` (registrar + proxy as
 * roles of one dispatcher). Each SIPp run is bounded and logs its messages, which the tests count.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Ports, RawRequest, ServeProcess, Sipp, Udp } from "@sipfx/peers"
import { Effect } from "effect"
import * as NodeProxy from "./nodeProxy.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const workdir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "sipfx-cancel-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

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
const at = (l: ReadonlyArray<NodeProxy.Logged>, direction: NodeProxy.Logged["direction"], prefix: string) =>
  l.find((m) => m.direction === direction && m.firstLine.startsWith(prefix))?.at ?? Number.NaN

/** What the caller and every ringing uas must have seen for one cancelled call. */
const expectCancelled = (dir: string, uases: ReadonlyArray<string>) => {
  const uacLog = log(dir, "uac")
  // §16.10: the proxy answers the CANCEL itself, once; the INVITE ends with one 487 (§9.2), which
  // the ACK on the INVITE's branch stopped (no retransmission within the uac's last second)
  expect(NodeProxy.count(uacLog, "received", /^SIP\/2\.0 200 /)).toBe(1)
  expect(NodeProxy.count(uacLog, "received", /^SIP\/2\.0 487 /)).toBe(1)
  expect(at(uacLog, "received", "SIP/2.0 200")).toBeLessThanOrEqual(at(uacLog, "received", "SIP/2.0 487"))
  for (const name of uases) {
    const l = log(dir, name)
    // the CANCEL went on to the branch (after its 180, §9.1), which answered 487 and got the ACK hop by hop
    expect(NodeProxy.count(l, "received", /^INVITE /)).toBe(1)
    expect(NodeProxy.count(l, "received", /^CANCEL /)).toBe(1)
    expect(NodeProxy.count(l, "sent", /^SIP\/2\.0 487 /)).toBe(1)
    expect(NodeProxy.count(l, "received", /^ACK /)).toBe(1)
    expect(at(l, "received", "CANCEL")).toBeGreaterThanOrEqual(at(uacLog, "sent", "CANCEL"))
  }
}

describe.skipIf(!Sipp.available)("CANCEL through the proxy with SIPp peers (RFC 3261 §16.10)", () => {
  it.live(
    "§16.10 CANCEL while ringing: 200 for the CANCEL at once, the CANCEL forwarded to the branch, its 487 to the caller (§9.2), ACKed hop by hop (§17.1.1.3)",
    () =>
      Effect.gen(function* () {
        const dir = yield* workdir
        const p = yield* NodeProxy.start()
        const [uasPort] = yield* Effect.promise(() => Ports.freePorts(1))
        yield* p.bind("bob", [{ port: uasPort }])
        const uas = yield* sipp(dir, "uas", "uas-cancelled.xml", { localPort: uasPort })
        yield* Effect.sleep("300 millis")
        const uac = yield* sipp(dir, "uac", "uac-cancel.xml", { target: `127.0.0.1:${p.port}` })
        const exits = yield* Effect.all([uac.exit, uas.exit], { concurrency: 2 })
        for (const e of exits) expect(e.code, e.output).toBe(0)
        expectCancelled(dir, ["uas"])
        yield* Effect.sleep("100 millis")
        expect(p.proxy.stats().contexts).toBe(0)
      }).pipe(Effect.scoped),
    45_000,
  )

  it.live(
    "§16.10 CANCEL with parallel forking (§16.7): every ringing branch gets its CANCEL, the caller one 487",
    () =>
      Effect.gen(function* () {
        const dir = yield* workdir
        const p = yield* NodeProxy.start()
        const [first, second] = yield* Effect.promise(() => Ports.freePorts(2))
        yield* p.bind("bob", [{ port: first }, { port: second }])
        const a = yield* sipp(dir, "uas1", "uas-cancelled.xml", { localPort: first })
        const b = yield* sipp(dir, "uas2", "uas-cancelled.xml", { localPort: second })
        yield* Effect.sleep("300 millis")
        const uac = yield* sipp(dir, "uac", "uac-cancel.xml", { target: `127.0.0.1:${p.port}` })
        const exits = yield* Effect.all([uac.exit, a.exit, b.exit], { concurrency: 3 })
        for (const e of exits) expect(e.code, e.output).toBe(0)
        expectCancelled(dir, ["uas1", "uas2"])
        yield* Effect.sleep("100 millis")
        expect(p.proxy.stats().contexts).toBe(0)
      }).pipe(Effect.scoped),
    45_000,
  )

  it.live(
    "§16.10 CANCEL while ringing through sipfx serve: the dispatcher gives the CANCEL to the proxy, which cancels the registered uas",
    () =>
      Effect.gen(function* () {
        const dir = yield* workdir
        const server = yield* ServeProcess.scoped()
        const [uasPort] = yield* Effect.promise(() => Ports.freePorts(1))
        // §10.2: the uas registers sip:bob@127.0.0.1:<server port> → its own port
        const registered = yield* Effect.promise(() =>
          Udp.request(server.udp, (p) =>
            RawRequest.request(
              "REGISTER",
              "sip:127.0.0.1",
              p,
              [`Contact: <sip:bob@127.0.0.1:${uasPort}>`, "Expires: 300"],
              "bob",
              server.udp,
            ),
          ),
        )
        expect(registered).toMatch(/^SIP\/2\.0 200 /)
        const uas = yield* sipp(dir, "uas", "uas-cancelled.xml", { localPort: uasPort })
        yield* Effect.sleep("300 millis")
        const uac = yield* sipp(dir, "uac", "uac-cancel.xml", { target: `127.0.0.1:${server.udp}` })
        const exits = yield* Effect.all([uac.exit, uas.exit], { concurrency: 2 })
        for (const e of exits) expect(e.code, `${e.output}\n${server.output()}`).toBe(0)
        expectCancelled(dir, ["uas"])
      }).pipe(Effect.scoped),
    45_000,
  )
})
