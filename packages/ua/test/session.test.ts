/** INVITE sessions between two sipfx UAs on the simulated network, with loss (§13–15). */
import { describe, expect, it } from "@effect/vitest"
import { Message } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import type { UserAgent } from "../src/index.ts"
import { peer, settle, simUa } from "./sim.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()

const pair = (loss = 0) =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 11, conditions: { loss, delay: { min: 5, max: 20 } } })
    const alice = yield* simUa(network, "alice", { aor: "sip:alice@example.com" })
    const bob = yield* simUa(network, "bob", { aor: "sip:bob@example.com" })
    return { network, alice, bob, bobUri: `sip:bob@127.0.0.1:${bob.port}` }
  })

/** bob answers every call with `answer` and hands the Call out */
const answering = (ua: UserAgent.UserAgent["Service"], answer: string) =>
  Effect.gen(function* () {
    const calls = yield* Deferred.make<UserAgent.Call>()
    yield* ua.incoming.pipe(
      Stream.runForEach((ic) =>
        Effect.scoped(
          Effect.gen(function* () {
            yield* ic.ring
            const call = yield* ic.accept(enc.encode(answer))
            yield* Deferred.succeed(calls, call)
            yield* call.ended
          }),
        ),
      ),
      Effect.forkScoped,
    )
    return calls
  })

describe("§13–15 sessions between two sipfx UAs", () => {
  for (const loss of [0, 0.2]) {
    it.effect(
      `§13 / §14 / §15 loss ${loss * 100}%: offer/answer carried, re-INVITE, BYE from the callee ends both sides`,
      () =>
        Effect.gen(function* () {
          const { alice, bob, bobUri } = yield* pair(loss)
          const bobCalls = yield* answering(bob.ua, "answer-1")
          const fiber = yield* Effect.forkChild(
            Effect.scoped(
              Effect.gen(function* () {
                const call = yield* alice.ua.call(bobUri, enc.encode("offer-1"))
                expect(dec.decode(call.remoteBody())).toBe("answer-1")
                // §14.1 re-INVITE: the callee answers with its current description
                const r = yield* call.reinvite(enc.encode("offer-2"))
                expect(r.status).toBe(200)
                expect(dec.decode(call.remoteBody())).toBe("answer-1")
                return yield* call.ended
              }),
            ),
          )
          yield* settle
          for (let i = 0; i < 40 && fiber.pollUnsafe() === undefined; i++) {
            yield* TestClock.adjust(500)
            yield* settle
          }
          const bobCall = yield* Deferred.await(bobCalls)
          expect(dec.decode(bobCall.remoteBody())).toBe("offer-2")
          expect(bobCall.state()).toBe("Confirmed")
          yield* TestClock.adjust(5_000)
          yield* settle
          yield* bobCall.bye
          for (let i = 0; i < 40 && fiber.pollUnsafe() === undefined; i++) {
            yield* TestClock.adjust(500)
            yield* settle
          }
          expect(yield* Fiber.join(fiber)).toBe("remote BYE")
          expect(bobCall.state()).toBe("Terminated")
          yield* TestClock.adjust(40_000)
          yield* settle
          expect(alice.ua.stats()).toEqual({ dialogs: 0, sessions: 0 })
          expect(bob.ua.stats()).toEqual({ dialogs: 0, sessions: 0 })
        }),
    )
  }

  it.effect("§11 options(): the UA's own OPTIONS is answered with Allow and Accept", () =>
    Effect.gen(function* () {
      const { alice, bobUri } = yield* pair()
      const f = yield* Effect.forkChild(alice.ua.options(bobUri))
      yield* settle
      yield* TestClock.adjust(100)
      yield* settle
      const r = yield* Fiber.join(f)
      expect(r.status).toBe(200)
      expect(Message.header(r, "Allow")).toContain("INVITE")
      expect(Message.header(r, "Accept")).toContain("application/sdp")
    }),
  )

  it.effect("§13.2.2.4 a 2xx retransmitted after the INVITE transaction ended (Timer M) is ACKed again", () =>
    Effect.gen(function* () {
      const network = yield* Network.make({ seed: 5 })
      const alice = yield* simUa(network, "alice", { aor: "sip:alice@example.com" })
      const carol = yield* peer(network, "carol")
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.andThen(
            alice.ua.call(`sip:carol@${carol.address}:${carol.port}`, enc.encode("o")),
            Effect.sleep(100_000),
          ),
        ),
      )
      yield* settle
      const invite = carol.requests("INVITE")[0]!
      const ok = Message.response(invite, 200, undefined, {
        toTag: "c1",
        headers: [{ name: "Contact", value: `<sip:carol@${carol.address}:${carol.port}>` }],
      })
      yield* carol.transport.send(ok, alice.to)
      yield* settle
      yield* TestClock.adjust(40_000) // past Timer M (64·T1)
      yield* settle
      expect(alice.tl.stats().clientTransactions).toBe(0)
      yield* carol.transport.send(ok, alice.to)
      yield* settle
      expect(carol.requests("ACK").length).toBe(2)
      yield* Fiber.interrupt(fiber)
    }),
  )
})
