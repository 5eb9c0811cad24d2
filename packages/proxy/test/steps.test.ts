import { describe, expect, it } from "@effect/vitest"
import { Client } from "@sipfx/auth"
import { Headers, Message, Uri } from "@sipfx/message"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Branch, Router, Self } from "../src/index.ts"
import { answer, request, ringThen, settle, setup, statuses } from "./harness.ts"

describe("§16.3 request validation", () => {
  it.effect("§16.3 step 3: Max-Forwards 0 → 483 and nothing is forwarded", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const req = request("INVITE", "sip:bob@example.com", [], { maxForwards: 0 })
      yield* h.exchange(req)
      expect(h.finalFor(req)?.status).toBe(483)
      expect(h.callees[0]!.arrivals).toHaveLength(0)
    }),
  )

  it.effect("§16.3 step 2: a Request-URI scheme we cannot route → 416", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const req = request("MESSAGE", "tel:+15551234567")
      yield* h.exchange(req)
      expect(h.finalFor(req)?.status).toBe(416)
    }),
  )

  it.effect("§16.3 step 5: an unknown Proxy-Require option-tag → 420 listing it in Unsupported", () =>
    Effect.gen(function* () {
      const h = yield* setup({ proxy: { validation: { supported: ["path"] } } })
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const req = request("MESSAGE", "sip:bob@example.com", ["Proxy-Require: path, foo"])
      yield* h.exchange(req)
      const r = h.finalFor(req)
      expect(r?.status).toBe(420)
      expect(Message.header(r!, "Unsupported")).toBe("foo")
      expect(h.callees[0]!.arrivals).toHaveLength(0)
    }),
  )

  it.effect("§16.3 step 1: a CSeq method that differs from the method → 400", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      const req = request("MESSAGE", "sip:bob@example.com")
      const bad = Message.setHeader(req, { name: "CSeq", value: "1 INVITE" })
      yield* h.exchange(bad)
      expect(h.finalFor({ ...bad, method: "INVITE" })?.status).toBe(400)
    }),
  )

  it.effect("§16.3 step 4: a request forwarded back to this proxy unchanged is a loop → 482", () =>
    Effect.gen(function* () {
      // loop.example.net is not our domain and resolves to the proxy itself
      const h = yield* setup({ dns: { "loop.example.net": ["127.0.0.1"] } })
      const req = request("MESSAGE", "sip:x@loop.example.net")
      yield* h.exchange(req)
      expect(h.finalFor(req)?.status).toBe(482)
    }),
  )

  it("§16.3 step 4: a changed Request-URI is a spiral, not a loop", () => {
    const self = Self.make([{ protocol: "UDP", address: "127.0.0.1", port: 5060 }])
    const received = request("MESSAGE", "sip:x@example.net")
    const hash = Branch.invariants(received, Message.topVia(received))
    const ours = `SIP/2.0/UDP 127.0.0.1:5060;branch=${Branch.make(hash)}`
    const back = { ...received, headers: [{ name: "Via", value: ours }, ...received.headers] }
    const looped = Message.prependHeader(
      back,
      Message.topVia(back)
        ? { name: "Via", value: "SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bKnext" }
        : { name: "Via", value: "" },
    )
    expect(Branch.isLoop(self, looped)).toBe(true)
    expect(Branch.isLoop(self, { ...looped, uri: Uri.parse("sip:y@example.net") })).toBe(false)
    expect(Branch.isLoop(self, received)).toBe(false)
  })

  it.effect("§16.3 step 6 / §22.3: 407 with SHA-256 and MD5 challenges; the retry with credentials is forwarded", () =>
    Effect.gen(function* () {
      const h = yield* setup({
        proxy: { auth: { realm: "example.com", secret: new TextEncoder().encode("s3cret") } },
        credentials: { "example.com": { carol: "pw" } },
      })
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const first = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(first)
      const challenge = h.finalFor(first)!
      expect(challenge.status).toBe(407)
      const values = Message.all(challenge, Headers.ProxyAuthenticate)
      expect(values.map((v) => v.params.find(([k]) => k === "algorithm")?.[1])).toEqual(["SHA-256", "MD5"])
      expect(h.callees[0]!.arrivals).toHaveLength(0)
      // both challenges share one nonce: the nonce-count moves on (a repeated one is Stale)
      for (const [i, chosen] of values.entries()) {
        const creds = Client.respond(
          chosen,
          { username: "carol", password: "pw", method: "MESSAGE", uri: "sip:bob@example.com" },
          i + 1,
        )
        if ("_tag" in creds) throw new Error("unsupported")
        const retry = request(
          "MESSAGE",
          "sip:bob@example.com",
          [`Proxy-Authorization: ${Headers.ProxyAuthorization.format(creds)}`],
          { cseq: 2 },
        )
        yield* h.exchange(retry)
        expect(h.finalFor(retry)?.status).toBe(200)
      }
      expect(h.callees[0]!.requests("MESSAGE")).toHaveLength(2)
      const wrong = Client.respond(
        values[0]!,
        { username: "carol", password: "nope", method: "MESSAGE", uri: "sip:bob@example.com" },
        3,
      )
      if ("_tag" in wrong) throw new Error("unsupported")
      const bad = request(
        "MESSAGE",
        "sip:bob@example.com",
        [`Proxy-Authorization: ${Headers.ProxyAuthorization.format(wrong)}`],
        { cseq: 3 },
      )
      yield* h.exchange(bad)
      expect(h.finalFor(bad)?.status).toBe(407)
      expect(h.callees[0]!.requests("MESSAGE")).toHaveLength(2)
    }),
  )
})

