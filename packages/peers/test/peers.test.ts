import * as dgram from "node:dgram"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Baresip, Ports, Process, RawRequest, Sipp, Udp } from "../src/index.ts"

describe("Ports", () => {
  it("freePorts gives distinct ports that UDP and TCP can both bind", async () => {
    const ports = await Ports.freePorts(3)
    expect(new Set(ports).size).toBe(3)
    for (const port of ports) {
      const udp = dgram.createSocket("udp4")
      await new Promise<void>((r, j) => {
        udp.once("error", j)
        udp.bind(port, "127.0.0.1", () => r())
      })
      const tcp = net.createServer()
      await new Promise<void>((r, j) => {
        tcp.once("error", j)
        tcp.listen(port, "127.0.0.1", () => r())
      })
      udp.close()
      tcp.close()
    }
  })
})

describe("Process", () => {
  it("the kill timer ends a process that would outlive it", async () => {
    const started = Date.now()
    const exit = await Process.run("sleep", ["30"], 200)
    expect(exit.code).toBe(null)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it.live("spawnBounded kills the process when its Scope closes", () =>
    Effect.gen(function* () {
      const child = yield* Effect.scoped(Process.spawnBounded("sleep", ["30"], 30_000).pipe(Effect.map((p) => p.child)))
      yield* Effect.promise(() =>
        child.exitCode === null && child.signalCode === null
          ? new Promise((r) => child.once("exit", r))
          : Promise.resolve(),
      )
      expect(child.signalCode).toBe("SIGKILL")
    }),
  )
})

describe("Udp + RawRequest", () => {
  it("RFC 3261 §8.1.3.2 request skips a provisional response and answers the final one", async () => {
    const server = dgram.createSocket("udp4")
    await new Promise<void>((r) => server.bind(0, "127.0.0.1", () => r()))
    const seen: Array<string> = []
    server.on("message", (m, from) => {
      seen.push(m.toString("latin1"))
      server.send("SIP/2.0 100 Trying\r\n\r\n", from.port, from.address)
      server.send("SIP/2.0 200 OK\r\n\r\n", from.port, from.address)
    })
    try {
      const port = server.address().port
      const reply = await Udp.request(port, (local) => RawRequest.register(port, "ada", local, 60))
      expect(reply).toMatch(/^SIP\/2\.0 200 /)
      // §10.2: the AOR in To with the registrar's port, the contact at the sending port, Expires
      expect(seen[0]).toMatch(new RegExp(`\\r\\nTo: <sip:ada@127\\.0\\.0\\.1:${port}>\\r\\n`))
      expect(seen[0]).toMatch(/\r\nContact: <sip:ada@127\.0\.0\.1:\d+>\r\nExpires: 60\r\n/)
    } finally {
      server.close()
    }
  })

  it("request fails within its bound when nothing answers", async () => {
    const quiet = await Udp.listener()
    try {
      await expect(Udp.request(quiet.port, () => "OPTIONS sip:x SIP/2.0\r\n\r\n", { timeoutMs: 200 })).rejects.toThrow(
        "no answer",
      )
      expect(quiet.received.length).toBe(1)
    } finally {
      quiet.close()
    }
  })
})

describe("command lines keep the peers' traps", () => {
  it("SIPp runs always carry -m, -timeout and -nostdin", () => {
    const args = Sipp.args({ scenario: { builtin: "uas" }, calls: 2, timeoutSeconds: 7 })
    expect(args).toEqual(expect.arrayContaining(["-m", "2", "-timeout", "7s", "-nostdin", "-sn", "uas"]))
    expect(args[args.indexOf("-m") + 1]).toBe("2")
  })

  it("baresip's config sets module_path and ctrl_tcp on loopback", () => {
    const config = Baresip.config(5071, 5072)
    expect(config).toContain("module_path /usr/lib/baresip/modules")
    expect(config).toContain("sip_listen 127.0.0.1:5071")
    expect(config).toContain("ctrl_tcp_listen 127.0.0.1:5072")
  })
})
