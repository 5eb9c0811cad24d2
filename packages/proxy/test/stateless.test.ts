import { describe, expect, it } from "@effect/vitest"
import { Headers, Message, type SipRequest, type SipResponse } from "@sipfx/message"
import { Effect } from "effect"
import { Router } from "../src/index.ts"
import { request, ringThen, setupStateless, statuses } from "./harness.ts"

const topBranch = (m: SipRequest | SipResponse) => Message.branch(m)
const vias = (m: SipRequest | SipResponse) => Message.all(m, Headers.Via)

describe("§16.11 stateless proxy", () => {
  it.effect("§16.11: a retransmission is forwarded again with the same branch, to the same place", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      h.callees[0]!.behaviour = () => {} // never answers: the caller retransmits
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const req = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(req)
      yield* h.exchange(req)
      const got = h.callees[0]!.requests("INVITE")
      expect(got).toHaveLength(2)
      expect(topBranch(got[0]!)).toMatch(/^z9hG4bK[0-9a-f]{32}\.s[0-9a-f]{16}$/)
      expect(topBranch(got[1]!)).toBe(topBranch(got[0]!))
      // §16.6: Max-Forwards − 1, Record-Route, our Via on top of the caller's
      expect(Message.maxForwards(got[0]!)).toBe(69)
      expect(Message.header(got[0]!, "Record-Route")).toBe("<sip:127.0.0.1:5060;lr>")
      expect(vias(got[0]!).map((v) => v.host)).toEqual(["127.0.0.1", "127.0.0.2"])
      expect(h.proxy.stats().requests).toBe(2)
    }),
  )

  it.effect("§16.11: another transaction (another incoming branch) gets another branch", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const a = request("MESSAGE", "sip:bob@example.com")
      const b = Message.setHeader(a, { name: "Via", value: "SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-other" })
      yield* h.exchange(a)
      yield* h.exchange(b)
      const got = h.callees[0]!.requests("MESSAGE")
      expect(got).toHaveLength(2)
      expect(topBranch(got[0]!)).not.toBe(topBranch(got[1]!))
    }),
  )

  it.effect("§16.11 / §16.10: a CANCEL takes the branch of the INVITE it cancels, and the callee matches it", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      h.callees[0]!.behaviour = ringThen(undefined)
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const invite = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(invite)
      const cancel: SipRequest = {
        ...invite,
        method: "CANCEL",
        headers: invite.headers.map((f) => (f.name === "CSeq" ? { name: "CSeq", value: "1 CANCEL" } : f)),
      }
      yield* h.exchange(cancel)
      const [inv] = h.callees[0]!.requests("INVITE")
      const [can] = h.callees[0]!.requests("CANCEL")
      expect(topBranch(can!)).toBe(topBranch(inv!))
      // the callee's server transaction matched it: 200 to the CANCEL, 487 to the INVITE, both back at the caller
      const back = h.caller.responses(Message.branch(invite))
      expect(back.filter((r) => Message.cseq(r)?.method === "CANCEL").map((r) => r.status)).toEqual([200])
      expect(back.filter((r) => Message.cseq(r)?.method === "INVITE").map((r) => r.status)).toContain(487)
    }),
  )

  it.effect("§16.11: responses go up with our Via popped; a stateless proxy sends no 100 of its own", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const invite = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(invite)
      const back = h.caller.responses(Message.branch(invite))
      expect(statuses(back).filter((s) => s !== 100)).toEqual([180, 200])
      for (const r of back) expect(vias(r).map((v) => v.host)).toEqual(["127.0.0.2"])
      // every response the caller saw was the callee's (its To tag), none the proxy's
      expect(back.every((r) => r.status === 100 || Message.toTag(r)?.startsWith("callee"))).toBe(true)
      expect(h.proxy.stats().responses).toBe(back.length)
    }),
  )

  it.effect("§16.11: a response whose top Via is not ours is dropped", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      const req = request("MESSAGE", "sip:bob@example.com")
      const stray = Message.response(req, 200, "OK", { toTag: "x" })
      yield* h.fromCallee(0, stray)
      expect(h.caller.arrivals).toHaveLength(0)
      expect(h.proxy.stats().dropped).toBe(1)
    }),
  )

  it.effect("§16.3 step 3 in stateless mode: Max-Forwards 0 → 483, the same To tag for the retransmission", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const req = request("MESSAGE", "sip:bob@example.com", [], { maxForwards: 0 })
      yield* h.exchange(req)
      yield* h.exchange(req)
      const back = h.caller.responses(Message.branch(req))
      expect(statuses(back)).toEqual([483, 483])
      expect(Message.toTag(back[1]!)).toBe(Message.toTag(back[0]!))
      expect(h.callees[0]!.arrivals).toHaveLength(0)
    }),
  )

  it.effect("§16.3 step 4 in stateless mode: a request that comes back unchanged is a loop → 482", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless({ dns: { "loop.example.net": ["127.0.0.1"] } })
      const req = request("MESSAGE", "sip:x@loop.example.net")
      yield* h.exchange(req)
      expect(statuses(h.caller.responses(Message.branch(req)))).toEqual([482])
    }),
  )

  it.effect("§16.11: never an open relay — a binding outside the next-hop policy → 403, nothing sent there", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.50:5060")
      const req = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(req)
      expect(statuses(h.caller.responses(Message.branch(req)))).toEqual([403])
      expect(h.foreignArrivals).toHaveLength(0)
      expect(h.proxy.stats().refused).toBe(1)
    }),
  )

  it.effect("§16.11: one and only one target — two bindings, one copy", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri, 1)
      yield* h.bind("sip:bob@example.com", h.callees[1]!.uri, 0.5)
      const req = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(req)
      expect(h.callees[0]!.requests("MESSAGE")).toHaveLength(1)
      expect(h.callees[1]!.requests("MESSAGE")).toHaveLength(0)
    }),
  )

  it.effect("§16.5 in stateless mode: the Router's response is sent (480 for no binding, a custom 403)", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      const req = request("MESSAGE", "sip:nobody@example.com")
      yield* h.exchange(req)
      expect(statuses(h.caller.responses(Message.branch(req)))).toEqual([480])
      const h2 = yield* setupStateless({ router: Router.make(() => Effect.succeed(Router.respond(403, "No"))) })
      const req2 = request("MESSAGE", "sip:bob@example.com")
      yield* h2.exchange(req2)
      expect(statuses(h2.caller.responses(Message.branch(req2)))).toEqual([403])
    }),
  )

  it.effect("§16.11 / §16.4: an ACK with our Route is forwarded along it and never answered", () =>
    Effect.gen(function* () {
      const h = yield* setupStateless()
      const ack = request("ACK", h.callees[0]!.uri, ["Route: <sip:127.0.0.1:5060;lr>"])
      yield* h.exchange(ack)
      const [got] = h.callees[0]!.requests("ACK")
      expect(got).toBeDefined()
      expect(Message.header(got!, "Route")).toBeUndefined() // §16.4: our Route removed
      expect(Message.header(got!, "Record-Route")).toBeUndefined()
      expect(h.caller.arrivals).toHaveLength(0)
    }),
  )
})