describe("§16.4–§16.6 routing and forwarding", () => {
  it.effect(
    "§16.6 steps 1–8: copy with new Request-URI, Max-Forwards − 1, Record-Route, our Via first; body and other fields kept",
    () =>
      Effect.gen(function* () {
        const h = yield* setup()
        yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
        const req = request("MESSAGE", "sip:bob@example.com", ["Subject: hi", "X-Custom: 1"], { body: "hello" })
        yield* h.exchange(req)
        expect(h.finalFor(req)?.status).toBe(200)
        const [fwd] = h.callees[0]!.requests("MESSAGE")
        expect(Uri.format(fwd!.uri)).toBe(h.callees[0]!.uri)
        expect(Message.maxForwards(fwd!)).toBe(69)
        expect(Message.headerValues(fwd!, "Record-Route")).toEqual(["<sip:127.0.0.1:5060;lr>"])
        const vias = Message.all(fwd!, Headers.Via)
        expect(vias).toHaveLength(2)
        expect(vias[0]!.host).toBe("127.0.0.1")
        const branch = String(Message.param(vias[0]!.params, "branch"))
        expect(Branch.loopPart(branch)).toBe(Branch.invariants(req, Message.topVia(req)))
        expect(Message.header(fwd!, "Subject")).toBe("hi")
        expect(Message.header(fwd!, "X-Custom")).toBe("1")
        expect(new TextDecoder().decode(fwd!.body)).toBe("hello")
        // §16.7 step 3: the response upstream lost our Via
        expect(Message.all(h.finalFor(req)!, Headers.Via)).toHaveLength(1)
      }),
  )

  it.effect("§16.6 step 3: a request without Max-Forwards gets 70", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      yield* h.exchange(request("MESSAGE", "sip:bob@example.com", [], { maxForwards: -1 }))
      expect(Message.maxForwards(h.callees[0]!.requests("MESSAGE")[0]!)).toBe(70)
    }),
  )

  it.effect(
    "§16.5: our domain without binding → 480; a foreign domain is forwarded with its Request-URI unchanged",
    () =>
      Effect.gen(function* () {
        const h = yield* setup({ dns: { "biloxi.example.net": ["127.0.0.4"] } })
        const nobody = request("MESSAGE", "sip:nobody@example.com")
        yield* h.exchange(nobody)
        expect(h.finalFor(nobody)?.status).toBe(480)
        const away = request("MESSAGE", "sip:alice@biloxi.example.net")
        yield* h.exchange(away)
        expect(h.finalFor(away)?.status).toBe(200)
        expect(Uri.format(h.callees[1]!.requests("MESSAGE")[0]!.uri)).toBe("sip:alice@biloxi.example.net")
      }),
  )

  it.effect("§16.4 / §16.12: our Route is removed and the next loose route is followed", () =>
    Effect.gen(function* () {
      const h = yield* setup({ dns: { "next.example.net": ["127.0.0.4"] } })
      const req = request("BYE", h.callees[0]!.uri, [
        "Route: <sip:127.0.0.1:5060;lr>",
        "Route: <sip:next.example.net;lr>",
      ])
      yield* h.exchange(req)
      const [fwd] = h.callees[1]!.requests("BYE")
      expect(fwd).toBeDefined()
      expect(Message.headerValues(fwd!, "Route")).toEqual(["<sip:next.example.net;lr>"])
      expect(Uri.format(fwd!.uri)).toBe(h.callees[0]!.uri)
    }),
  )

  it.effect(
    "§16.4: a strict router's request (our Record-Route URI as Request-URI) is restored from the last Route",
    () =>
      Effect.gen(function* () {
        const h = yield* setup()
        const req = request("BYE", "sip:127.0.0.1:5060;lr", [`Route: <${h.callees[0]!.uri}>`])
        yield* h.exchange(req)
        const [fwd] = h.callees[0]!.requests("BYE")
        expect(Uri.format(fwd!.uri)).toBe(h.callees[0]!.uri)
        expect(Message.header(fwd!, "Route")).toBeUndefined()
      }),
  )

  it.effect("§16.6 step 6: a binding's Path is pushed as Route; a strict next hop gets the Request-URI appended", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.99:5060", undefined, [`<${h.callees[1]!.uri}>`])
      const req = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(req)
      // the strict router (no lr) in Path becomes the Request-URI; the contact goes last in Route
      const [fwd] = h.callees[1]!.requests("MESSAGE")
      expect(Uri.format(fwd!.uri)).toBe(h.callees[1]!.uri)
      expect(Message.headerValues(fwd!, "Route")).toEqual(["<sip:bob@192.0.2.99:5060>"])
    }),
  )

  it.effect("outbound policy: a next hop outside the allowed set is never contacted (403)", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", "sip:bob@192.0.2.50:5060")
      const req = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(req)
      expect(h.finalFor(req)?.status).toBe(403)
      expect(h.foreignArrivals).toHaveLength(0)
      expect(h.proxy.stats().refused).toBe(1)
    }),
  )

  it.effect("§16.5: the routing policy is a replaceable Router (an Effect supplied by the user)", () =>
    Effect.gen(function* () {
      let seen = ""
      const h = yield* setup({
        router: Router.make((input) =>
          Effect.sync(() => {
            seen = Uri.format(input.request.uri)
            return input.request.uri._tag === "SipUri" && input.request.uri.user === "desk"
              ? Router.forward({ uri: Uri.parse("sip:desk@127.0.0.4:5060") })
              : Router.respond(404)
          }),
        ),
      })
      const ok = request("MESSAGE", "sip:desk@example.com")
      yield* h.exchange(ok)
      expect(h.finalFor(ok)?.status).toBe(200)
      expect(seen).toBe("sip:desk@example.com")
      const no = request("MESSAGE", "sip:other@example.com")
      yield* h.exchange(no)
      expect(h.finalFor(no)?.status).toBe(404)
    }),
  )
})

