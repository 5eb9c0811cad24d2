import { describe, expect, it } from "@effect/vitest"
import { Header, Message, Serializer, type SipMessage, type SipRequest, type SipResponse } from "@sipfx/message"
import { Network } from "@sipfx/simnet"
import { type Destination, Transport } from "@sipfx/transport"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Testing, TransactionLayer } from "../src/index.ts"
import * as F from "./fixtures.ts"

const setup = Effect.gen(function* () {
  const network = yield* Network.make({ seed: 1 })
  const uaTransport = yield* network.endpoint({ name: "ua" })
  const peer = yield* network.endpoint({ name: "peer" })
  const layer = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, uaTransport))
  const arrivals: Array<SipMessage> = []
  yield* peer.subscribe((inbound) => arrivals.push(inbound.message))
  const ua = uaTransport.listenPoints[0]!
  const p = peer.listenPoints[0]!
  const toPeer: Destination = { protocol: "UDP", address: p.address, port: p.port }
  const toUa: Destination = { protocol: "UDP", address: ua.address, port: ua.port }
  return { layer, peer, arrivals, toPeer, toUa }
})

/** a layer on `transport` (port 5080 of `net`) whose TU answers 200 at once, and a peer on 5070 */
const registrarLike = (net: ReturnType<typeof Testing.memoryNetwork>, transport: Transport["Service"]) =>
  Effect.gen(function* () {
    const layer = yield* TransactionLayer.make().pipe(Effect.provideService(Transport, transport))
    yield* layer.serve((tx) => {
      tx.respond(Testing.response(tx.request, 200, "s"))
    })
    const peer = net.endpoint(5070, "UDP")
    const arrivals: Array<SipMessage> = []
    yield* peer.subscribe((inbound) => arrivals.push(inbound.message))
    const toServer: Destination = { protocol: "UDP", address: "127.0.0.1", port: 5080 }
    return { layer, peer, arrivals, toServer }
  })

const settle = TestClock.adjust(0)
const text = (m: SipMessage | undefined): string => new TextDecoder().decode(Serializer.serialize(m!))

