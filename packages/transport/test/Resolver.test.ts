import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Ports } from "@sipfx/peers"
import { Effect, Exit } from "effect"
import { afterAll, beforeAll } from "vitest"
import { Resolver } from "../src/index.ts"
import { sipUri } from "./helpers.ts"

const table: Parameters<typeof Resolver.memory>[0] = {
  "example.com": [
    {
      type: "NAPTR",
      order: 10,
      preference: 50,
      flags: "s",
      service: "SIPS+D2T",
      regexp: "",
      replacement: "_sips._tcp.example.com",
    },
    {
      type: "NAPTR",
      order: 20,
      preference: 50,
      flags: "s",
      service: "SIP+D2T",
      regexp: "",
      replacement: "_sip._tcp.example.com",
    },
    {
      type: "NAPTR",
      order: 30,
      preference: 50,
      flags: "s",
      service: "SIP+D2U",
      regexp: "",
      replacement: "_sip._udp.example.com",
    },
  ],
  "_sips._tcp.example.com": [{ type: "SRV", priority: 10, weight: 0, port: 5061, target: "tls.example.com" }],
  "_sip._tcp.example.com": [
    { type: "SRV", priority: 20, weight: 0, port: 5071, target: "sip2.example.com" },
    { type: "SRV", priority: 10, weight: 0, port: 5070, target: "sip1.example.com" },
  ],
  "_sip._udp.example.com": [{ type: "SRV", priority: 10, weight: 0, port: 5080, target: "sip1.example.com" }],
  "sip1.example.com": ["127.0.0.1"],
  "sip2.example.com": ["127.0.0.2", "::1"],
  "tls.example.com": ["127.0.0.3"],
  "_sip._udp.srvonly.example.org": [{ type: "SRV", priority: 1, weight: 0, port: 5090, target: "sip1.example.com" }],
  "plain.example.net": ["127.0.0.9"],
}

const expectations = (resolve: Resolver.Resolver["Service"]["resolve"]) =>
  Effect.gen(function* () {
    const all = yield* resolve(sipUri("example.com", { user: "alice" }))
    expect(all.map((d) => `${d.protocol} ${d.address}:${d.port}`)).toEqual([
      "TLS 127.0.0.3:5061",
      "TCP 127.0.0.1:5070",
      "TCP 127.0.0.2:5071",
      "TCP ::1:5071",
      "UDP 127.0.0.1:5080",
    ])
    const plainOnly = yield* resolve(sipUri("example.com"), { supported: ["UDP", "TCP"] })
    expect(plainOnly.map((d) => d.protocol)).toEqual(["TCP", "TCP", "TCP", "UDP"])
    const sips = yield* resolve(sipUri("example.com", { scheme: "sips" }))
    expect(sips.map((d) => `${d.protocol} ${d.address}:${d.port}`)).toEqual(["TLS 127.0.0.3:5061"])
    const srvOnly = yield* resolve(sipUri("srvonly.example.org"))
    expect(srvOnly).toEqual([{ protocol: "UDP", address: "127.0.0.1", port: 5090 }])
    const aOnly = yield* resolve(sipUri("plain.example.net"))
    expect(aOnly).toEqual([{ protocol: "UDP", address: "127.0.0.9", port: 5060 }])
    const explicitPort = yield* resolve(sipUri("plain.example.net", { port: 5099, params: [["transport", "tcp"]] }))
    expect(explicitPort).toEqual([{ protocol: "TCP", address: "127.0.0.9", port: 5099 }])
    const missing = yield* Effect.exit(resolve(sipUri("nowhere.example.com")))
    expect(Exit.isFailure(missing)).toBe(true)
    if (Exit.isFailure(missing)) expect(JSON.stringify(missing.cause)).toContain("Unreachable")
  })

