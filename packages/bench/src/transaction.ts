/**
 * `pnpm bench transaction`: the transaction layer over an in-memory transport.
 *  - throughput of non-INVITE client+server transaction pairs (two layers, reliable and UDP-like)
 *  - heap bytes per live transaction at 100k concurrent (client and server)
 *  - cost per pair with 10 / 1k / 100k other live transactions in the same layer
 */
import { cpus, loadavg } from "node:os"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { Message, type SipRequest, type SipResponse } from "@sipfx/message"
import { Testing, TransactionLayer } from "@sipfx/transaction"
import { type Destination, type Protocol, Transport } from "@sipfx/transport"
import { Effect, Result } from "effect"
import { table } from "./Measure.ts"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

const memoryNetwork = Testing.memoryNetwork

// the shared fixtures of @sipfx/transaction's tests, from 127.0.0.1:5070 over `protocol`
let counter = 0
const request = (method: string, protocol: Protocol): SipRequest =>
  Testing.request({
    method,
    via: `SIP/2.0/${protocol} 127.0.0.1:5070;branch=z9hG4bK${(++counter).toString(36)};rport`,
    callId: `c${counter}@example.com`,
  })

const ok = (req: SipRequest): SipResponse => Testing.response(req, 200)

/** the typed Via and CSeq cached, as the receive-path parser leaves them, before the heap is measured */
const parsed = (req: SipRequest): SipRequest => {
  Message.topVia(req)
  Message.cseq(req)
  return req
}

interface Rig {
  readonly client: TransactionLayer.TransactionLayer["Service"]
  readonly server: TransactionLayer.TransactionLayer["Service"]
  readonly toServer: Destination
  readonly toSink: Destination
}

const rig = (protocol: Protocol, t1 = 500) =>
  Effect.gen(function* () {
    const net = memoryNetwork()
    const timers = { t1 }
    const client = yield* TransactionLayer.make({ timers }).pipe(
      Effect.provideService(Transport, net.endpoint(5070, protocol)),
    )
    const server = yield* TransactionLayer.make({ timers }).pipe(
      Effect.provideService(Transport, net.endpoint(5080, protocol)),
    )
    yield* server.serve((tx) => {
      tx.respond(ok(tx.request))
    })
    // port 5090 has nobody listening: requests there stay unanswered (live transactions)
    return {
      client,
      server,
      toServer: { protocol, address: "127.0.0.1", port: 5080 },
      toSink: { protocol: "UDP", address: "127.0.0.1", port: 5090 },
    } satisfies Rig
  })

/** Elapsed wall-clock and CPU (user + system, this process) milliseconds of one run. */
interface Elapsed {
  readonly wall: number
  readonly cpu: number
}

/** Runs `total` non-INVITE pairs with `window` outstanding. */
const pairs = (r: Rig, protocol: Protocol, total: number, window: number) =>
  Effect.callback<Elapsed>((resume) => {
    let started = 0
    let done = 0
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const callbacks = {
      onResponse: (response: SipResponse) => {
        if (response.status < 200) return
        if (++done === total) {
          const used = process.cpuUsage(cpu0)
          resume(Effect.succeed({ wall: performance.now() - t0, cpu: (used.user + used.system) / 1000 }))
        } else if (started < total) start()
      },
    }
    const start = () => {
      started++
      const tx = r.client.sendRequest(request("OPTIONS", protocol), r.toServer, callbacks)
      if (Result.isFailure(tx)) throw tx.failure
    }
    for (let i = 0; i < window && i < total; i++) start()
  })

const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US")

const throughput = (protocol: Protocol, total: number, rounds: number) =>
  Effect.gen(function* () {
    const r = yield* rig(protocol)
    yield* pairs(r, protocol, 150_000, 256) // warm-up: let the JIT settle
    const rates: Array<number> = []
    const cpuRates: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      const e = yield* pairs(r, protocol, total, 256)
      rates.push(total / (e.wall / 1000))
      cpuRates.push(total / (e.cpu / 1000))
    }
    yield* Effect.yieldNow // the last transactions finish their step after the TU callback
    return {
      rate: median(rates),
      best: Math.max(...rates),
      cpuRate: median(cpuRates),
      stats: r.client.stats(),
      serverStats: r.server.stats(),
    }
  }).pipe(Effect.scoped)

