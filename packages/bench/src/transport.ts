/**
 * `pnpm bench transport [--seconds 2] [--count 400000] [--rounds 3]`
 *
 * UDP datagrams in → parsed → dispatched to a subscriber, per second, against a raw
 * node:dgram receive loop in the same run (the ceiling). A worker thread sends a fixed
 * OPTIONS as fast as it can; each phase is bounded by count and by time. A third phase
 * runs @effect/platform-node's DatagramSocket + parse, the alternative the transport did not take.
 */

import * as dgram from "node:dgram"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Worker } from "node:worker_threads"
import { Parser } from "@sipfx/message"
import { NodeTransport } from "@sipfx/transport"
import { Effect, type Scope } from "effect"

const message = [
  "OPTIONS sip:bob@127.0.0.1 SIP/2.0",
  "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK776asdhds",
  "Max-Forwards: 70",
  "To: Bob <sip:bob@example.com>",
  "From: Alice <sip:alice@example.com>;tag=1928301774",
  "Call-ID: a84b4c76e66710@pc33.example.com",
  "CSeq: 63104 OPTIONS",
  "Contact: <sip:alice@127.0.0.1:5099>",
  "Accept: application/sdp",
  "Content-Length: 0",
  "",
  "",
].join("\r\n")

// CommonJS source for an eval'd worker: no module resolution needed.
const senderSource = `
const { parentPort, workerData } = require("node:worker_threads")
const dgram = require("node:dgram")
const { port, count, ms, text } = workerData
const socket = dgram.createSocket("udp4")
const payload = Buffer.from(text)
let sent = 0
socket.bind(0, "127.0.0.1", () => {
  const deadline = Date.now() + ms
  const pump = () => {
    if (sent >= count || Date.now() > deadline) {
      socket.close(() => parentPort.postMessage({ sent }))
      return
    }
    for (let i = 0; i < 128 && sent < count; i++, sent++) socket.send(payload, port, "127.0.0.1")
    setImmediate(pump)
  }
  pump()
})
`

interface Phase {
  readonly received: number
  readonly sent: number
  readonly seconds: number
  /** datagrams per second of the receiving thread's CPU */
  readonly cpuRate: number
}

/** Runs the sender against `port` and measures what `counter()` saw between first and last arrival. */
const drive = async (
  port: number,
  count: number,
  ms: number,
  probe: { count: () => number; first: () => number; last: () => number; cpuRate: () => number },
): Promise<Phase> => {
  const worker = new Worker(senderSource, { eval: true, workerData: { port, count, ms, text: message } })
  const { sent } = await new Promise<{ sent: number }>((resolve, reject) => {
    worker.once("message", resolve)
    worker.once("error", reject)
  })
  await worker.terminate()
  await new Promise((r) => setTimeout(r, 200)) // let the receive queue drain
  const seconds = (probe.last() - probe.first()) / 1e9
  return { received: probe.count(), sent, seconds, cpuRate: probe.cpuRate() }
}

const threadCpu = (): number => {
  const u = process.threadCpuUsage()
  return u.user + u.system
}

/**
 * Counts arrivals, with wall time between the first and the last, and the receiving
 * thread's CPU time sampled every 1024 arrivals: datagrams per CPU-second on that thread
 * is the receiver's capacity, whatever the sender or the rest of the machine does.
 */
const makeProbe = () => {
  let n = 0
  let first = 0
  let last = 0
  let cpuFirst = 0
  let cpuLast = 0
  let nAtCpuLast = 0
  return {
    hit: () => {
      n++
      if ((n & 1023) === 1) {
        const now = Number(process.hrtime.bigint())
        if (n === 1) {
          first = now
          cpuFirst = threadCpu()
        } else {
          cpuLast = threadCpu()
          nAtCpuLast = n - 1
        }
        last = now
      }
    },
    count: () => n,
    first: () => first,
    last: () => last,
    cpuRate: () => (cpuLast > cpuFirst ? nAtCpuLast / ((cpuLast - cpuFirst) / 1e6) : 0),
  }
}

const rawPhase = async (count: number, ms: number): Promise<Phase> => {
  const socket = dgram.createSocket({ type: "udp4", recvBufferSize: 4 << 20 })
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()))
  const probe = makeProbe()
  socket.on("message", probe.hit)
  const phase = await drive(socket.address().port, count, ms, probe)
  await new Promise<void>((r) => socket.close(() => r()))
  return phase
}