describe("§16.7 response context, §16.10 CANCEL, forking", () => {
  it.effect(
    "§16.7: provisional forwarded, 2xx forwarded at once, the other branch CANCELled → 487 (parallel forking)",
    () =>
      Effect.gen(function* () {
        const h = yield* setup()
        h.callees[0]!.behaviour = ringThen(200, 2_000)
        h.callees[1]!.behaviour = ringThen(undefined)
        yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
        yield* h.bind("sip:bob@example.com", h.callees[1]!.uri)
        const inv = request("INVITE", "sip:bob@example.com")
        yield* h.exchange(inv)
        expect(statuses(h.caller.responses())).toEqual([100, 180, 180])
        yield* TestClock.adjust(2_000)
        yield* settle
        expect(h.finalFor(inv)?.status).toBe(200)
        expect(h.callees[1]!.requests("CANCEL")).toHaveLength(1)
        // the 487 of the cancelled branch is ACKed hop-by-hop and not forwarded
        expect(h.callees[1]!.requests("ACK")).toHaveLength(1)
        expect(statuses(h.caller.responses()).filter((s) => s >= 200)).toEqual([200])
        expect(h.proxy.stats().contexts).toBe(0)
      }),
  )

  it.effect("§16.7 step 5: a 6xx cancels the other branches and is the answer", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      h.callees[0]!.behaviour = ringThen(603, 1_000)
      h.callees[1]!.behaviour = ringThen(undefined)
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      yield* h.bind("sip:bob@example.com", h.callees[1]!.uri)
      const inv = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(inv)
      yield* TestClock.adjust(1_000)
      yield* settle
      expect(h.callees[0]!.requests("CANCEL")).toHaveLength(0)
      expect(h.callees[1]!.requests("CANCEL")).toHaveLength(1)
      expect(h.finalFor(inv)?.status).toBe(603)
    }),
  )

  it.effect("§16.7 step 6: the lowest class wins, 503 becomes 500, 401/407 challenges are merged", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      yield* h.bind("sip:bob@example.com", h.callees[1]!.uri)
      h.callees[0]!.behaviour = (tx) => answer(tx, 503)
      h.callees[1]!.behaviour = (tx) => answer(tx, 404)
      const a = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(a)
      expect(h.finalFor(a)?.status).toBe(404)
      h.callees[1]!.behaviour = (tx) => answer(tx, 503)
      const b = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(b)
      expect(h.finalFor(b)?.status).toBe(500)
      h.callees[0]!.behaviour = (tx) =>
        answer(tx, 401, [{ name: "WWW-Authenticate", value: 'Digest realm="a", nonce="1"' }])
      h.callees[1]!.behaviour = (tx) =>
        answer(tx, 407, [{ name: "Proxy-Authenticate", value: 'Digest realm="b", nonce="2"' }])
      const c = request("MESSAGE", "sip:bob@example.com")
      yield* h.exchange(c)
      const r = h.finalFor(c)!
      expect([401, 407]).toContain(r.status)
      expect(Message.headerValues(r, "WWW-Authenticate")).toEqual(['Digest realm="a", nonce="1"'])
      expect(Message.headerValues(r, "Proxy-Authenticate")).toEqual(['Digest realm="b", nonce="2"'])
    }),
  )

  it.effect("§16.10: CANCEL → 200, every pending branch CANCELled, the caller gets 487", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      h.callees[0]!.behaviour = ringThen(undefined)
      h.callees[1]!.behaviour = ringThen(undefined)
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      yield* h.bind("sip:bob@example.com", h.callees[1]!.uri)
      const inv = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(inv)
      const cancel = {
        ...inv,
        method: "CANCEL",
        headers: inv.headers.map((f) => (f.name === "CSeq" ? { name: "CSeq", value: "1 CANCEL" } : f)),
      }
      yield* h.exchange(cancel)
      expect(h.finalFor(cancel)?.status).toBe(200)
      expect(h.callees[0]!.requests("CANCEL")).toHaveLength(1)
      expect(h.callees[1]!.requests("CANCEL")).toHaveLength(1)
      expect(h.finalFor(inv)?.status).toBe(487)
    }),
  )

  it.effect("§16.6 sequential forking: highest q first; on its failure the next q is tried", () =>
    Effect.gen(function* () {
      const h = yield* setup({ proxy: { forking: "sequential" } })
      h.callees[0]!.behaviour = (tx) => answer(tx, 486)
      h.callees[1]!.behaviour = ringThen(200)
      yield* h.bind("sip:bob@example.com", h.callees[1]!.uri, 0.5)
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri, 0.9)
      const inv = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(inv)
      expect(h.callees[0]!.requests("INVITE")).toHaveLength(1)
      expect(h.callees[1]!.requests("INVITE")).toHaveLength(1)
      expect(h.finalFor(inv)?.status).toBe(200)
    }),
  )

  it.effect(
    "§16.6 sequential forking: a group that rings past the branch timeout is CANCELled and the next tried",
    () =>
      Effect.gen(function* () {
        const h = yield* setup({ proxy: { forking: "sequential", branchTimeout: 10_000 } })
        h.callees[0]!.behaviour = ringThen(undefined)
        h.callees[1]!.behaviour = ringThen(200)
        yield* h.bind("sip:bob@example.com", h.callees[0]!.uri, 1)
        yield* h.bind("sip:bob@example.com", h.callees[1]!.uri, 0.1)
        const inv = request("INVITE", "sip:bob@example.com")
        yield* h.exchange(inv)
        expect(h.callees[1]!.requests("INVITE")).toHaveLength(0)
        yield* TestClock.adjust(9_999)
        yield* settle
        expect(h.callees[1]!.requests("INVITE")).toHaveLength(0)
        yield* TestClock.adjust(1)
        yield* settle
        expect(h.callees[0]!.requests("CANCEL")).toHaveLength(1)
        expect(h.callees[1]!.requests("INVITE")).toHaveLength(1)
        expect(h.finalFor(inv)?.status).toBe(200)
      }),
  )

  it.effect("§16.8 Timer C: a branch ringing for more than 3 minutes is CANCELled at 181 s", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      h.callees[0]!.behaviour = ringThen(undefined)
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const inv = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(inv)
      yield* TestClock.adjust(180_999)
      yield* settle
      expect(h.callees[0]!.requests("CANCEL")).toHaveLength(0)
      yield* TestClock.adjust(1)
      yield* settle
      expect(h.callees[0]!.requests("CANCEL")).toHaveLength(1)
      expect(h.finalFor(inv)?.status).toBe(487)
      expect(h.proxy.stats()).toMatchObject({ contexts: 0, timers: 0 })
    }),
  )

  it.effect("§16.7 / §17.2.1: ACK for a non-2xx is absorbed hop-by-hop; ACK for a 2xx is forwarded end to end", () =>
    Effect.gen(function* () {
      const h = yield* setup()
      h.callees[0]!.behaviour = (tx) => answer(tx, 486)
      yield* h.bind("sip:bob@example.com", h.callees[0]!.uri)
      const busy = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(busy)
      const r = h.finalFor(busy)!
      expect(r.status).toBe(486)
      const ack = {
        ...busy,
        method: "ACK",
        headers: busy.headers.map((f) =>
          f.name === "CSeq"
            ? { name: "CSeq", value: "1 ACK" }
            : f.name === "To"
              ? { name: "To", value: Message.header(r, "To")! }
              : f,
        ),
      }
      yield* h.exchange(ack)
      // one ACK at the callee: the proxy's own, on its INVITE branch (§17.1.1.3)
      const acks = h.callees[0]!.requests("ACK")
      expect(acks).toHaveLength(1)
      expect(Message.branch(acks[0]!)).toBe(Message.branch(h.callees[0]!.requests("INVITE")[0]!))

      h.callees[0]!.behaviour = ringThen(200)
      const inv = request("INVITE", "sip:bob@example.com")
      yield* h.exchange(inv)
      const ok = h.finalFor(inv)!
      expect(ok.status).toBe(200)
      const ack2 = request("ACK", "sip:bob@example.com", ["Route: <sip:127.0.0.1:5060;lr>"])
      yield* h.exchange({
        ...ack2,
        headers: ack2.headers.map((f) => (f.name === "To" ? { name: "To", value: Message.header(ok, "To")! } : f)),
      })
      expect(h.callees[0]!.requests("ACK")).toHaveLength(2)
      expect(h.proxy.stats().stateless).toBe(1)
    }),
  )
})
