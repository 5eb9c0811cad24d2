/**
 * The seed scenario of the presence and instant messaging issue, over real loopback sockets,
 * once over TCP and once over UDP: Chebychev subscribes to Poisson's presence (closed), Poisson
 * registers (open), then they exchange MESSAGEs through the relay. Every message is checked.
 */
import { describe, expect, it } from "@effect/vitest"
import { Headers, Message, type SipMessage, type SipRequest, type SipResponse } from "@sipfx/message"
import { Ports } from "@sipfx/peers"
import { Effect, Fiber, Stream } from "effect"
import { Pidf } from "../src/index.ts"
import { agent, server, type Wire } from "./harness.ts"

const chebychev = "sip:pafnuty@lecturehall21.academy.ru"
const poisson = "sip:s.poisson@dist.probability.org"

const requests = (wire: Wire, dir: "in" | "out", method: string): Array<SipRequest> =>
  wire.log
    .filter((e) => e.dir === dir && e.message._tag === "SipRequest" && e.message.method === method)
    .map((e) => e.message as SipRequest)

const responses = (wire: Wire, dir: "in" | "out", method: string): Array<SipResponse> =>
  wire.log
    .filter((e) => e.dir === dir && e.message._tag === "SipResponse" && Message.cseq(e.message)?.method === method)
    .map((e) => e.message as SipResponse)

/** RFC 3261 §18.2.1 / RFC 3581 §4: the server's top Via says where the request came from. */
const receivedStamped = (r: SipMessage) => {
  const via = Message.topVia(r)!
  const received = Message.param(via.params, "received")
  const rport = Message.param(via.params, "rport")
  // sent-by 127.0.0.1 equals the source, but the UA asked for rport, which adds received (§4)
  return typeof received === "string" && received === "127.0.0.1" && typeof rport === "string"
}

describe("seed scenario: presence and instant messaging through sipfx", () => {
  for (const transport of ["tcp", "udp"] as const) {
    it.live(
      `RFC 3856 §6 / RFC 6665 §4 / RFC 3428 §7 over ${transport}: SUBSCRIBE, NOTIFY closed, REGISTER, NOTIFY open, MESSAGE both ways`,
      () =>
        Effect.gen(function* () {
          const [ps, pc, pp] = yield* Effect.promise(() => Ports.freePorts(3))
          const param = transport === "tcp" ? ";transport=tcp" : ""
          const proxy = `sip:127.0.0.1:${ps}${param};lr`
          const srv = yield* server(ps)
          const c = yield* agent(chebychev, pc, proxy)
          const p = yield* agent(poisson, pp, proxy)
          yield* c.ua.register({ expires: 600 })

          // 1. SUBSCRIBE → 200, then NOTIFY active with a closed PIDF, answered 200
          const sub = yield* c.subscriber.subscribe(poisson, "presence", { expires: 600, accept: [Pidf.contentType] })
          expect(sub.response.status).toBe(200)
          expect(Message.first(sub.response, Headers.Expires)).toBe(600)
          expect(Message.toTag(sub.response)).toBeDefined()
          const notes = yield* Effect.forkChild(sub.notifications.pipe(Stream.take(2), Stream.runCollect))
          yield* Effect.sleep("300 millis")
          // 2. Poisson logs in: a second NOTIFY says open
          yield* p.ua.register({ expires: 600 })
          const [first, second] = [...(yield* Effect.timeout(Fiber.join(notes), "5 seconds"))]
          for (const n of [first!, second!]) {
            expect(n.state).toBe("active")
            expect(Message.header(n.request, "Subscription-State")).toMatch(/^active;expires=\d+$/)
            expect(Message.first(n.request, Headers.Event)?.package).toBe("presence")
            expect(Pidf.isPidf(n.contentType)).toBe(true)
          }
          const closed = Pidf.parse(first!.body)
          const open = Pidf.parse(second!.body)
          if (closed instanceof Pidf.PidfError || open instanceof Pidf.PidfError) throw new Error("bad PIDF")
          expect(closed.entity).toBe(poisson)
          expect(closed.tuples.map((t) => t.basic)).toEqual(["closed"])
          expect(open.tuples.map((t) => t.basic)).toEqual(["open"])
          expect(open.tuples[0]!.contact?.uri).toBe(p.ua.contact(transport === "tcp" ? "TCP" : "UDP"))
          // both NOTIFYs in the subscription's dialog, CSeq rising, answered 200 by Chebychev
          const notifies = requests(c.wire, "in", "NOTIFY")
          expect(notifies).toHaveLength(2)
          expect(new Set(notifies.map((n) => Message.callId(n)))).toEqual(new Set([Message.callId(sub.response)]))
          expect(notifies.map((n) => Message.fromTag(n))).toEqual([
            Message.toTag(sub.response),
            Message.toTag(sub.response),
          ])
          expect(Message.cseq(notifies[1]!)!.seq).toBe(Message.cseq(notifies[0]!)!.seq + 1)
          expect(responses(c.wire, "out", "NOTIFY").map((r) => r.status)).toEqual([200, 200])

          // 3. MESSAGE "Hi There!" outside any dialog, relayed to Poisson, 200
          const toPoisson = yield* Effect.forkChild(p.ua.messages.pipe(Stream.take(1), Stream.runCollect))
          const toChebychev = yield* Effect.forkChild(c.ua.messages.pipe(Stream.take(1), Stream.runCollect))
          yield* Effect.sleep("20 millis")
          const r1 = yield* c.ua.message(poisson, "Hi There!")
          expect(r1.status).toBe(200)
          const [hi] = [...(yield* Effect.timeout(Fiber.join(toPoisson), "5 seconds"))]
          expect(hi!.text).toBe("Hi There!")
          expect(Message.callId(hi!.request)).not.toBe(Message.callId(sub.response))
          expect(Message.fromTag(hi!.request)).not.toBe(Message.fromTag(sub.response))
          expect(Message.toTag(hi!.request)).toBeUndefined()
          // 4. the reply, relayed to Chebychev, 200
          const r2 = yield* p.ua.message(chebychev, "Well, hello there to you, too!")
          expect(r2.status).toBe(200)
          const [reply] = [...(yield* Effect.timeout(Fiber.join(toChebychev), "5 seconds"))]
          expect(reply!.text).toBe("Well, hello there to you, too!")
          expect(Message.callId(reply!.request)).not.toBe(Message.callId(hi!.request))

          // every response the UAs got from the server carries received (and rport)
          for (const w of [c.wire, p.wire])
            for (const e of w.log)
              if (e.dir === "in" && e.message._tag === "SipResponse") expect(receivedStamped(e.message)).toBe(true)
          // the relay forwarded each MESSAGE with its own Via on top of the sender's
          const relayed = requests(srv.wire, "out", "MESSAGE")
          expect(relayed).toHaveLength(2)
          for (const m of relayed) expect(Message.all(m, Headers.Via)).toHaveLength(2)
        }).pipe(Effect.scoped),
      30_000,
    )
  }
})
