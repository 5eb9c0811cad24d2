import { describe, expect, it } from "@effect/vitest"
import type { SipMessage, SipRequest, SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { type Destination, type Inbound, Transport } from "@sipfx/transport"
import { Effect, Fiber, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import { TransactionLayer } from "../src/index.ts"
import * as F from "./fixtures.ts"

/** a network with a transaction layer on "ua" and a raw peer that records what arrives */
const setup = (protocol: "UDP" | "TCP" = "UDP") =>
  Effect.gen(function* () {
    const network = yield* Network.make({ seed: 1 })
    const uaTransport = yield* network.endpoint({ name: "ua", protocol })
    const peer = yield* network.endpoint({ name: "peer", protocol })
    const layer = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, uaTransport))
    const arrivals: Array<{ at: number; message: SipMessage; inbound: Inbound }> = []
    yield* peer.subscribe((inbound) => arrivals.push({ at: inbound.receivedAt, message: inbound.message, inbound }))
    const ua = uaTransport.listenPoints[0]!
    const peerPoint = peer.listenPoints[0]!
    const toPeer: Destination = { protocol, address: peerPoint.address, port: peerPoint.port }
    const toUa: Destination = { protocol, address: ua.address, port: ua.port }
    return { network, layer, peer, arrivals, toPeer, toUa }
  })

const settle = TestClock.adjust(0)

