/**
 * An independent check of the wire format: generated messages serialized by sipfx are
 * written as UDP datagrams (IPv4 and IPv6) into a pcap file and decoded by Wireshark's
 * SIP dissector, which must find no malformed packet and no expert note or worse, and must
 * read back the same request/status line, Call-ID and CSeq as were sent.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Arbitrary, Message, Serializer, type SipMessage } from "../src/index.ts"

const hasTshark = (() => {
  try {
    execFileSync("tshark", ["--version"], { stdio: "ignore", timeout: 10_000 })
    return true
  } catch {
    return false
  }
})()

// ---- a pcap writer (LINKTYPE_RAW: each record is one IP packet) ----

const SIP_PORT = 5060

const sum16 = (bytes: Uint8Array, initial = 0): number => {
  let sum = initial
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1]! << 8
  return sum
}
const fold = (sum: number): number => {
  let s = sum
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return ~s & 0xffff
}

const udp = (payload: Uint8Array, pseudo: Uint8Array): Uint8Array => {
  const seg = new Uint8Array(8 + payload.length)
  const v = new DataView(seg.buffer)
  v.setUint16(0, SIP_PORT)
  v.setUint16(2, SIP_PORT)
  v.setUint16(4, seg.length)
  seg.set(payload, 8)
  const checksum = fold(sum16(seg, sum16(pseudo))) || 0xffff
  v.setUint16(6, checksum)
  return seg
}

const loopback4 = [127, 0, 0, 1]
const loopback6 = [...new Array<number>(15).fill(0), 1]

const ipv4Packet = (payload: Uint8Array, id: number): Uint8Array => {
  const pseudo = new Uint8Array([
    ...loopback4,
    ...loopback4,
    0,
    17,
    (payload.length + 8) >> 8,
    (payload.length + 8) & 255,
  ])
  const seg = udp(payload, pseudo)
  const p = new Uint8Array(20 + seg.length)
  const v = new DataView(p.buffer)
  v.setUint8(0, 0x45)
  v.setUint16(2, p.length)
  v.setUint16(4, id & 0xffff)
  v.setUint16(6, 0x4000) // don't fragment
  v.setUint8(8, 64)
  v.setUint8(9, 17)
  p.set(loopback4, 12)
  p.set(loopback4, 16)
  v.setUint16(10, fold(sum16(p.subarray(0, 20))))
  p.set(seg, 20)
  return p
}

const ipv6Packet = (payload: Uint8Array): Uint8Array => {
  const len = payload.length + 8
  const pseudo = new Uint8Array([...loopback6, ...loopback6, 0, 0, len >> 8, len & 255, 0, 0, 0, 17])
  const seg = udp(payload, pseudo)
  const p = new Uint8Array(40 + seg.length)
  const v = new DataView(p.buffer)
  v.setUint32(0, 0x60000000)
  v.setUint16(4, seg.length)
  v.setUint8(6, 17)
  v.setUint8(7, 64)
  p.set(loopback6, 8)
  p.set(loopback6, 24)
  p.set(seg, 40)
  return p
}

const pcap = (packets: ReadonlyArray<Uint8Array>): Uint8Array => {
  const size = 24 + packets.reduce((n, p) => n + 16 + p.length, 0)
  const out = new Uint8Array(size)
  const v = new DataView(out.buffer)
  v.setUint32(0, 0xa1b2c3d4, true)
  v.setUint16(4, 2, true)
  v.setUint16(6, 4, true)
  v.setUint32(16, 262_144, true)
  v.setUint32(20, 101, true) // LINKTYPE_RAW
  let at = 24
  packets.forEach((p, i) => {
    v.setUint32(at, 1_700_000_000 + i, true)
    v.setUint32(at + 8, p.length, true)
    v.setUint32(at + 12, p.length, true)
    out.set(p, at + 16)
    at += 16 + p.length
  })
  return out
}

const SEP = "\u001f"

const nulInside = (body: Uint8Array): boolean => {
  const at = body.indexOf(0)
  return at >= 0 && at < body.length - 1
}

const tshark = (file: string, filter: string, fields: ReadonlyArray<string>): Array<Array<string>> => {
  const args = ["-r", file, "-n", "-Y", filter, "-T", "fields", "-E", "occurrence=a", "-E", `aggregator=${SEP}`]
  args.push(...fields.flatMap((f) => ["-e", f]))
  const out = execFileSync("tshark", args, {
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
    // stderr is kept for the error of a failed run, not printed (tshark warns when run as root)
    stdio: ["ignore", "pipe", "pipe"],
  })
  return out
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => l.split("\t"))
}

describe.skipIf(!hasTshark)(hasTshark ? "tshark" : "tshark (skipped: tshark is not installed)", () => {
  it("§7 / §18.1.1 generated messages serialized by sipfx decode as well-formed SIP in Wireshark", () => {
    const seed = Number(process.env.SIPFX_SEED ?? Date.now() % 2 ** 31)
    // UDP datagrams: keep each message well under the 65,507-byte UDP payload limit
    const messages: ReadonlyArray<SipMessage> = fc.sample(Arbitrary.message, { numRuns: 200, seed })
    const datagrams = messages.map((m) => Serializer.serialize(m))
    const packets = datagrams.map((d, i) => (i % 2 === 0 ? ipv4Packet(d, i) : ipv6Packet(d)))
    const dir = mkdtempSync(join(tmpdir(), "sipfx-tshark-"))
    try {
      const file = join(dir, "generated.pcap")
      writeFileSync(file, pcap(packets))

      // Wireshark notes every header it has no dissector for ("Unrecognised SIP header", a
      // Note): extension headers are legal (§7.3.1), so those items alone are set aside.
      const flagged = tshark(file, "_ws.malformed || _ws.expert.severity >= 0x00400000", [
        "frame.number",
        "_ws.expert.message",
        "_ws.expert.severity",
      ])
      let unrecognised = 0
      const report: Array<string> = []
      for (const [n, messages_, severities] of flagged) {
        const items = (messages_ ?? "").split(SEP)
        const levels = (severities ?? "").split(SEP).map(Number)
        const sent = messages[Number(n) - 1]!
        const serious = items.filter((msg, k) => {
          if (msg.startsWith("Unrecognised SIP header")) {
            unrecognised++
            return false
          }
          // Wireshark stops at a NUL octet followed by more data, and then reports the rest of
          // the datagram as stray; a body of arbitrary octets is legal (§7.4, RFC 4475 §3.1.1.11)
          if (msg === "Trailing stray characters" && nulInside(sent.body)) return false
          return (levels[k] ?? 0x00800000) >= 0x00400000
        })
        if (serious.length > 0 || items.length === 0 || items[0] === "")
          report.push(
            `frame ${n}: ${serious.join("; ") || "malformed"}\n${Serializer.toString(messages[Number(n) - 1]!)}`,
          )
      }
      expect(report.slice(0, 5), `seed ${seed}`).toEqual([])
      // the extension headers were seen (and set aside) one by one
      const sentExtensions = messages.reduce((n, m) => n + m.headers.filter((h) => /^(X|P)-/.test(h.name)).length, 0)
      expect(unrecognised, `seed ${seed}`).toBe(sentExtensions)

      // not vacuous: every frame was dissected as SIP, with our start line, Call-ID and CSeq
      const seen = tshark(file, "sip", ["frame.number", "sip.Method", "sip.Status-Code", "sip.Call-ID", "sip.CSeq.seq"])
      expect(seen.length, `seed ${seed}`).toBe(messages.length)
      const expected = messages.map((m, i) => [
        String(i + 1),
        m._tag === "SipRequest" ? m.method : "",
        m._tag === "SipResponse" ? String(m.status) : "",
        Message.callId(m) ?? "",
        String(Message.cseq(m)?.seq ?? ""),
      ])
      expect(seen, `seed ${seed}`).toEqual(expected)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("§7.3 the check can fail: a header line without its colon is flagged by Wireshark", () => {
    const [m] = fc.sample(Arbitrary.request, { numRuns: 1, seed: 1 })
    const good = Serializer.serialize(m!)
    const text = Buffer.from(good).toString("latin1")
    const at = text.indexOf("\r\nCall-ID:") + 9
    const broken = Buffer.from(text.slice(0, at) + text.slice(at + 1), "latin1")
    const dir = mkdtempSync(join(tmpdir(), "sipfx-tshark-"))
    try {
      const file = join(dir, "broken.pcap")
      writeFileSync(file, pcap([ipv4Packet(good, 1), ipv4Packet(broken, 2)]))
      const flagged = tshark(file, "_ws.malformed || _ws.expert.severity >= 0x00600000", ["frame.number"])
      expect(flagged.map(([n]) => n)).toEqual(["2"])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