describe("Resolver (RFC 3263)", () => {
  it.effect("§4.1 numeric hosts short-circuit: no DNS, default transport and port", () =>
    Effect.gen(function* () {
      const { resolve } = yield* Resolver.Resolver
      expect(yield* resolve(sipUri("127.0.0.1"))).toEqual([{ protocol: "UDP", address: "127.0.0.1", port: 5060 }])
      expect(yield* resolve(sipUri("[::1]", { scheme: "sips" }))).toEqual([
        { protocol: "TLS", address: "::1", port: 5061 },
      ])
      expect(yield* resolve(sipUri("127.0.0.1", { port: 5070, params: [["transport", "TCP"]] }))).toEqual([
        { protocol: "TCP", address: "127.0.0.1", port: 5070 },
      ])
      // §26.2.2: sips with transport=tcp means TLS
      expect(yield* resolve(sipUri("127.0.0.1", { scheme: "sips", params: [["transport", "tcp"]] }))).toEqual([
        { protocol: "TLS", address: "127.0.0.1", port: 5061 },
      ])
      // §19.1.1 maddr overrides the host
      expect(yield* resolve(sipUri("nowhere.example.com", { params: [["maddr", "224.0.1.75"]] }))).toEqual([
        { protocol: "UDP", address: "224.0.1.75", port: 5060 },
      ])
    }).pipe(Effect.provide(Resolver.memory({}))),
  )

  it.effect("§4.1 NAPTR order then §4.2 SRV priority then A/AAAA (in-memory)", () =>
    Resolver.Resolver.use((r) => expectations(r.resolve)).pipe(Effect.provide(Resolver.memory(table))),
  )

  it("RFC 2782 SRV weights: heavier targets come first more often, zero weight still possible", () => {
    const records = [
      { type: "SRV" as const, priority: 1, weight: 90, port: 1, target: "heavy" },
      { type: "SRV" as const, priority: 1, weight: 10, port: 2, target: "light" },
      { type: "SRV" as const, priority: 0, weight: 0, port: 3, target: "first" },
    ]
    let heavyFirst = 0
    let seed = 1
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    for (let i = 0; i < 1000; i++) {
      const order = Resolver.orderSrv(records, random)
      expect(order[0]!.target).toBe("first")
      expect(order).toHaveLength(3)
      if (order[1]!.target === "heavy") heavyFirst++
    }
    expect(heavyFirst).toBeGreaterThan(800)
    expect(heavyFirst).toBeLessThan(970)
  })
})

// A real DNS server on loopback: Debian's dnsmasq with NAPTR/SRV/A/AAAA records.
const dnsmasq = "/usr/sbin/dnsmasq"
describe.skipIf(!existsSync(dnsmasq))("Resolver over node:dns against dnsmasq", () => {
  let child: ChildProcess | undefined
  let port = 0
  beforeAll(async () => {
    port = await Ports.freePort()
    const args = [
      "--keep-in-foreground",
      "--no-resolv",
      "--no-hosts",
      "--conf-file=/dev/null",
      "--pid-file=",
      "--bind-interfaces",
      "--listen-address=127.0.0.1",
      `--port=${port}`,
      "--naptr-record=example.com,10,50,s,SIPS+D2T,,_sips._tcp.example.com",
      "--naptr-record=example.com,20,50,s,SIP+D2T,,_sip._tcp.example.com",
      "--naptr-record=example.com,30,50,s,SIP+D2U,,_sip._udp.example.com",
      "--srv-host=_sips._tcp.example.com,tls.example.com,5061,10,0",
      "--srv-host=_sip._tcp.example.com,sip2.example.com,5071,20,0",
      "--srv-host=_sip._tcp.example.com,sip1.example.com,5070,10,0",
      "--srv-host=_sip._udp.example.com,sip1.example.com,5080,10,0",
      "--srv-host=_sip._udp.srvonly.example.org,sip1.example.com,5090,1,0",
      "--host-record=sip1.example.com,127.0.0.1",
      "--host-record=sip2.example.com,127.0.0.2,::1",
      "--host-record=tls.example.com,127.0.0.3",
      "--host-record=plain.example.net,127.0.0.9",
      // refuse to forward anything: unknown names are answered locally
      "--local=/com/",
      "--local=/org/",
      "--local=/net/",
    ]
    child = spawn(dnsmasq, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr?.on("data", (d) => (stderr += String(d)))
    // wait until it answers
    const { Resolver: NodeDns } = await import("node:dns/promises")
    const probe = new NodeDns({ timeout: 200, tries: 1 })
    probe.setServers([`127.0.0.1:${port}`])
    for (let i = 0; i < 50; i++) {
      const ok = await probe.resolve4("sip1.example.com").then(
        () => true,
        () => false,
      )
      if (ok) return
      if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${stderr}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`dnsmasq did not answer: ${stderr}`)
  })
  afterAll(() => {
    child?.kill("SIGTERM")
  })

  it.live("§4.1 NAPTR → §4.2 SRV → A/AAAA over real DNS, in failover order", () =>
    Resolver.Resolver.use((r) => expectations(r.resolve)).pipe(
      Effect.provide(Resolver.layer({ servers: [`127.0.0.1:${port}`] })),
    ),
  )
})