describe("TransactionLayer timers on TestClock", () => {
  it.effect(
    "§17.1.2.2 non-INVITE client over UDP: Timer E at 0.5, 1.5, 3.5, 7.5, 11.5 s… capped at T2, Timer F at 32 s",
    () =>
      Effect.gen(function* () {
        const { layer, arrivals, toPeer } = yield* setup()
        const timeouts: Array<string> = []
        let terminated = 0
        const started = layer.sendRequest(F.request({ method: "OPTIONS" }), toPeer, {
          onResponse: () => {},
          onTimeout: (e) => timeouts.push(e.timer),
          onTerminated: () => terminated++,
        })
        expect(Result.isSuccess(started)).toBe(true)
        yield* settle
        yield* TestClock.adjust(32_000)
        expect(arrivals.map((a) => a.at)).toEqual([
          0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500,
        ])
        expect(timeouts).toEqual(["F"])
        expect(terminated).toBe(1)
        expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0, outbox: 0 })
      }),
  )

  it.effect("§17.1.1.2 INVITE client: Timer A doubles (0.5, 1.5, 3.5 s…) and stops on a provisional", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toPeer, toUa } = yield* setup()
      const got: Array<number> = []
      const invite = F.request({ method: "INVITE" })
      layer.sendRequest(invite, toPeer, { onResponse: (r) => got.push(r.status) })
      yield* settle
      yield* TestClock.adjust(3_600)
      expect(arrivals.map((a) => a.at)).toEqual([0, 500, 1500, 3500])
      yield* peer.send(F.response(invite, 180, "b1"), toUa)
      yield* TestClock.adjust(60_000)
      // no retransmission after the 180, and Timer B no longer applies in Proceeding
      expect(arrivals.length).toBe(4)
      expect(got).toEqual([180])
      expect(layer.stats()).toMatchObject({ clientTransactions: 1, timers: 0 })
      // §17.1.1.2: 486 → ACK with the response's To tag, Timer D 32 s, retransmitted 486 → ACK again, not to the TU
      yield* peer.send(F.response(invite, 486, "b1"), toUa)
      yield* settle
      yield* peer.send(F.response(invite, 486, "b1"), toUa)
      yield* settle
      expect(got).toEqual([180, 486])
      const acks = arrivals.slice(4).map((a) => a.message as SipRequest)
      expect(acks.map((a) => a.method)).toEqual(["ACK", "ACK"])
      expect(acks[0]!.headers.find((h) => h.name === "To")!.value).toContain("tag=b1")
      expect(acks[0]!.headers.find((h) => h.name === "CSeq")!.value).toBe("1 ACK")
      expect(acks[0]!.headers.find((h) => h.name === "Via")!.value).toBe(invite.headers[0]!.value)
      yield* TestClock.adjust(31_999)
      expect(layer.stats().clientTransactions).toBe(1)
      yield* TestClock.adjust(1)
      expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0 })
    }),
  )

  it.effect("§17.1.1.2 INVITE client: Timer B fires at 64·T1 = 32 s with 7 retransmissions", () =>
    Effect.gen(function* () {
      const { layer, arrivals, toPeer } = yield* setup()
      const timeouts: Array<string> = []
      layer.sendRequest(F.request({ method: "INVITE" }), toPeer, {
        onResponse: () => {},
        onTimeout: (e) => timeouts.push(e.timer),
      })
      yield* settle
      yield* TestClock.adjust(31_999)
      expect(timeouts).toEqual([])
      yield* TestClock.adjust(1)
      expect(arrivals.map((a) => a.at)).toEqual([0, 500, 1500, 3500, 7500, 15_500, 31_500])
      expect(timeouts).toEqual(["B"])
      expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0 })
    }),
  )

  it.effect(
    "RFC 6026 §8.4 INVITE client: 2xx → Accepted, 2xx retransmissions to the TU until Timer M, then stray",
    () =>
      Effect.gen(function* () {
        const { layer, peer, arrivals, toPeer, toUa } = yield* setup()
        const got: Array<number> = []
        const strays: Array<string> = []
        yield* layer.onStray((s) => strays.push(s._tag))
        const invite = F.request({ method: "INVITE" })
        const tx = Result.getOrThrow(layer.sendRequest(invite, toPeer, { onResponse: (r) => got.push(r.status) }))
        yield* settle
        yield* peer.send(F.response(invite, 200, "b1"), toUa)
        yield* settle
        expect(tx.state).toBe("Accepted")
        yield* TestClock.adjust(10_000)
        yield* peer.send(F.response(invite, 200, "b1"), toUa)
        yield* settle
        expect(got).toEqual([200, 200])
        // the transaction sends no ACK for a 2xx; that is the TU's job
        expect(arrivals.map((a) => (a.message as SipRequest).method)).toEqual(["INVITE"])
        yield* TestClock.adjust(22_000)
        expect(tx.state).toBe("Terminated")
        expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0 })
        yield* peer.send(F.response(invite, 200, "b1"), toUa)
        yield* settle
        expect(strays).toEqual(["Response"])
      }),
  )

  it.effect("§17.1.2.2 non-INVITE client over TCP: no retransmission, Timer K = 0", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toPeer, toUa } = yield* setup("TCP")
      const req = F.request({ method: "REGISTER" })
      const tx = Result.getOrThrow(layer.sendRequest(req, toPeer, { onResponse: () => {} }))
      yield* settle
      yield* TestClock.adjust(20_000)
      expect(arrivals.length).toBe(1)
      yield* peer.send(F.response(req, 200, "r"), toUa)
      yield* settle
      expect(tx.state).toBe("Terminated")
      expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0 })
    }),
  )

  it.effect(
    "§17.1.2.2 non-INVITE client in Proceeding retransmits every T2 and Timer K = T4 absorbs retransmissions",
    () =>
      Effect.gen(function* () {
        const { layer, peer, arrivals, toPeer, toUa } = yield* setup()
        const got: Array<number> = []
        const req = F.request({ method: "BYE" })
        const tx = Result.getOrThrow(layer.sendRequest(req, toPeer, { onResponse: (r) => got.push(r.status) }))
        yield* settle
        yield* TestClock.adjust(600)
        yield* peer.send(F.response(req, 100), toUa)
        yield* TestClock.adjust(10_000)
        // E fired at 0.5 (Trying, next interval 1 s) → 1.5 s in Proceeding, then every T2
        expect(arrivals.map((a) => a.at)).toEqual([0, 500, 1500, 5500, 9500])
        yield* peer.send(F.response(req, 200, "x"), toUa)
        yield* peer.send(F.response(req, 200, "x"), toUa)
        yield* settle
        expect(got).toEqual([100, 200])
        expect(tx.state).toBe("Completed")
        yield* TestClock.adjust(4_999)
        expect(tx.state).toBe("Completed")
        yield* TestClock.adjust(1)
        expect(tx.state).toBe("Terminated")
        expect(arrivals.length).toBe(5)
        expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0 })
      }),
  )

  it.effect("§17.2.2 non-INVITE server: retransmissions get the last response; Timer J = 64·T1 on UDP", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup()
      const txs: Array<TransactionLayer.ServerTransaction> = []
      yield* layer.serve((tx) => txs.push(tx))
      const req = F.request({ method: "OPTIONS" })
      yield* peer.send(req, toUa)
      yield* settle
      expect(txs.length).toBe(1)
      // Trying absorbs retransmissions: no response yet
      yield* peer.send(req, toUa)
      yield* settle
      expect(txs.length).toBe(1)
      expect(arrivals.length).toBe(0)
      expect(txs[0]!.respond(F.response(req, 200, "s"))).toBe(true)
      yield* settle
      yield* peer.send(req, toUa)
      yield* settle
      expect(arrivals.map((a) => (a.message as SipResponse).status)).toEqual([200, 200])
      // a second final is refused by the machine
      expect(txs[0]!.respond(F.response(req, 500, "s"))).toBe(false)
      yield* TestClock.adjust(31_999)
      expect(txs[0]!.state).toBe("Completed")
      yield* TestClock.adjust(1)
      expect(txs[0]!.state).toBe("Terminated")
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0 })
    }),
  )

  it.effect("§18.2.2 / RFC 3581: responses go to the source address and port when rport is present", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup()
      let tx: TransactionLayer.ServerTransaction | undefined
      yield* layer.serve((t) => {
        tx = t
      })
      yield* peer.send(F.request({ method: "OPTIONS" }), toUa)
      yield* settle
      const src = peer.listenPoints[0]!
      expect(tx!.destination).toMatchObject({ protocol: "UDP", address: src.address, port: src.port })
      tx!.respond(F.response(tx!.request, 200, "s"))
      yield* settle
      expect(arrivals.length).toBe(1)
    }),
  )

  it.effect("§17.2.1 INVITE server: 100 Trying at 200 ms, Timer G 0.5/1/2/4/4 s, Timer H at 32 s informs the TU", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup()
      const timeouts: Array<string> = []
      let tx: TransactionLayer.ServerTransaction | undefined
      yield* layer.serve((t) => {
        tx = t
        t.listen({ onTimeout: (e) => timeouts.push(e.timer) })
      })
      const invite = F.request({ method: "INVITE" })
      yield* peer.send(invite, toUa)
      yield* settle
      yield* TestClock.adjust(199)
      expect(arrivals.length).toBe(0)
      yield* TestClock.adjust(1)
      expect(arrivals.map((a) => (a.message as SipResponse).status)).toEqual([100])
      // a retransmitted INVITE gets the 100 again
      yield* peer.send(invite, toUa)
      yield* settle
      expect(arrivals.length).toBe(2)
      tx!.respond(F.response(invite, 486, "s"))
      yield* settle
      const start = 200
      yield* TestClock.adjust(32_000)
      const finals = arrivals.filter((a) => (a.message as SipResponse).status === 486).map((a) => a.at - start)
      expect(finals).toEqual([0, 500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500])
      expect(timeouts).toEqual(["H"])
      expect(tx!.state).toBe("Terminated")
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0 })
    }),
  )

  it.effect("§17.2.1 INVITE server: ACK → Confirmed, retransmissions stop, Timer I = T4", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup()
      let tx: TransactionLayer.ServerTransaction | undefined
      yield* layer.serve((t) => {
        tx = t
        t.respond(F.response(t.request, 404, "s"))
      })
      const invite = F.request({ method: "INVITE" })
      yield* peer.send(invite, toUa)
      yield* settle
      yield* TestClock.adjust(600)
      expect(arrivals.length).toBe(2)
      const ack = {
        ...F.request({ method: "ACK", toTag: "s" }),
        headers: invite.headers.map((h) => (h.name === "CSeq" ? { name: "CSeq", value: "1 ACK" } : h)),
      }
      yield* peer.send({ ...ack, method: "ACK" }, toUa)
      yield* settle
      expect(tx!.state).toBe("Confirmed")
      yield* TestClock.adjust(4_999)
      expect(arrivals.length).toBe(2)
      expect(tx!.state).toBe("Confirmed")
      yield* TestClock.adjust(1)
      expect(tx!.state).toBe("Terminated")
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0 })
    }),
  )

  it.effect("RFC 6026 §8.7 INVITE server: 2xx → Accepted absorbs INVITE retransmissions, Timer L = 64·T1", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup()
      let tx: TransactionLayer.ServerTransaction | undefined
      yield* layer.serve((t) => {
        tx = t
        t.respond(F.response(t.request, 200, "s"))
      })
      const invite = F.request({ method: "INVITE" })
      yield* peer.send(invite, toUa)
      yield* settle
      yield* peer.send(invite, toUa)
      yield* settle
      expect(tx!.state).toBe("Accepted")
      expect(arrivals.length).toBe(1)
      // the TU's own 2xx retransmission still goes out (§13.3.1.4)
      expect(tx!.respond(F.response(invite, 200, "s"))).toBe(true)
      yield* settle
      expect(arrivals.length).toBe(2)
      yield* TestClock.adjust(32_000)
      expect(tx!.state).toBe("Terminated")
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0 })
    }),
  )

  it.effect("§9.2 CANCEL is its own server transaction and finds the INVITE it targets; unmatched ACK is stray", () =>
    Effect.gen(function* () {
      const { layer, peer, toUa } = yield* setup()
      const txs: Array<TransactionLayer.ServerTransaction> = []
      const strays: Array<TransactionLayer.Stray> = []
      yield* layer.serve((t) => txs.push(t))
      yield* layer.onStray((s) => strays.push(s))
      const b = F.branch()
      const invite = F.request({ method: "INVITE", branch: b })
      yield* peer.send(invite, toUa)
      const cancel = F.request({ method: "CANCEL", branch: b, callId: invite.headers[4]!.value })
      yield* peer.send(cancel, toUa)
      const lonely = F.request({ method: "CANCEL" })
      yield* peer.send(lonely, toUa)
      yield* settle
      expect(txs.map((t) => t.request.method)).toEqual(["INVITE", "CANCEL", "CANCEL"])
      expect(txs[1]!.cancels).toBe(txs[0])
      expect(layer.findInvite(cancel)).toBe(txs[0])
      expect(txs[2]!.cancels).toBeUndefined()
      yield* peer.send(F.request({ method: "ACK", toTag: "x" }), toUa)
      yield* settle
      expect(strays.map((s) => s._tag)).toEqual(["Ack"])
      // everything ends once answered and timed out
      txs[1]!.respond(F.response(cancel, 200, "s"))
      txs[2]!.respond(F.response(lonely, 481, "s"))
      txs[0]!.respond(F.response(invite, 487, "s"))
      yield* TestClock.adjust(64_000)
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0, timerEntries: 0 })
    }),
  )

  it.effect("§8.1.1.7: a request without a Via branch is refused with a typed error", () =>
    Effect.gen(function* () {
      const { layer, toPeer } = yield* setup()
      const bad = F.request({ method: "OPTIONS", via: "SIP/2.0/UDP client.example.com" })
      const r = layer.sendRequest(bad, toPeer, { onResponse: () => {} })
      expect(Result.isFailure(r) && r.failure._tag).toBe("InvalidRequest")
      const e = yield* Effect.flip(layer.request(bad, toPeer))
      expect(e._tag).toBe("InvalidRequest")
    }),
  )

  it.effect("§17.1.2.2 Effect form: request() resolves with the final response", () =>
    Effect.gen(function* () {
      const { layer, peer, toPeer, toUa } = yield* setup()
      yield* peer.subscribe((inbound) => {
        const m = inbound.message
        if (m._tag === "SipRequest") Effect.runFork(peer.send(F.response(m, 200, "z"), toUa))
      })
      const response = yield* layer.request(F.request({ method: "OPTIONS" }), toPeer)
      expect(response.status).toBe(200)
    }),
  )

  it.effect("§17.1.2.2 a transport error terminates a non-INVITE client and informs the TU", () =>
    Effect.gen(function* () {
      const { layer } = yield* setup("TCP")
      const errors: Array<string> = []
      let terminated = 0
      const tx = Result.getOrThrow(
        layer.sendRequest(
          F.request({ method: "OPTIONS" }),
          { protocol: "TCP", address: "127.0.0.1", port: 9 },
          {
            onResponse: () => {},
            onTransportError: (e) => errors.push(e.reason),
            onTerminated: () => terminated++,
          },
        ),
      )
      yield* settle
      expect(errors).toEqual(["Refused"])
      expect(tx.state).toBe("Terminated")
      expect(terminated).toBe(1)
      expect(layer.stats()).toMatchObject({ clientTransactions: 0, timers: 0 })
    }),
  )

  it.effect("RFC 6026 §8.8 an INVITE server informs the TU of a transport error and stays in its state", () =>
    Effect.gen(function* () {
      const network = yield* Network.make({ seed: 1 })
      const ua = yield* network.endpoint({ name: "ua", protocol: "TCP" })
      const layer = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, ua))
      const errors: Array<string> = []
      let tx: TransactionLayer.ServerTransaction | undefined
      yield* layer.serve((t) => {
        tx = t
        t.listen({ onTransportError: (e) => errors.push(e.reason) })
      })
      const point = ua.listenPoints[0]!
      // the peer's endpoint is gone by the time the response is sent: the connection is refused
      yield* Effect.scoped(
        Effect.gen(function* () {
          const peer = yield* network.endpoint({ name: "peer", protocol: "TCP" })
          yield* peer.send(F.request({ method: "INVITE" }), {
            protocol: "TCP",
            address: point.address,
            port: point.port,
          })
        }),
      )
      tx!.respond(F.response(tx!.request, 486, "s"))
      yield* settle
      expect(errors).toEqual(["Refused"])
      expect(tx!.state).toBe("Completed")
      yield* TestClock.adjust(32_000)
      expect(tx!.state).toBe("Terminated")
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, timers: 0 })
    }),
  )

  it.effect("§17.2.3 RFC 2543 requests (no magic cookie) match by Request-URI, tags, Call-ID, CSeq and Via", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup()
      const txs: Array<TransactionLayer.ServerTransaction> = []
      yield* layer.serve((t) => {
        txs.push(t)
        t.respond(F.response(t.request, 404, "s"))
      })
      // no rport: §18.2.2 answers to the source address and the port in Via
      const via = `SIP/2.0/UDP old.example.com:${peer.listenPoints[0]!.port}`
      const invite = F.request({ method: "INVITE", via, callId: "old-1@example.com" })
      yield* peer.send(invite, toUa)
      yield* peer.send(invite, toUa)
      yield* settle
      expect(txs.length).toBe(1)
      expect(arrivals.length).toBe(2) // the 404 and its copy for the retransmission
      const ack = {
        ...invite,
        method: "ACK",
        headers: invite.headers.map((h) => (h.name === "CSeq" ? { name: "CSeq", value: "1 ACK" } : h)),
      }
      yield* peer.send(ack, toUa)
      yield* settle
      expect(txs[0]!.state).toBe("Confirmed")
      // a different Call-ID is a different transaction
      yield* peer.send(F.request({ method: "INVITE", via, callId: "old-2@example.com" }), toUa)
      yield* settle
      expect(txs.length).toBe(2)
    }),
  )

  it.effect("§17.2.3 serverTransactions: the Stream form of serve", () =>
    Effect.gen(function* () {
      const { layer, peer, toUa } = yield* setup()
      const fiber = yield* layer.serverTransactions.pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* settle
      yield* peer.send(F.request({ method: "OPTIONS" }), toUa)
      yield* peer.send(F.request({ method: "MESSAGE" }), toUa)
      const txs = yield* Fiber.join(fiber)
      expect(Array.from(txs).map((t) => t.request.method)).toEqual(["OPTIONS", "MESSAGE"])
    }),
  )
})
