/**
 * CPU per proxied call of the stateful proxy's own share, in process: the proxy Layer over a
 * TransactionLayer and a transport that captures what it sends, driven call by call as SIPp
 * `uac` → proxy → `uas` does it (INVITE, 100, 180, 200, ACK, BYE, 200; Record-Route, loose
 * routing for ACK and BYE). No sockets, so the figure excludes the kernel and Node's dgram path:
 * `pnpm bench proxy` measures those.
 *
 * Per round: time inside the proxy (parse, stamp, transaction layer, proxy logic, serialise), and
 * the process's CPU time (the driver's message building and the GC threads included), both per call.
 * `--promoted FILE` writes a sampling heap profile of the objects that survived a minor GC (what
 * the young generation promoted, collected later or not): what a call leaves behind for the
 * old generation. Every transaction lingers (Timers J, K, L, M) for the whole run, as under load.
 *
 * Run: node packages/proxy/bench/call.ts [calls per round, 20000] [rounds, 5] [--promoted FILE]
 */
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { MemoryLocation } from "@sipfx/location"
import { Parser, Serializer, type SipMessage } from "@sipfx/message"
import { TransactionLayer } from "@sipfx/transaction"
import { type Destination, type Inbound, Resolver, Routing, type Source, Transport } from "@sipfx/transport"
import { Context, Effect, Layer, Stream } from "effect"
import { NextHops, Router, StatefulProxy } from "../src/index.ts"

const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith("--") && all[i - 1] !== "--promoted")
const calls = Number(positional[0] ?? 20_000)
const rounds = Number(positional[1] ?? 5)
const promotedAt = process.argv.indexOf("--promoted")
const promotedFile = promotedAt > 0 ? process.argv[promotedAt + 1] : undefined

const PROXY = 5060
const UAC = 6000
const UAS = 7000

const sent: Array<{ bytes: Uint8Array; to: Destination }> = []
let deliver: ((inbound: Inbound) => void) | undefined
const transport: Transport["Service"] = {
  listenPoints: [{ protocol: "UDP", address: "127.0.0.1", port: PROXY }],
  subscribe: (h) =>
    Effect.sync(() => {
      deliver = h
    }),
  incoming: Stream.empty,
  send: (m, d) =>
    Effect.sync(() => {
      sent.push({ bytes: Serializer.serialize(m), to: d })
    }),
  sendNow: (m, d) => {
    sent.push({ bytes: Serializer.serialize(m), to: d })
  },
  sendBytes: (bytes, d) => {
    sent.push({ bytes, to: d })
  },
}

const sourceOf = (port: number): Source => ({
  protocol: "UDP",
  address: "127.0.0.1",
  port,
  connectionId: undefined,
  local: { address: "127.0.0.1", port: PROXY },
})

let insideNs = 0n
/** one datagram into the proxy, as NodeTransport delivers it */
const receive = (text: string, port: number) => {
  const bytes = Buffer.from(text, "latin1")
  const t0 = process.hrtime.bigint()
  const parsed = Parser.parse(bytes)
  if (parsed._tag === "Err") throw new Error(parsed.error.reason)
  const m = parsed.message as SipMessage
  const source = sourceOf(port)
  deliver!({ message: m._tag === "SipRequest" ? Routing.stampReceived(m, source) : m, source, receivedAt: 0 })
  insideNs += process.hrtime.bigint() - t0
}

/** the first datagram sent to `port`, as text */
const take = (port: number): string => {
  const i = sent.findIndex((o) => o.to.port === port)
  if (i < 0) throw new Error(`nothing sent to ${port}`)
  const [o] = sent.splice(i, 1)
  return Buffer.from(o!.bytes).toString("latin1")
}