const heapPerTransaction = (n: number) =>
  Effect.gen(function* () {
    const r = yield* rig("UDP")
    const invites = Array.from({ length: n }, () => parsed(request("INVITE", "UDP")))
    const callbacks = { onResponse: () => {} }
    gc()
    gc()
    const before = process.memoryUsage().heapUsed
    for (const req of invites) r.client.sendRequest(req, r.toSink, callbacks)
    yield* Effect.yieldNow
    gc()
    const clientBytes = (process.memoryUsage().heapUsed - before) / n
    const liveClients = r.client.stats()
    // server side: 100k INVITE server transactions waiting for their TU
    const net = memoryNetwork()
    const layer = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, net.endpoint(6000, "UDP")))
    const peer = net.endpoint(6001, "UDP")
    const held: Array<TransactionLayer.ServerTransaction> = []
    yield* layer.serve((tx) => {
      held.push(tx)
    })
    const inbound = Array.from({ length: n }, () => parsed(request("INVITE", "UDP")))
    gc()
    gc()
    const before2 = process.memoryUsage().heapUsed
    for (const req of inbound) yield* peer.send(req, { protocol: "UDP", address: "127.0.0.1", port: 6000 })
    gc()
    const serverBytes = (process.memoryUsage().heapUsed - before2 - 8 * n) / n // minus the TU's own array
    const liveServers = layer.stats()
    // finished non-INVITE server transactions lingering for Timer J (§17.2.2): the TU answers 200
    // at once and keeps nothing, so what stays is what the layer holds (the requests included)
    const done = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, net.endpoint(6002, "UDP")))
    yield* done.serve((tx) => {
      tx.respond(ok(tx.request))
    })
    gc()
    gc()
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers // the kept bytes live off-heap
    const before3 = used()
    let registers: Array<SipRequest> = Array.from({ length: n }, () => parsed(request("REGISTER", "UDP")))
    for (const req of registers) yield* peer.send(req, { protocol: "UDP", address: "127.0.0.1", port: 6002 })
    registers = []
    gc()
    gc()
    const lingeringBytes = (used() - before3) / n
    return { clientBytes, serverBytes, liveClients, liveServers, lingeringBytes, lingering: done.stats() }
  }).pipe(Effect.scoped)

const costAtLive = (live: number, total: number) =>
  Effect.gen(function* () {
    const r = yield* rig("TCP", 600_000) // T1 of 10 min: the idle transactions' timers never fire here
    const callbacks = { onResponse: () => {} }
    for (let i = 0; i < live; i++) r.client.sendRequest(request("INVITE", "UDP"), r.toSink, callbacks)
    yield* pairs(r, "TCP", 100_000, 256)
    const times: Array<number> = []
    const cpuTimes: Array<number> = []
    for (let i = 0; i < 5; i++) {
      const e = yield* pairs(r, "TCP", total, 256)
      times.push(e.wall)
      cpuTimes.push(e.cpu)
    }
    yield* Effect.yieldNow
    return {
      usPerPair: (median(times) * 1000) / total,
      bestUsPerPair: (Math.min(...times) * 1000) / total,
      cpuUsPerPair: (median(cpuTimes) * 1000) / total,
      live: r.client.stats().clientTransactions,
    }
  }).pipe(Effect.scoped)

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const quick = args.includes("--quick")
  const total = quick ? 20_000 : 100_000
  const program = Effect.gen(function* () {
    console.log(`transaction layer, in-memory transport, node ${process.version}\n`)
    const n = quick ? 20_000 : 100_000
    const heap = yield* heapPerTransaction(n)
    console.log(
      `${table(
        ["heap per live transaction", "bytes", "live", "armed timers"],
        [
          [
            "INVITE client (Calling, A+B armed)",
            fmt(heap.clientBytes),
            fmt(heap.liveClients.clientTransactions),
            fmt(heap.liveClients.timers),
          ],
          [
            "INVITE server (Proceeding, 100 Trying timer)",
            fmt(heap.serverBytes),
            fmt(heap.liveServers.serverTransactions),
            fmt(heap.liveServers.timers),
          ],
          [
            "REGISTER server after its 200 (Completed, Timer J)",
            fmt(heap.lingeringBytes),
            fmt(heap.lingering.lingering),
            fmt(heap.lingering.timers),
          ],
        ],
      )}\n(request objects excluded for live transactions: they exist before the layer sees them; the\nfinished ones count all that stays, requests and responses included)\n`,
    )
    const tcp = yield* throughput("TCP", total, quick ? 3 : 5)
    const udp = yield* throughput("UDP", total, quick ? 1 : 5)
    console.log(
      table(
        [
          "non-INVITE client+server pairs",
          "pairs/s (median)",
          "pairs/s (best)",
          "pairs per CPU s (median)",
          "live client tx after",
          "armed timers after",
        ],
        [
          [
            "reliable (Timer J = K = 0)",
            fmt(tcp.rate),
            fmt(tcp.best),
            fmt(tcp.cpuRate),
            fmt(tcp.stats.clientTransactions),
            fmt(tcp.stats.timers),
          ],
          [
            "UDP-like (K = 5 s, J = 32 s stay armed)",
            fmt(udp.rate),
            fmt(udp.best),
            fmt(udp.cpuRate),
            fmt(udp.stats.clientTransactions),
            fmt(udp.stats.timers),
          ],
        ],
      ),
    )
    const rows: Array<Array<string>> = []
    for (const live of quick ? [10, 1_000, 20_000] : [10, 1_000, 100_000]) {
      const c = yield* costAtLive(live, quick ? 10_000 : 50_000)
      rows.push([
        fmt(c.live),
        c.usPerPair.toFixed(2),
        c.bestUsPerPair.toFixed(2),
        (c.bestUsPerPair / 2).toFixed(2),
        c.cpuUsPerPair.toFixed(2),
      ])
    }
    console.log(
      `\n${table(
        [
          "other live transactions",
          "µs per pair (median)",
          "µs per pair (best)",
          "µs per message (best)",
          "CPU µs per pair (median)",
        ],
        rows,
      )}`,
    )
    console.log(
      `\nload average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")} on ${cpus().length} cores`,
    )
  })
  await Effect.runPromise(program)
}
