/**
 * First typed access to a header, in CPU time (process.cpuUsage: the machine is shared):
 * 10th percentile and median of 40 interleaved batches of 20,000.
 * Run: node packages/message/bench/typedAccess.ts
 */
import { loadavg } from "node:os"
import { Header, HeaderCache, Headers, Message, Parser, type SipMessage, type SipRequest, Uri } from "../src/index.ts"

const bob = Uri.parse("sip:bob@example.com")
const one = (h: Header.Header): SipMessage => Message.request({ method: "OPTIONS", uri: bob, headers: [h] })
const route = "<sip:p1.example.com;lr>"
const parsed = Parser.parse(
  Buffer.from(
    "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n" +
      "To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
      "Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n",
  ),
)
if (parsed._tag !== "Ok") throw new Error("fixture does not parse")
const invite = parsed.message as SipRequest

const cases: ReadonlyArray<readonly [string, () => unknown]> = [
  [
    "Route grammar + cache write (floor)",
    () => {
      const h = Header.raw("Route", route)
      const v = Headers.Route.grammar(h.value)
      HeaderCache.set(h, v)
      return v
    },
  ],
  ["Header.raw Route + Message.first", () => Message.first(one(Header.raw("Route", route)), Headers.Route)],
  [
    "plain { name, value } Route + Message.first",
    () => Message.first(one({ name: "Route", value: route }), Headers.Route),
  ],
  [
    "Header.raw Max-Forwards + Message.first",
    () => Message.first(one(Header.raw("Max-Forwards", "70")), Headers.MaxForwards),
  ],
  [
    "malformed Max-Forwards + Message.first",
    () => Message.first(one(Header.raw("Max-Forwards", "7x0")), Headers.MaxForwards) ?? 0,
  ],
  [
    "Message.response(200, toTag) + toTag",
    () => Message.toTag(Message.response(invite, 200, undefined, { toTag: "a" })),
  ],
]

const cpu = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const N = 20_000
const samples = new Map<string, Array<number>>()
for (const [, f] of cases) for (let i = 0; i < N; i++) f()
for (let round = 0; round < 40; round++)
  for (const [name, f] of cases) {
    const t0 = cpu()
    for (let i = 0; i < N; i++) f()
    const xs = samples.get(name) ?? []
    xs.push(((cpu() - t0) * 1000) / N)
    samples.set(name, xs)
  }
console.log(`first typed access, ns per operation (CPU), node ${process.version}, load ${loadavg()[0]!.toFixed(2)}`)
for (const [name, xs] of samples) {
  xs.sort((a, b) => a - b)
  console.log(`${name.padEnd(44)} p10 ${xs[4]!.toFixed(0).padStart(5)}  median ${xs[20]!.toFixed(0).padStart(5)}`)
}