/** the uas's response to a forwarded request (§8.2.6: Via, From, Call-ID, CSeq, Record-Route copied) */
const answer = (request: string, status: string, extra = "") => {
  const lines = request.split("\r\n")
  const copied = lines.filter((l) => /^(Via|From|Call-ID|CSeq|Record-Route):/i.test(l))
  const to = lines.find((l) => /^To:/i.test(l))!
  return `SIP/2.0 ${status}\r\n${copied.join("\r\n")}\r\n${to.includes("tag=") ? to : `${to};tag=u1`}\r\n${extra}Content-Length: 0\r\n\r\n`
}

const sdp =
  "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"

const call = (i: number) => {
  const dialog = `From: sipp <sip:sipp@127.0.0.1:${UAC}>;tag=${i}SIPpTag001\r\nCall-ID: ${i}-bench@127.0.0.1\r\n`
  const via = (n: number) => `Via: SIP/2.0/UDP 127.0.0.1:${UAC};branch=z9hG4bK-${i}-${n}-0\r\n`
  const route = `Route: <sip:127.0.0.1:${PROXY};lr>\r\n`
  const callee = `To: <sip:bench@127.0.0.1:${UAS}>`
  receive(
    `INVITE sip:bench@127.0.0.1:${UAS} SIP/2.0\r\n${via(1)}${dialog}${callee}\r\nCSeq: 1 INVITE\r\n` +
      `Contact: <sip:sipp@127.0.0.1:${UAC};transport=UDP>\r\nMax-Forwards: 70\r\n` +
      `Content-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`,
    UAC,
  )
  take(UAC) // 100 Trying (§16.2)
  const invite = take(UAS)
  receive(answer(invite, "180 Ringing"), UAS)
  take(UAC)
  receive(answer(invite, "200 OK", `Contact: <sip:bench@127.0.0.1:${UAS}>\r\n`), UAS)
  take(UAC)
  receive(
    `ACK sip:bench@127.0.0.1:${UAS} SIP/2.0\r\n${via(2)}${route}${dialog}${callee};tag=u1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
    UAC,
  )
  take(UAS)
  receive(
    `BYE sip:bench@127.0.0.1:${UAS} SIP/2.0\r\n${via(3)}${route}${dialog}${callee};tag=u1\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
    UAC,
  )
  receive(answer(take(UAS), "200 OK"), UAS)
  take(UAC)
  if (sent.length > 0) throw new Error(`unexpected datagrams: ${sent.length}`)
}

const layer = StatefulProxy.serve.pipe(
  Layer.provideMerge(StatefulProxy.layer({ nextHops: NextHops.loopback })),
  Layer.provideMerge(Router.location({ foreign: "forward" })),
  Layer.provideMerge(TransactionLayer.layer()),
  Layer.provideMerge(Layer.mergeAll(Resolver.memory({}), MemoryLocation.layer())),
  Layer.provideMerge(Layer.succeed(Transport, transport)),
)

const session = promotedFile === undefined ? undefined : new Session()
if (session !== undefined) {
  session.connect()
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  })
}

await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const services = yield* Layer.build(layer)
      const transactions = Context.get(services, TransactionLayer.TransactionLayer)
      let k = 0
      for (let r = 0; r < rounds; r++) {
        insideNs = 0n
        const cpu0 = process.cpuUsage()
        for (let i = 0; i < calls; i++) call(k++)
        const cpu = process.cpuUsage(cpu0)
        const s = transactions.stats()
        console.log(
          `round ${r}: inside the proxy ${(Number(insideNs) / 1000 / calls).toFixed(1)} µs/call, ` +
            `process CPU ${((cpu.user + cpu.system) / calls).toFixed(1)} µs/call; ` +
            `${s.lingering} lingering transactions, ${s.timerEntries} timer entries`,
        )
      }
    }),
  ),
)

if (session !== undefined && promotedFile !== undefined) {
  const { profile } = await session.post("HeapProfiler.stopSampling")
  writeFileSync(promotedFile, JSON.stringify(profile))
  console.log(`promoted objects' allocation profile: ${promotedFile}`)
}
process.exit(0)