const transportPhase = (count: number, ms: number): Promise<Phase> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const transport = yield* NodeTransport.make({
          listen: ["udp://127.0.0.1:0"],
          limits: { udpReceiveBuffer: 4 << 20 },
        })
        const probe = makeProbe()
        let requests = 0
        yield* transport.subscribe((inbound) => {
          if (inbound.message._tag === "SipRequest") requests++
          probe.hit()
        })
        const phase = yield* Effect.promise(() => drive(transport.listenPoints[0]!.port, count, ms, probe))
        const stats = transport.stats!()
        if (requests !== phase.received || stats.malformed !== 0) {
          return yield* Effect.die(`dispatch mismatch: ${requests} requests, ${stats.malformed} malformed`)
        }
        return phase
      }),
    ),
  )

/** The part of @effect/platform-node's NodeDatagramSocket this comparison uses. */
interface PlatformDatagram {
  readonly make: (options: { readonly bind: { readonly address: string; readonly port: number } }) => Effect.Effect<
    {
      readonly reader: Effect.Effect<
        {
          readonly pull: Effect.Effect<ReadonlyArray<{ readonly payload: Uint8Array }>, unknown>
          readonly address: { readonly port: number }
        },
        unknown,
        Scope.Scope
      >
    },
    unknown,
    Scope.Scope
  >
}

// @effect/platform-node is a dependency of @sipfx/transport, not of the bench: resolve it from there
const loadPlatform = async (): Promise<PlatformDatagram> => {
  const from = createRequire(fileURLToPath(import.meta.resolve("@sipfx/transport")))
  const path = from.resolve("@effect/platform-node/NodeDatagramSocket")
  return (await import(pathToFileURL(path).href)) as PlatformDatagram
}

/** The alternative not chosen: the platform's DatagramSocket, a fiber pulling batches, then parse. */
const platformPhase = (platform: PlatformDatagram, count: number, ms: number): Promise<Phase> =>
  Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const socket = yield* platform.make({ bind: { address: "127.0.0.1", port: 0 } })
        const reader = yield* socket.reader
        const probe = makeProbe()
        yield* reader.pull.pipe(
          Effect.tap((batch) =>
            Effect.sync(() => {
              for (const d of batch) if (Parser.parse(d.payload)._tag === "Ok") probe.hit()
            }),
          ),
          Effect.forever,
          Effect.forkScoped,
        )
        return yield* Effect.promise(() => drive(reader.address.port, count, ms, probe))
      }),
    ),
  ).catch((cause) => {
    throw new Error(`platform phase failed: ${String(cause)}`)
  })

const flag = (args: ReadonlyArray<string>, name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`)
  const v = i >= 0 ? Number(args[i + 1]) : fallback
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} expects a positive number`)
  return v
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rate = (p: Phase) => (p.seconds > 0 ? p.received / p.seconds : 0)
const fmt = (n: number) => Math.round(n).toLocaleString("en-US")

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const seconds = flag(args, "seconds", 2)
  const count = flag(args, "count", 400_000)
  const rounds = flag(args, "rounds", 3)
  const raw: Array<Phase> = []
  const parsed: Array<Phase> = []
  const platformed: Array<Phase> = []
  const platform = await loadPlatform()
  for (let i = 0; i < rounds; i++) {
    raw.push(await rawPhase(count, seconds * 1000))
    parsed.push(await transportPhase(count, seconds * 1000))
    platformed.push(await platformPhase(platform, count, seconds * 1000))
  }
  const rawCpu = median(raw.map((p) => p.cpuRate))
  const parsedCpu = median(parsed.map((p) => p.cpuRate))
  const row = (name: string, ps: ReadonlyArray<Phase>) => {
    const sent = ps.reduce((s, p) => s + p.sent, 0)
    const received = ps.reduce((s, p) => s + p.received, 0)
    const dropped = ((1 - received / sent) * 100).toFixed(1)
    return `| ${name} | ${fmt(median(ps.map((p) => p.cpuRate)))} | ${fmt(median(ps.map(rate)))} | ${fmt(sent)} | ${fmt(received)} | ${dropped}% |`
  }
  console.log(`UDP receive, ${message.length}-byte OPTIONS, ${rounds} rounds (median), sender in a worker thread`)
  console.log("| receiver | datagrams per CPU-second | datagrams/s (wall) | sent | received | dropped by the kernel |")
  console.log("| --- | --- | --- | --- | --- | --- |")
  console.log(row("raw node:dgram (ceiling)", raw))
  console.log(row("NodeTransport: parse + §18.2.1 + dispatch", parsed))
  console.log(row("platform NodeDatagramSocket + pull fiber + parse", platformed))
  console.log(`ratio (CPU capacity): ${((parsedCpu / rawCpu) * 100).toFixed(0)}% of the raw ceiling`)
}
