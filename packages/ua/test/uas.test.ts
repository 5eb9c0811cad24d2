/** UAS core and INVITE server behaviour on the simulated network, timed by TestClock. */
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { Deferred, Effect, Stream } from "effect"
import { TestClock } from "effect/testing"
import { dest, peer, request, settle, simUa } from "./sim.ts"

const answer = new TextEncoder().encode("v=0\r\n")

const setup = Effect.gen(function* () {
  const network = yield* Network.make({ seed: 7 })
  const bob = yield* simUa(network, "bob", { aor: "sip:bob@example.com" })
  const carol = yield* peer(network, "carol")
  return { network, bob, carol }
})

describe("§8.2 UAS core", () => {
  it.effect(
    "§8.2.1 unknown method → 405 with Allow; §8.2.2.1 tel: Request-URI → 416; §8.2.2.3 Require → 420 with Unsupported",
    () =>
      Effect.gen(function* () {
        const { bob, carol } = yield* setup
        yield* carol.transport.send(request("SUBSCRIBE", carol), bob.to)
        yield* carol.transport.send(request("OPTIONS", carol, { uri: "tel:+15551234" }), bob.to)
        yield* carol.transport.send(request("OPTIONS", carol, { extra: ["Require: 100rel, foo"] }), bob.to)
        yield* settle
        const [r405, r416, r420] = carol.responses()
        expect(r405?.status).toBe(405)
        expect(Message.header(r405!, "Allow")).toContain("INVITE")
        expect(r416?.status).toBe(416)
        expect(r420?.status).toBe(420)
        expect(Message.headerValues(r420!, "Unsupported").join(",")).toMatch(/100rel.*foo/)
      }),
  )

  it.effect("§11.2 OPTIONS → 200 with Allow, Accept, Supported-free capabilities", () =>
    Effect.gen(function* () {
      const { bob, carol } = yield* setup
      yield* carol.transport.send(request("OPTIONS", carol), bob.to)
      yield* settle
      const [ok] = carol.responses(200)
      expect(Message.header(ok!, "Allow")).toContain("MESSAGE")
      expect(Message.header(ok!, "Accept")).toContain("application/sdp")
    }),
  )

  it.effect("§8.2.2.2 the same request by another path (other branch) → 482", () =>
    Effect.gen(function* () {
      const { bob, carol } = yield* setup
      const first = request("MESSAGE", carol, { callId: "merge@example.org", seq: 9 })
      yield* carol.transport.send(first, bob.to)
      yield* carol.transport.send(request("MESSAGE", carol, { callId: "merge@example.org", seq: 9 }), bob.to)
      yield* settle
      expect(carol.responses().map((r) => r.status)).toEqual([200, 482])
    }),
  )

  it.effect("§12.2.2 a request with a To tag that matches no dialog → 481", () =>
    Effect.gen(function* () {
      const { bob, carol } = yield* setup
      yield* carol.transport.send(request("BYE", carol, { toTag: "nope" }), bob.to)
      yield* settle
      expect(carol.responses().map((r) => r.status)).toEqual([481])
    }),
  )

  it.effect("§9.2 CANCEL → 200 to the CANCEL and 487 to the INVITE; the incoming call sees it", () =>
    Effect.gen(function* () {
      const { bob, carol } = yield* setup
      const seen = yield* Deferred.make<void>()
      yield* bob.ua.incoming.pipe(
        Stream.runForEach((ic) =>
          Effect.andThen(ic.ring, Effect.andThen(ic.cancelled, Deferred.succeed(seen, undefined))),
        ),
        Effect.forkScoped,
      )
      const invite = request("INVITE", carol, { branch: "z9hG4bK-cancel-1" })
      yield* carol.transport.send(invite, bob.to)
      yield* settle
      const cancel = request("CANCEL", carol, { branch: "z9hG4bK-cancel-1", callId: Message.callId(invite)! })
      yield* carol.transport.send(cancel, bob.to)
      yield* settle
      yield* Deferred.await(seen)
      const statuses = carol.responses().map((r) => `${r.status} ${Message.cseq(r)?.method}`)
      expect(statuses).toContain("180 INVITE")
      expect(statuses).toContain("200 CANCEL")
      expect(statuses).toContain("487 INVITE")
      expect(carol.requests("ACK")).toEqual([]) // the 487's ACK is the peer's job
    }),
  )
})

describe("§13.3.1.4 the UAS retransmits 2xx until ACK", () => {
  it.effect("§13.3.1.4 no ACK: 2xx at 0, T1, 3T1, 7T1… interval capped at T2; BYE after 64·T1", () =>
    Effect.gen(function* () {
      const { bob, carol } = yield* setup
      const ended = yield* Deferred.make<string>()
      yield* bob.ua.incoming.pipe(
        Stream.runForEach((ic) =>
          Effect.scoped(
            Effect.flatMap(ic.accept(answer), (call) => Effect.flatMap(call.ended, (r) => Deferred.succeed(ended, r))),
          ),
        ),
        Effect.forkScoped,
      )
      yield* carol.transport.send(request("INVITE", carol), bob.to)
      yield* settle
      yield* TestClock.adjust(40_000)
      const oks = carol.arrivals.filter((a) => a.message._tag === "SipResponse" && a.message.status === 200)
      expect(oks.map((a) => a.at)).toEqual([0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500])
      const byes = carol.arrivals.filter((a) => a.message._tag === "SipRequest" && a.message.method === "BYE")
      expect(byes[0]?.at).toBe(32_000)
      expect(yield* Deferred.await(ended)).toBe("local BYE")
    }),
  )

  it.effect("§13.3.1.4 the ACK stops the retransmissions; §15.1.2 the peer's BYE gets 200 and ends the call", () =>
    Effect.gen(function* () {
      const { bob, carol } = yield* setup
      const ended = yield* Deferred.make<string>()
      yield* bob.ua.incoming.pipe(
        Stream.runForEach((ic) =>
          Effect.scoped(
            Effect.flatMap(ic.accept(answer), (call) => Effect.flatMap(call.ended, (r) => Deferred.succeed(ended, r))),
          ),
        ),
        Effect.forkScoped,
      )
      const invite = request("INVITE", carol, { callId: "acked@example.org" })
      yield* carol.transport.send(invite, bob.to)
      yield* settle
      yield* TestClock.adjust(600)
      const ok = carol.responses(200)[0]!
      const toTag = Message.toTag(ok)!
      expect(Message.header(ok, "Contact")).toContain(`:${bob.port}`)
      yield* carol.transport.send(request("ACK", carol, { callId: "acked@example.org", toTag }), bob.to)
      yield* settle
      yield* TestClock.adjust(10_000)
      expect(carol.responses(200).length).toBe(2) // the first and one retransmission at T1
      yield* carol.transport.send(request("BYE", carol, { callId: "acked@example.org", toTag, seq: 2 }), bob.to)
      yield* settle
      expect(yield* Deferred.await(ended)).toBe("remote BYE")
      expect(carol.responses(200).map((r) => Message.cseq(r)?.method)).toEqual(["INVITE", "INVITE", "BYE"])
      expect(carol.requests("BYE")).toEqual([])
      // §12.2.2: a request below the remote CSeq is refused with 500 — the dialog is gone now, so 481
      yield* carol.transport.send(request("INFO", carol, { callId: "acked@example.org", toTag, seq: 1 }), bob.to)
      yield* settle
      expect(carol.responses().at(-1)?.status).toBe(481)
      expect(bob.ua.stats()).toEqual({ dialogs: 0, sessions: 0 })
      void dest
    }),
  )
})
