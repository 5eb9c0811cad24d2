/**
 * `pnpm bench registrar-pipeline [--rate 40000] [--seconds 50] [--warmup 35]`
 *
 * First the registrar's own steps in batches (parse; parse + `Registrar.handle`, the §10.3 steps
 * and the in-memory location update; + serialising the 200), median and 10th percentile of 30
 * interleaved batches of CPU time. Then the whole pipeline at a set rate, without sockets or
 * SIPp: REGISTER datagrams (the bench
 * scenario's pairs: expires 300, then 0 on the same Call-ID) are parsed and fed, `rate` a second,
 * through the TransactionLayer, the registrar and the in-memory location service, and the
 * responses serialised by a Transport whose `sendNow` only counts. After `warmup` seconds (past
 * Timer J's 32 s, so that a full population of lingering transactions is held) it measures each
 * thread's CPU per REGISTER from `/proc/self/task`, V8's GC pauses and the heap. No peer runs
 * this pipeline, so the figures are for comparing two versions of the code run alternately;
 * `pnpm bench registrar` gives the ratio to Kamailio.
 */
import { readdirSync, readFileSync } from "node:fs"
import { constants, PerformanceObserver } from "node:perf_hooks"
import { MemoryLocation } from "@sipfx/location"
import { Parser, Serializer, type SipRequest, type SipResponse } from "@sipfx/message"
import { Registrar } from "@sipfx/registrar"
import { TransactionLayer } from "@sipfx/transaction"
import { type Inbound, type Source, Transport } from "@sipfx/transport"
import { Effect, Layer, Stream } from "effect"
import { arg, statCpuSeconds } from "./Peers.ts"

/** CPU seconds (user + system) per thread name, from /proc (Linux) */
const threadSeconds = (): Map<string, number> => {
  const out = new Map<string, number>()
  for (const task of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8")
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\s/g, "")
    out.set(name, (out.get(name) ?? 0) + statCpuSeconds(stat))
  }
  return out
}

/** `perf_hooks` GC entry kinds */
const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental marking",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks",
}

const source: Source = {
  protocol: "UDP",
  address: "127.0.0.1",
  port: 15_171,
  connectionId: undefined,
  local: { address: "127.0.0.1", port: 5060 },
}

/** the scenario's REGISTER (packages/server/fixtures/bench-register.xml) for call `n`, 1000 users */
const register = (n: number, cseq: number, expires: number): Uint8Array => {
  const user = `user${String(n % 1000).padStart(4, "0")}`
  return Buffer.from(
    `REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:15171;branch=z9hG4bK-1-${n}-${cseq}\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:${user}@127.0.0.1>;tag=1-${n}\r\nTo: <sip:${user}@127.0.0.1>\r\n` +
      `Call-ID: ${n}-1@127.0.0.1\r\nCSeq: ${cseq} REGISTER\r\nContact: <sip:${user}@127.0.0.1:15171>\r\n` +
      `Expires: ${expires}\r\nContent-Length: 0\r\n\r\n`,
  )
}

const parseRequest = (bytes: Uint8Array): SipRequest => {
  const parsed = Parser.parse(bytes)
  if (parsed._tag === "Err") throw new Error(parsed.error.reason)
  return parsed.message as SipRequest
}

