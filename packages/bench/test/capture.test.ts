/**
 * The added-latency reader of `pnpm bench proxy`: a libpcap file built here byte by byte (as
 * dumpcap writes a capture of `lo`: Ethernet, IPv4, UDP) goes through `readPcap` and
 * `addedLatency`, and the times must come out to the microsecond.
 */
import { describe, expect, it } from "@effect/vitest"
import { addedLatency, captureCounts, readPcap, sipKey, summarize } from "../src/Capture.ts"
import { type Sample, slope, trend } from "../src/Soak.ts"

const proxy = 5070
const uac = 6001
const uas = 6002

const invite = (callId: string) =>
  `INVITE sip:bench@127.0.0.1:${uas} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${uac};branch=z9hG4bK-${callId}\r\n` +
  `Call-ID: ${callId}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`
const ok = (callId: string) =>
  `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:${uac};branch=z9hG4bK-${callId}\r\n` +
  `i: ${callId}\r\nCSeq:   1   INVITE\r\nContent-Length: 0\r\n\r\n`

/** One Ethernet + IPv4 + UDP frame as a libpcap record (µs timestamps, little-endian). */
const frame = (us: number, src: number, dst: number, text: string, fragment = 0) => {
  const payload = new TextEncoder().encode(text)
  const f = new Uint8Array(14 + 20 + 8 + payload.length)
  f[12] = 0x08 // IPv4
  f[14] = 0x45
  f[14 + 6] = fragment >> 8
  f[14 + 7] = fragment & 0xff
  f[14 + 9] = 17 // UDP
  f.set([127, 0, 0, 1, 127, 0, 0, 1], 14 + 12)
  f.set([src >> 8, src & 0xff, dst >> 8, dst & 0xff, (8 + payload.length) >> 8, (8 + payload.length) & 0xff], 34)
  f.set(payload, 42)
  const h = new DataView(new ArrayBuffer(16))
  h.setUint32(0, Math.floor(us / 1e6), true)
  h.setUint32(4, us % 1e6, true)
  h.setUint32(8, f.length, true)
  h.setUint32(12, f.length, true)
  return [new Uint8Array(h.buffer), f]
}

const pcap = (records: ReadonlyArray<ReadonlyArray<Uint8Array>>) => {
  const g = new DataView(new ArrayBuffer(24))
  g.setUint32(0, 0xa1b2c3d4, true)
  g.setUint16(4, 2, true)
  g.setUint16(6, 4, true)
  g.setUint32(16, 262144, true)
  g.setUint32(20, 1, true) // Ethernet
  const parts = [new Uint8Array(g.buffer), ...records.flat()]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const t0 = 1_700_000_000_000_000

describe("added latency from a loopback capture", () => {
  it("RFC 3261 §16.6 / §16.7 the forwarded INVITE and 200 keep Call-ID and CSeq: matched per direction, µs apart", () => {
    const bytes = pcap([
      frame(t0, uac, proxy, invite("a")),
      frame(t0 + 150, proxy, uas, invite("a")),
      frame(t0 + 400, uac, proxy, invite("b")),
      frame(t0 + 1_000, uas, proxy, ok("a")),
      frame(t0 + 1_090, proxy, uac, ok("a")),
      frame(t0 + 3_400, proxy, uas, invite("b")), // 3 ms for b
      frame(t0 + 500_000, uac, proxy, invite("a")), // a retransmission: ignored
      frame(t0 + 600_000, uac, proxy, invite("c")), // never forwarded
    ])
    const { datagrams, skipped } = readPcap(bytes)
    expect(skipped).toBe(0)
    expect(datagrams.length).toBe(8)
    const added = addedLatency(datagrams, proxy, ["INVITE", "200 INVITE"])
    const inv = added.get("INVITE")!
    expect([...inv.us].sort((x, y) => x - y)).toEqual([150, 3_000])
    expect(inv.unmatched).toBe(1)
    expect(inv.copies).toBe(1)
    expect(added.get("200 INVITE")!.us).toEqual([90])
    const s = summarize(inv)
    expect(s.max).toBe(3_000)
    expect(s.maxAt).toBeCloseTo(0.0004, 6)
    expect(s.over2ms).toBe(1)
  })

  it("RFC 3261 §7.3.3 / §20.8 compact Call-ID and spaces in CSeq read alike; IP fragments are skipped", () => {
    expect(sipKey(new TextEncoder().encode(ok("x")))).toEqual({ kind: "200 INVITE", callId: "x", cseq: "1 INVITE" })
    expect(sipKey(new TextEncoder().encode("garbage\r\n\r\n"))).toBeUndefined()
    const { datagrams, skipped } = readPcap(pcap([frame(t0, uac, proxy, invite("f"), 0x2000)]))
    expect(datagrams.length).toBe(0)
    expect(skipped).toBe(1)
  })

  it("dumpcap's closing counts are read, drops included", () => {
    const c = captureCounts(
      "Capturing on 'Loopback: lo'\nFile: /tmp/x.pcap\nPackets captured: 41\n" +
        "Packets received/dropped on interface 'Loopback: lo': 45/4 (pcap:4/dumpcap:0/flushed:0/ps_ifdrop:0) (91.1%)\n",
    )
    expect(c).toMatchObject({ captured: 41, received: 45, dropped: 4 })
  })
})

describe("soak trend", () => {
  const at = (t: number, mib: number): Sample => ({
    t,
    tree: mib,
    processes: 1,
    rss: mib,
    heap: undefined,
    successful: 0,
    failed: 0,
    retransmissions: 0,
    drops: 0,
    proxyDrops: 0,
    cpu: 0,
  })

  it("RFC 3261 §17.2.2 the Timer J ramp of the first minute is left out of the fit; a steady sawtooth is no growth", () => {
    const samples = Array.from({ length: 61 }, (_, i) => at(i * 10, i < 5 ? 50 + i * 10 : 100 + (i % 2 === 0 ? 3 : -3)))
    const t = trend(samples, (s) => s.tree, 0.5)
    expect(t.growth).toBe(false)
    expect(Math.abs(t.slope)).toBeLessThan(0.5)
  })

  it("RFC 3261 §17.2.2 memory that keeps rising after the lingering transactions expire is growth", () => {
    const samples = Array.from({ length: 61 }, (_, i) => at(i * 10, 100 + i * 0.5 + (i % 2 === 0 ? 1 : -1)))
    const t = trend(samples, (s) => s.tree, 0.5)
    expect(t.slope).toBeCloseTo(3, 0) // 0.5 MiB per 10 s
    expect(t.growth).toBe(true)
    expect(slope([0, 1, 2], [1, 3, 5]).slope).toBe(2)
  })
})