describe("transactions past their final response keep only key, destination and bytes", () => {
  it.effect("§17.2.2 non-INVITE server in Completed: retransmissions get the same bytes until Timer J", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toUa } = yield* setup
      // the TU answers at once and keeps nothing (a registrar)
      yield* layer.serve((tx) => {
        tx.respond(F.response(tx.request, 200, "s"))
      })
      const req = F.request({ method: "REGISTER" })
      yield* peer.send(req, toUa)
      yield* settle
      expect(layer.stats()).toMatchObject({ serverTransactions: 1, lingering: 1 })
      yield* peer.send(req, toUa)
      yield* peer.send(req, toUa)
      yield* settle
      expect(arrivals.map((m) => (m as SipResponse).status)).toEqual([200, 200, 200])
      expect(text(arrivals[1])).toBe(text(arrivals[0]))
      expect(text(arrivals[2])).toBe(text(arrivals[0]))
      yield* TestClock.adjust(31_999)
      expect(layer.stats()).toMatchObject({ serverTransactions: 1, lingering: 1 })
      yield* TestClock.adjust(1)
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, lingering: 0, timers: 0 })
    }),
  )

  it.effect(
    "§17.2.1 INVITE server in Completed: Timer G resends the bytes, ACK → Confirmed, CANCEL still finds it",
    () =>
      Effect.gen(function* () {
        const { layer, peer, arrivals, toUa } = yield* setup
        const txs: Array<TransactionLayer.ServerTransaction> = []
        yield* layer.serve((tx) => {
          txs.push(tx)
          tx.listen({}) // the TU keeps the transaction past its final response
          tx.respond(F.response(tx.request, 486, "s"))
        })
        const b = F.branch()
        const invite = F.request({ method: "INVITE", branch: b })
        yield* peer.send(invite, toUa)
        yield* settle
        expect(txs[0]!.state).toBe("Completed")
        expect(layer.stats().lingering).toBe(1)
        yield* TestClock.adjust(1_500) // Timer G at 0.5 and 1.5 s
        expect(arrivals.map((m) => (m as SipResponse).status)).toEqual([486, 486, 486])
        expect(text(arrivals[2])).toBe(text(arrivals[0]))
        // §9.2: the INVITE is still there for a CANCEL while the TU holds it
        const cancel = F.request({ method: "CANCEL", branch: b, callId: invite.headers[4]!.value })
        expect(layer.findInvite(cancel)).toBe(txs[0])
        // the ACK for the 486 matches the transaction (§17.2.3) and moves it to Confirmed
        yield* peer.send(F.request({ method: "ACK", branch: b, callId: invite.headers[4]!.value }), toUa)
        yield* settle
        expect(txs[0]!.state).toBe("Confirmed")
        yield* TestClock.adjust(10_000)
        expect(arrivals.length).toBe(3)
        expect(txs[0]!.state).toBe("Terminated")
        expect(layer.stats()).toMatchObject({ serverTransactions: 0, lingering: 0, timers: 0 })
      }),
  )

  it.effect(
    "§9.2 a CANCEL matches a lingering INVITE server transaction the TU let go of: 200, nothing to cancel",
    () =>
      Effect.gen(function* () {
        const { layer, peer, arrivals, toUa } = yield* setup
        const txs: Array<TransactionLayer.ServerTransaction> = []
        yield* layer.serve((tx) => {
          txs.push(tx)
          if (tx.request.method === "INVITE") tx.respond(F.response(tx.request, 486, "s"))
          else tx.respond(F.response(tx.request, tx.cancelMatched ? 200 : 481))
        })
        const b = F.branch()
        const invite = F.request({ method: "INVITE", branch: b })
        yield* peer.send(invite, toUa)
        yield* settle
        expect(layer.stats().lingering).toBe(1)
        yield* peer.send(F.request({ method: "CANCEL", branch: b, callId: invite.headers[4]!.value }), toUa)
        yield* peer.send(F.request({ method: "CANCEL" }), toUa)
        yield* settle
        // no listener: the layer kept only the key, so the CANCEL matches without the TU's object
        expect(txs[1]!.cancelMatched).toBe(true)
        expect(txs[1]!.cancels).toBeUndefined()
        expect(txs[2]!.cancelMatched).toBe(false)
        expect(arrivals.map((m) => (m as SipResponse).status)).toEqual([486, 200, 481])
      }),
  )

  it.effect("§17.1.1.2 INVITE client in Completed: a retransmitted 486 gets the same ACK bytes; Timer D ends it", () =>
    Effect.gen(function* () {
      const { layer, peer, arrivals, toPeer, toUa } = yield* setup
      const got: Array<number> = []
      let terminated = 0
      const invite = F.request({ method: "INVITE" })
      const started = layer.sendRequest(invite, toPeer, {
        onResponse: (r) => got.push(r.status),
        onTerminated: () => terminated++,
      })
      const tx = started._tag === "Success" ? started.success : undefined
      yield* settle
      yield* peer.send(F.response(invite, 486, "b1"), toUa)
      yield* settle
      expect(tx!.state).toBe("Completed")
      expect(layer.stats().lingering).toBe(1)
      yield* peer.send(F.response(invite, 486, "b1"), toUa)
      yield* settle
      const acks = arrivals.filter((m) => m._tag === "SipRequest" && (m as SipRequest).method === "ACK")
      expect(acks.length).toBe(2)
      expect(text(acks[1])).toBe(text(acks[0]))
      expect(got).toEqual([486])
      yield* TestClock.adjust(32_000)
      expect(tx!.state).toBe("Terminated")
      expect(terminated).toBe(1)
      expect(layer.stats()).toMatchObject({ clientTransactions: 0, lingering: 0, timers: 0 })
    }),
  )

  it.effect(
    "RFC 6026 §8.4 INVITE client in Accepted: later 2xx reach onResponse by default, or the stray handler when the TU asks; Timer M ends it",
    () =>
      Effect.gen(function* () {
        const { layer, peer, toPeer, toUa } = yield* setup
        const strays: Array<string> = []
        yield* layer.onStray((s) => {
          if (s._tag === "Response") strays.push(`${s.response.status} ${s.source.port}`)
        })
        const run = (acceptedResponses: "callback" | "stray" | undefined) =>
          Effect.gen(function* () {
            const got: Array<number> = []
            const invite = F.request({ method: "INVITE" })
            const started = layer.sendRequest(invite, toPeer, {
              onResponse: (r) => got.push(r.status),
              acceptedResponses,
            })
            const tx = started._tag === "Success" ? started.success : undefined
            yield* settle
            yield* peer.send(F.response(invite, 200, "b1"), toUa)
            yield* settle
            expect(tx!.state).toBe("Accepted")
            expect(layer.stats().lingering).toBe(1)
            // the 2xx retransmission, and another branch's 2xx (RFC 6026 §8.4: both to the TU)
            yield* peer.send(F.response(invite, 200, "b1"), toUa)
            yield* peer.send(F.response(invite, 200, "b2"), toUa)
            yield* settle
            yield* TestClock.adjust(31_999)
            expect(tx!.state).toBe("Accepted")
            yield* TestClock.adjust(1)
            expect(tx!.state).toBe("Terminated")
            expect(layer.stats()).toMatchObject({ clientTransactions: 0, lingering: 0, timers: 0 })
            return got
          })
        expect(yield* run(undefined)).toEqual([200, 200, 200])
        expect(strays).toEqual([])
        expect(yield* run("stray")).toEqual([200])
        const port = peer.listenPoints[0]!.port
        expect(strays).toEqual([`200 ${port}`, `200 ${port}`])
      }),
  )

  it.effect("§17.2.2 a listener registered after the final response still hears of the end (Timer J)", () =>
    Effect.gen(function* () {
      const { layer, peer, toUa } = yield* setup
      let terminated = 0
      yield* layer.serve((tx) => {
        tx.respond(F.response(tx.request, 200, "s"))
        tx.listen({ onTerminated: () => terminated++ })
      })
      yield* peer.send(F.request({ method: "OPTIONS" }), toUa)
      yield* settle
      expect(layer.stats().lingering).toBe(1)
      yield* TestClock.adjust(32_000)
      expect(terminated).toBe(1)
      expect(layer.stats()).toMatchObject({ serverTransactions: 0, lingering: 0 })
    }),
  )

  it.effect(
    "§17.2.2 over the in-memory transport: the first 200 goes out as an object, the retransmissions as the kept octets (sendBytes)",
    () =>
      Effect.gen(function* () {
        const net = Testing.memoryNetwork()
        const { layer, peer, arrivals, toServer } = yield* registrarLike(net, net.endpoint(5080, "UDP"))
        const req = Testing.request({ method: "REGISTER", via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-mem1" })
        yield* peer.send(req, toServer)
        yield* settle // the first send leaves through the layer's outbox fiber
        expect(arrivals.length).toBe(1)
        expect(layer.stats()).toMatchObject({ serverTransactions: 1, lingering: 1 })
        const before = net.counters.sentBytes
        yield* peer.send(req, toServer)
        yield* peer.send(req, toServer)
        expect(net.counters.sentBytes - before).toBe(2)
        expect(arrivals.map((m) => (m as SipResponse).status)).toEqual([200, 200, 200])
        expect(text(arrivals[1])).toBe(text(arrivals[0]))
        expect(text(arrivals[2])).toBe(text(arrivals[0]))
      }),
  )

  it.effect(
    "§17.2.2 with a transport that sends at once (sendNow): retransmissions resend the very octets it sent, not a second serialisation",
    () =>
      Effect.gen(function* () {
        const net = Testing.memoryNetwork()
        const server = net.endpoint(5080, "UDP")
        let serialised = 0
        // a transport that stamps what it serialises: a layer that serialised the 200 again would resend it unstamped
        const stamping: Transport["Service"] = {
          ...server,
          sendNow: (message, destination, onError) => {
            const stamped = { ...message, headers: [...message.headers, Header.raw("X-Serialised", `${++serialised}`)] }
            const bytes = Serializer.serialize(stamped)
            server.sendBytes!(bytes, destination, onError)
            return bytes
          },
        }
        const { layer, peer, arrivals, toServer } = yield* registrarLike(net, stamping)
        const req = Testing.request({ method: "REGISTER", via: "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-now1" })
        yield* peer.send(req, toServer)
        yield* peer.send(req, toServer)
        yield* peer.send(req, toServer)
        expect(layer.stats()).toMatchObject({ serverTransactions: 1, lingering: 1 })
        expect(serialised).toBe(1)
        expect(arrivals.map((m) => Message.header(m, "X-Serialised"))).toEqual(["1", "1", "1"])
        expect(text(arrivals[2])).toBe(text(arrivals[0]))
      }),
  )
})
