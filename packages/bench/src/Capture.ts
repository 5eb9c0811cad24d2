/**
 * The time a proxy adds, measured on the wire at its edge: `dumpcap` records the loopback UDP
 * traffic of the proxy's port, and for each message the time from its arrival at the proxy to
 * its forwarded copy leaving it is read from the capture's timestamps (µs). The same for every
 * contender, and finer than SIPp's whole-millisecond `-trace_rtt`.
 *
 * On loopback a datagram is stamped when it is handed to the receiving side (right after the
 * sender's `sendmsg`), so "arrival" includes the time spent queued in the proxy's socket buffer.
 */
import { spawn } from "node:child_process"
import { readFile } from "node:fs/promises"

export interface Recording {
  readonly file: string
  /** SIGINT to dumpcap (it then writes its last packets and its counts), and those counts */
  readonly stop: () => Promise<CaptureCounts>
}

export interface CaptureCounts {
  readonly captured: number
  readonly received: number
  /** packets the capture lost (kernel buffer full or dumpcap behind): latency from such a run is incomplete */
  readonly dropped: number
  readonly detail: string
}

/**
 * Starts `dumpcap` on `lo` for UDP port `port`, in libpcap format, bounded by `maxSeconds`
 * (its own autostop), and resolves once it captures, so that no early datagram is missed.
 */
export const record = (port: number, file: string, maxSeconds: number): Promise<Recording> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      "dumpcap",
      ["-i", "lo", "-f", `udp port ${port}`, "-P", "-B", "64", "-a", `duration:${maxSeconds}`, "-w", file],
      { stdio: ["ignore", "ignore", "pipe"], cwd: "/tmp" },
    )
    let err = ""
    let ready = false
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`dumpcap did not start: ${err.slice(-300)}`))
    }, 10_000)
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString()
      if (!ready && /^File: /m.test(err)) {
        ready = true
        clearTimeout(timer)
        resolve({
          file,
          stop: async () => {
            const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT") // by PID
            await exited
            clearTimeout(kill)
            return captureCounts(err)
          },
        })
      }
    })
    child.once("exit", (code) => {
      if (ready) return
      clearTimeout(timer)
      reject(new Error(`dumpcap exited with ${code}: ${err.slice(-300)}`))
    })
  })

/** dumpcap's closing lines: `Packets captured: N` and `Packets received/dropped on interface 'lo': R/D (…)`. */
export const captureCounts = (stderr: string): CaptureCounts => {
  const captured = /Packets captured: (\d+)/.exec(stderr)
  const line = /received\/dropped on interface '.*?': (\d+)\/(\d+)(.*)/.exec(stderr)
  return {
    captured: Number(captured?.[1] ?? Number.NaN),
    received: Number(line?.[1] ?? Number.NaN),
    dropped: Number(line?.[2] ?? Number.NaN),
    detail: (line?.[3] ?? "").trim(),
  }
}

export interface Datagram {
  /** capture timestamp, µs since the epoch */
  readonly us: number
  readonly src: number
  readonly dst: number
  readonly payload: Uint8Array
}

/** Link-layer header length of the link types a capture on `lo` can have. */
const linkHeader = (linkType: number, frame: Uint8Array): number | undefined => {
  switch (linkType) {
    case 0: // BSD loopback
      return 4
    case 1: // Ethernet (Linux lo): 14 bytes, IPv4 or IPv6 only
      return frame[12] === 0x08 && frame[13] === 0x00 ? 14 : frame[12] === 0x86 && frame[13] === 0xdd ? 14 : undefined
    case 101: // raw IP
      return 0
    case 113: // Linux cooked v1
      return 16
    case 276: // Linux cooked v2
      return 20
    default:
      return undefined
  }
}

/** UDP datagrams of a libpcap file (µs or ns timestamps, either byte order); IP fragments are skipped. */
export const readPcap = (bytes: Uint8Array): { datagrams: Array<Datagram>; skipped: number } => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.byteLength < 24) throw new Error("not a pcap file: too short")
  const magic = view.getUint32(0, true)
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d
  const big = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1
  if (!little && !big) throw new Error(`not a libpcap file (magic ${magic.toString(16)}); capture with dumpcap -P`)
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1
  const linkType = view.getUint32(20, little) & 0x0fffffff
  const datagrams: Array<Datagram> = []
  let skipped = 0
  for (let at = 24; at + 16 <= bytes.byteLength; ) {
    const sec = view.getUint32(at, little)
    const frac = view.getUint32(at + 4, little)
    const length = view.getUint32(at + 8, little)
    const frame = bytes.subarray(at + 16, at + 16 + length)
    at += 16 + length
    const us = sec * 1e6 + (nano ? frac / 1e3 : frac)
    const d = udp(linkType, frame, us)
    if (d === undefined) skipped++
    else datagrams.push(d)
  }
  return { datagrams, skipped }
}

const udp = (linkType: number, frame: Uint8Array, us: number): Datagram | undefined => {
  const l2 = linkHeader(linkType, frame)
  if (l2 === undefined || frame.length < l2 + 20) return undefined
  const version = frame[l2]! >> 4
  let l4: number
  if (version === 4) {
    const ihl = (frame[l2]! & 0x0f) * 4
    const fragment = ((frame[l2 + 6]! & 0x3f) << 8) | frame[l2 + 7]! // MF flag + offset
    if (frame[l2 + 9] !== 17 || fragment !== 0) return undefined
    l4 = l2 + ihl
  } else if (version === 6) {
    if (frame[l2 + 6] !== 17) return undefined // UDP right after the fixed header only
    l4 = l2 + 40
  } else return undefined
  if (frame.length < l4 + 8) return undefined
  const src = (frame[l4]! << 8) | frame[l4 + 1]!
  const dst = (frame[l4 + 2]! << 8) | frame[l4 + 3]!
  const udpLength = (frame[l4 + 4]! << 8) | frame[l4 + 5]!
  return { us, src, dst, payload: frame.subarray(l4 + 8, Math.min(frame.length, l4 + udpLength)) }
}