/** CPU per REGISTER of parsing, of the registrar's steps and of serialising the 200, in batches */
const stages = Effect.gen(function* () {
  const batch = 20_000
  const wires: Array<Uint8Array> = []
  for (let n = 0; n < batch / 2; n++) wires.push(register(n, 1, 300), register(n, 2, 0))
  const registrar = yield* Registrar.make({})
  let last: SipResponse | undefined
  // the registrar answers through `respond`: a stand-in transaction, no transaction layer
  const tx = (request: SipRequest, serialise: boolean) =>
    ({
      request,
      source,
      respond: (response: SipResponse) => {
        last = response
        if (serialise) Serializer.serialize(response)
        return true
      },
    }) as unknown as TransactionLayer.ServerTransaction
  const handleAll = (serialise: boolean) => {
    for (const w of wires) registrar.handle(tx(parseRequest(w), serialise))
  }
  const cases: ReadonlyArray<readonly [string, () => void]> = [
    ["parse", () => wires.forEach(parseRequest)],
    ["parse + handle", () => handleAll(false)],
    ["parse + handle + serialise", () => handleAll(true)],
  ]
  const samples = cases.map(() => [] as Array<number>)
  for (let round = 0; round < 33; round++)
    for (let c = 0; c < cases.length; c++) {
      const t0 = process.cpuUsage()
      cases[c]![1]()
      const t = process.cpuUsage(t0)
      if (round >= 3) samples[c]!.push((t.user + t.system) / batch)
    }
  if (last?.status !== 200) throw new Error(`expected 200, got ${last?.status}`)
  const q = (xs: Array<number>, p: number) => xs.slice().sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!
  console.log(`the registrar's steps, CPU µs per REGISTER (median / p10 of 30 batches of ${batch}):`)
  for (const [c, [name]] of cases.entries())
    console.log(`  ${name.padEnd(28)} ${q(samples[c]!, 0.5).toFixed(2)} / ${q(samples[c]!, 0.1).toFixed(2)}`)
}).pipe(Effect.provide(MemoryLocation.layer()))

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const rate = Number(arg(args, "rate", "40000"))
  const seconds = Number(arg(args, "seconds", "50"))
  const warmup = Number(arg(args, "warmup", "35"))
  let handler: ((inbound: Inbound) => void) | undefined
  let sent = 0
  const transport = Layer.succeed(Transport, {
    listenPoints: [{ protocol: "UDP", address: "127.0.0.1", port: 5060 }],
    subscribe: (h) =>
      Effect.sync(() => {
        handler = h
      }),
    incoming: Stream.empty,
    send: () => Effect.void,
    sendNow: (message) => {
      sent++
      return Serializer.serialize(message)
    },
    sendBytes: () => {
      sent++
    },
  })
  const feed = (bytes: Uint8Array) => {
    handler!({ message: parseRequest(bytes), source, receivedAt: Date.now() })
  }

  await Effect.runPromise(stages)

  // what making the datagrams costs, to tell it apart
  const g0 = process.cpuUsage()
  for (let n = 0; n < 200_000; n++) register(n, 1, 300)
  const g = process.cpuUsage(g0)
  const generate = (g.user + g.system) / 200_000

  const gc = new Map<string, { count: number; ms: number }>()
  let measuring = false
  const observer = new PerformanceObserver((list) => {
    if (!measuring) return
    for (const e of list.getEntries()) {
      const code = (e as { readonly detail?: { readonly kind?: number } }).detail?.kind ?? 0
      const kind = gcKinds[code] ?? `kind ${code}`
      const k = gc.get(kind) ?? { count: 0, ms: 0 }
      k.count++
      k.ms += e.duration
      gc.set(kind, k)
    }
  })
  observer.observe({ entryTypes: ["gc"] })

  const pipeline = Registrar.serve.pipe(
    Layer.provideMerge(Registrar.layer({})),
    Layer.provide(MemoryLocation.layer()),
    Layer.provideMerge(TransactionLayer.layer()),
    Layer.provide(transport),
  )
  const program = Effect.gen(function* () {
    const transactions = yield* TransactionLayer.TransactionLayer
    let call = 0
    let before: Map<string, number> | undefined
    let sentBefore = 0
    const t0 = performance.now()
    yield* Effect.promise(
      () =>
        new Promise<void>((done) => {
          const tick = () => {
            const elapsed = (performance.now() - t0) / 1000
            if (elapsed >= seconds) return done()
            if (before === undefined && elapsed >= warmup) {
              before = threadSeconds()
              sentBefore = sent
              measuring = true
            }
            const due = Math.floor((elapsed * rate) / 2)
            while (call < due) {
              call++
              feed(register(call, 1, 300))
              feed(register(call, 2, 0))
            }
            setTimeout(tick, 1)
          }
          tick()
        }),
    )
    measuring = false
    const after = threadSeconds()
    const n = sent - sentBefore
    const perThread = [...after]
      .map(([name, t]) => [name, ((t - (before?.get(name) ?? 0)) * 1e6) / n] as const)
      .filter(([, us]) => us >= 0.05)
    const total = perThread.reduce((s, [, us]) => s + us, 0)
    const stats = transactions.stats()
    console.log(
      `registrar pipeline, ${rate.toLocaleString("en-US")} REGISTER/s in process, measured from ${warmup} s to ${seconds} s (${n.toLocaleString("en-US")} REGISTERs)`,
    )
    console.log(
      `CPU per REGISTER: ${total.toFixed(1)} µs (${perThread.map(([name, us]) => `${name} ${us.toFixed(1)}`).join(", ")}), of which making the datagrams ${generate.toFixed(2)} µs`,
    )
    for (const [kind, k] of gc)
      console.log(
        `GC ${kind}: ${k.count} pauses, ${k.ms.toFixed(0)} ms (${((k.ms * 1000) / n).toFixed(2)} µs per REGISTER)`,
      )
    console.log(
      `heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB; ${stats.lingering.toLocaleString("en-US")} lingering transactions, ${stats.timers.toLocaleString("en-US")} armed timers`,
    )
  })
  await Effect.runPromise(program.pipe(Effect.provide(pipeline)))
  observer.disconnect()
}
