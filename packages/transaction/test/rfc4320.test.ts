import { describe, expect, it } from "@effect/vitest"
import type { SipMessage, SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { type Destination, Transport } from "@sipfx/transport"
import { Effect, Result } from "effect"
import { TestClock } from "effect/testing"
import { TransactionLayer } from "../src/index.ts"
import * as F from "./fixtures.ts"

/** a layer on "ua" and a raw peer recording what arrives */
const setup = (protocol: "UDP" | "TCP") =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 1 })
    const uaTransport = yield* network.endpoint({ name: "ua", protocol })
    const peer = yield* network.endpoint({ name: "peer", protocol })
    const layer = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, uaTransport))
    const arrivals: Array<{ at: number; message: SipMessage }> = []
    yield* peer.subscribe((inbound) => arrivals.push({ at: inbound.receivedAt, message: inbound.message }))
    const ua = uaTransport.listenPoints[0]!
    const peerPoint = peer.listenPoints[0]!
    const toUa: Destination = { protocol, address: ua.address, port: ua.port }
    const toPeer: Destination = { protocol, address: peerPoint.address, port: peerPoint.port }
    let tx: TransactionLayer.ServerTransaction | undefined
    yield* layer.serve((t) => {
      tx = t
    })
    return { layer, peer, arrivals, toUa, toPeer, server: () => tx! }
  })

const settle = TestClock.adjust(0)
const statuses = (arrivals: ReadonlyArray<{ message: SipMessage }>) =>
  arrivals.map((a) => (a.message as SipResponse).status)

describe("RFC 4320 non-INVITE transactions", () => {
  it.effect("§4.1 UDP: no 100 before Timer E reaches T2 (3.5 s); the transaction sends one then", () =>
    Effect.gen(function* () {
      const { peer, arrivals, toUa, server } = yield* setup("UDP")
      const request = F.request({ method: "OPTIONS" })
      yield* peer.send(request, toUa)
      yield* settle
      const tx = server()
      // the TU's early 100 is refused over an unreliable transport
      expect(tx.respond(F.response(tx.request, 100))).toBe(false)
      yield* TestClock.adjust(3499)
      expect(arrivals).toEqual([])
      yield* TestClock.adjust(1)
      expect(arrivals.map((a) => [a.at, (a.message as SipResponse).status])).toEqual([[3500, 100]])
      expect(tx.state).toBe("Proceeding")
      // in Proceeding a retransmission gets the 100 again (§17.2.2)
      yield* peer.send(request, toUa)
      yield* settle
      expect(statuses(arrivals)).toEqual([100, 100])
      expect(tx.respond(F.response(tx.request, 200, "s"))).toBe(true)
      yield* settle
      expect(statuses(arrivals)).toEqual([100, 100, 200])
    }),
  )

  it.effect("§4.1 a 100 over a reliable transport may go at any time; Timer Trying is then cancelled", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa, server } = yield* setup("TCP")
      yield* peer.send(F.request({ method: "OPTIONS" }), toUa)
      yield* settle
      const tx = server()
      expect(tx.respond(F.response(tx.request, 100))).toBe(true)
      yield* TestClock.adjust(10_000)
      expect(statuses(arrivals)).toEqual([100])
      expect(layer.stats().timers).toBe(0)
    }),
  )

  it.effect("§4.1 without an answer, a reliable transport also gets the transaction's own 100 at 3.5 s", () =>
    Effect.gen(function* () {
      const { peer, arrivals, toUa } = yield* setup("TCP")
      yield* peer.send(F.request({ method: "OPTIONS" }), toUa)
      yield* settle
      yield* TestClock.adjust(3500)
      expect(arrivals.map((a) => [a.at, (a.message as SipResponse).status])).toEqual([[3500, 100]])
    }),
  )

  it.effect("§4.1 no provisional other than 100; §4.2 never 408, in any state", () =>
    Effect.gen(function* () {
      const { peer, arrivals, toUa, server } = yield* setup("UDP")
      yield* peer.send(F.request({ method: "REGISTER" }), toUa)
      yield* settle
      const tx = server()
      expect(tx.respond(F.response(tx.request, 180, "t"))).toBe(false)
      expect(tx.respond(F.response(tx.request, 408, "t"))).toBe(false)
      yield* TestClock.adjust(3500)
      expect(tx.state).toBe("Proceeding")
      expect(tx.respond(F.response(tx.request, 183, "t"))).toBe(false)
      expect(tx.respond(F.response(tx.request, 408, "t"))).toBe(false)
      expect(statuses(arrivals)).toEqual([100])
      expect(tx.respond(F.response(tx.request, 404, "t"))).toBe(true)
      yield* settle
      expect(statuses(arrivals)).toEqual([100, 404])
    }),
  )

  it.effect("§4.2 a terminated server transaction sends nothing: late responses are refused", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa, server } = yield* setup("UDP")
      yield* peer.send(F.request({ method: "OPTIONS" }), toUa)
      yield* settle
      const tx = server()
      expect(tx.respond(F.response(tx.request, 200, "s"))).toBe(true)
      yield* TestClock.adjust(32_000) // Timer J = 64·T1
      expect(tx.state).toBe("Terminated")
      expect(tx.respond(F.response(tx.request, 500, "s"))).toBe(false)
      yield* settle
      expect(statuses(arrivals)).toEqual([200])
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0 })
    }),
  )

  it.effect("§2.2 a client never waits for a 408: Timer F reports the timeout, a late final is a stray", () =>
    Effect.gen(function* () {
      const { layer, peer, toPeer, toUa } = yield* setup("UDP")
      const timeouts: Array<string> = []
      const strays: Array<number> = []
      yield* layer.onStray((s) => {
        if (s._tag === "Response") strays.push(s.response.status)
      })
      const request = F.request({ method: "OPTIONS" })
      const started = layer.sendRequest(request, toPeer, {
        onResponse: () => {},
        onTimeout: (e) => timeouts.push(e.timer),
      })
      expect(Result.isSuccess(started)).toBe(true)
      yield* TestClock.adjust(32_000)
      expect(timeouts).toEqual(["F"])
      expect(layer.stats().clientTransactions).toBe(0)
      // the peer answers after Timer F: no transaction matches, the TU core sees a stray
      yield* peer.send(F.response(request, 408, "s"), toUa)
      yield* settle
      expect(strays).toEqual([408])
    }),
  )
})