export interface SipKey {
  /** `INVITE`, `BYE`, … for a request; `200 INVITE`, `180 INVITE`, … for a response (status + CSeq method) */
  readonly kind: string
  readonly callId: string
  readonly cseq: string
}

const latin1 = new TextDecoder("latin1")

/** Start line, Call-ID and CSeq of a SIP datagram (RFC 3261 §7, §20.8, §20.16; compact `i:`), or nothing. */
export const sipKey = (payload: Uint8Array): SipKey | undefined => {
  // the header section is enough: the first 4 KiB, up to the empty line
  const text = latin1.decode(payload.subarray(0, Math.min(payload.length, 4096)))
  const lines = text.split(/\r?\n\r?\n/, 1)[0]!.split(/\r?\n/)
  const first = lines[0] ?? ""
  let callId: string | undefined
  let cseq: string | undefined
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon <= 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    if (name === "call-id" || name === "i") callId = line.slice(colon + 1).trim()
    else if (name === "cseq")
      cseq = line
        .slice(colon + 1)
        .trim()
        .replace(/\s+/g, " ")
    if (callId !== undefined && cseq !== undefined) break
  }
  if (callId === undefined || cseq === undefined) return undefined
  const status = /^SIP\/2\.0 (\d{3})/.exec(first)
  const method = cseq.split(" ")[1] ?? ""
  if (status !== null) return { kind: `${status[1]} ${method}`, callId, cseq }
  const request = /^([A-Za-z]+) \S+ SIP\/2\.0$/.exec(first.trim())
  return request === null ? undefined : { kind: request[1]!, callId, cseq }
}

export interface Added {
  /** added time per matched message, µs, in capture order */
  readonly us: Array<number>
  /** capture time (µs since the first datagram) at which each one arrived, same order as `us` */
  readonly at: Array<number>
  /** arrived at the proxy but never left it */
  readonly unmatched: number
  /** later copies of a message of this kind (retransmissions) in either direction, ignored */
  readonly copies: number
}

/**
 * For each `kind`, the time from a message's first arrival at `proxyPort` to its first
 * forwarded copy leaving `proxyPort`, matched by Call-ID + CSeq + kind: the INVITE
 * (uac → proxy → uas) and the 200 (uas → proxy → uac) are the same transaction on both sides
 * of a proxy (RFC 3261 §16.6 keeps Call-ID and CSeq).
 */
export const addedLatency = (
  datagrams: ReadonlyArray<Datagram>,
  proxyPort: number,
  kinds: ReadonlyArray<string>,
): Map<string, Added> => {
  const wanted = new Set(kinds)
  const arrived = new Map<string, number>()
  const left = new Map<string, number>()
  const copies = new Map<string, number>()
  const t0 = datagrams.reduce((m, d) => Math.min(m, d.us), Number.POSITIVE_INFINITY)
  for (const d of datagrams) {
    const inbound = d.dst === proxyPort
    if (!inbound && d.src !== proxyPort) continue
    const key = sipKey(d.payload)
    if (key === undefined || !wanted.has(key.kind)) continue
    const id = `${key.kind}\u0000${key.callId}\u0000${key.cseq}`
    const side = inbound ? arrived : left
    const seen = side.get(id)
    if (seen !== undefined) copies.set(key.kind, (copies.get(key.kind) ?? 0) + 1)
    if (seen === undefined || d.us < seen) side.set(id, d.us)
  }
  const out = new Map<string, { us: Array<number>; at: Array<number>; unmatched: number; copies: number }>()
  for (const kind of kinds) out.set(kind, { us: [], at: [], unmatched: 0, copies: copies.get(kind) ?? 0 })
  for (const [id, t] of arrived) {
    const r = out.get(id.slice(0, id.indexOf("\u0000")))!
    const l = left.get(id)
    if (l === undefined) r.unmatched++
    else {
      r.us.push(l - t)
      r.at.push(t - t0)
    }
  }
  return out
}

export interface Summary {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  /** capture time (s after its first datagram) of the slowest one */
  readonly maxAt: number
  /** how many took more than 1 ms / 2 ms */
  readonly over1ms: number
  readonly over2ms: number
}

export const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

export const summarize = (a: Added): Summary => {
  const sorted = [...a.us].sort((x, y) => x - y)
  let maxI = 0
  for (let i = 1; i < a.us.length; i++) if (a.us[i]! > a.us[maxI]!) maxI = i
  return {
    count: sorted.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    maxAt: sorted.length === 0 ? Number.NaN : a.at[maxI]! / 1e6,
    over1ms: sorted.filter((v) => v > 1000).length,
    over2ms: sorted.filter((v) => v > 2000).length,
  }
}

/** The added latency of one capture file for the INVITE and its 200. */
export const analyze = async (file: string, proxyPort: number) => {
  const { datagrams, skipped } = readPcap(await readFile(file))
  const added = addedLatency(datagrams, proxyPort, ["INVITE", "200 INVITE"])
  return {
    datagrams: datagrams.length,
    skipped,
    invite: added.get("INVITE")!,
    ok: added.get("200 INVITE")!,
  }
}
