/**
 * CPU per REGISTER of the registrar's part of `sipfx serve`'s hot path, in process: parse →
 * `Registrar.handle` (§10.3 steps, in-memory location update, the 200) → serialize, as SIPp's
 * load does it (REGISTER expires 300, then expires 0 on the same Call-ID, 1,000 users).
 * CPU time (process.cpuUsage: the machine is shared), median and 10th percentile of 30
 * interleaved batches of 20,000 REGISTERs.
 * Run: node packages/registrar/bench/handle.ts
 */
import { loadavg } from "node:os"
import { MemoryLocation } from "@sipfx/location"
import { Parser, Serializer, type SipRequest, type SipResponse } from "@sipfx/message"
import type { TransactionLayer } from "@sipfx/transaction"
import type { Source } from "@sipfx/transport"
import { Effect } from "effect"
import { Registrar } from "../src/index.ts"

const source: Source = {
  protocol: "UDP",
  address: "127.0.0.1",
  port: 5062,
  connectionId: undefined,
  local: { address: "127.0.0.1", port: 5060 },
}

const register = (i: number, seq: number, expires: number): Uint8Array => {
  const user = `user${String(i % 1000).padStart(4, "0")}`
  return Buffer.from(
    `REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-${i}-${seq}\r\n` +
      `Max-Forwards: 70\r\n` +
      `From: <sip:${user}@127.0.0.1>;tag=4242-${i}\r\n` +
      `To: <sip:${user}@127.0.0.1>\r\n` +
      `Call-ID: ${i}-4242@127.0.0.1\r\n` +
      `CSeq: ${seq} REGISTER\r\n` +
      `Contact: <sip:${user}@127.0.0.1:5062>\r\n` +
      `Expires: ${expires}\r\n` +
      `Content-Length: 0\r\n\r\n`,
    "latin1",
  )
}

const N = 20_000
// two REGISTERs per call, as the SIPp scenario: 10,000 calls per batch
const wires: Array<Uint8Array> = []
for (let i = 0; i < N / 2; i++) wires.push(register(i, 1, 300), register(i, 2, 0))

const program = Effect.gen(function* () {
  const registrar = yield* Registrar.make({})
  let last: SipResponse | undefined
  let bytes = 0
  const tx = (request: SipRequest, serialize: boolean) =>
    ({
      request,
      source,
      respond: (r: SipResponse) => {
        last = r
        if (serialize) bytes += Serializer.serialize(r).length
        return true
      },
    }) as unknown as TransactionLayer.ServerTransaction
  const parse = (w: Uint8Array) => {
    const p = Parser.parse(w)
    if (p._tag !== "Ok") throw new Error("fixture does not parse")
    return p.message as SipRequest
  }
  const cases: ReadonlyArray<readonly [string, () => void]> = [
    [
      "parse",
      () => {
        for (const w of wires) parse(w)
      },
    ],
    [
      "parse + handle",
      () => {
        for (const w of wires) registrar.handle(tx(parse(w), false))
      },
    ],
    [
      "parse + handle + serialize",
      () => {
        for (const w of wires) registrar.handle(tx(parse(w), true))
      },
    ],
  ]
  const samples = cases.map(() => [] as Array<number>)
  for (let round = 0; round < 33; round++)
    for (let c = 0; c < cases.length; c++) {
      const t0 = process.cpuUsage()
      cases[c]![1]()
      const t = process.cpuUsage(t0)
      if (round >= 3) samples[c]!.push((t.user + t.system) / N)
    }
  if (last?.status !== 200) throw new Error(`expected 200, got ${last?.status}`)
  const q = (xs: Array<number>, p: number) => xs.slice().sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!
  console.log(`CPU µs per REGISTER (median / p10 of 30 batches of ${N}), load ${loadavg()[0]!.toFixed(2)}`)
  for (const [c, [name]] of cases.entries())
    console.log(`  ${name.padEnd(28)} ${q(samples[c]!, 0.5).toFixed(2)} / ${q(samples[c]!, 0.1).toFixed(2)}`)
  const m = (s: Array<number>) => q(s, 0.5)
  console.log(`  handle (difference)          ${(m(samples[1]!) - m(samples[0]!)).toFixed(2)}`)
  console.log(`  serialize the 200            ${(m(samples[2]!) - m(samples[1]!)).toFixed(2)}   (${bytes} bytes)`)
})

Effect.runSync(program.pipe(Effect.provide(MemoryLocation.layer())) as Effect.Effect<void>)
