import { describe, expect, it } from "@effect/vitest"
import type { SipRequest } from "@sipfx/message"
import type { Destination, Inbound } from "@sipfx/transport"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Network } from "../src/index.ts"

const message = (n: number): SipRequest => ({
  _tag: "SipRequest",
  method: "OPTIONS",
  uri: { _tag: "AbsoluteUri", scheme: "urn", value: `n${n}` },
  headers: [{ name: "CSeq", value: `${n} OPTIONS` }],
  body: new Uint8Array(0),
})

const pair = (options: Network.Options, protocol: "UDP" | "TCP" = "UDP") =>
  Effect.gen(function* () {
    const network = yield* Network.make(options)
    const a = yield* network.endpoint({ name: "a", protocol })
    const b = yield* network.endpoint({ name: "b", protocol })
    const got: Array<{ n: number; at: number; inbound: Inbound }> = []
    yield* b.subscribe((inbound) =>
      got.push({
        n: Number((inbound.message as SipRequest).headers[0]!.value.split(" ")[0]),
        at: inbound.receivedAt,
        inbound,
      }),
    )
    const p = b.listenPoints[0]!
    const to: Destination = { protocol, address: p.address, port: p.port }
    return { network, a, b, got, to }
  })

describe("simnet", () => {
  it.effect("§18 UDP-like: delays run on Effect's Clock (TestClock)", () =>
    Effect.gen(function* () {
      const { a, got, to } = yield* pair({ conditions: { delay: { min: 100, max: 100 } } })
      yield* a.send(message(1), to)
      yield* TestClock.adjust(99)
      expect(got.length).toBe(0)
      yield* TestClock.adjust(1)
      expect(got.map((g) => [g.n, g.at])).toEqual([[1, 100]])
      expect(got[0]!.inbound.source).toMatchObject({ protocol: "UDP", address: "127.0.0.1", connectionId: undefined })
    }),
  )

  it.effect("the same seed gives the same loss, duplication and reordering; counters add up", () =>
    Effect.gen(function* () {
      const conditions = { loss: 0.3, duplicate: 0.2, reorder: 0.3, reorderWindow: 50, delay: { min: 0, max: 20 } }
      const run = (seed: number) =>
        Effect.gen(function* () {
          const { network, a, got, to } = yield* pair({ seed, conditions })
          for (let i = 0; i < 200; i++) yield* a.send(message(i), to)
          yield* TestClock.adjust(1000)
          expect(network.inFlight()).toBe(0)
          const c = network.counters
          expect(c.delivered).toBe(c.sent - c.lost + c.duplicated)
          return { order: got.map((g) => g.n), counters: { ...c } }
        }).pipe(Effect.scoped)
      const first = yield* run(7)
      const again = yield* run(7)
      const other = yield* run(8)
      expect(again).toEqual(first)
      expect(other.order).not.toEqual(first.order)
      expect(first.counters.lost).toBeGreaterThan(30)
      expect(first.counters.duplicated).toBeGreaterThan(10)
      // reordering happened: the delivery order is not sorted
      expect(first.order).not.toEqual([...first.order].sort((x, y) => x - y))
    }),
  )

  it.effect("§18 TCP-like: no loss, in order, one connection id; unknown destinations are refused", () =>
    Effect.gen(function* () {
      const { a, got, to } = yield* pair({ conditions: { loss: 1 } }, "TCP")
      for (let i = 0; i < 20; i++) yield* a.send(message(i), to)
      expect(got.map((g) => g.n)).toEqual(Array.from({ length: 20 }, (_, i) => i))
      expect(new Set(got.map((g) => g.inbound.source.connectionId)).size).toBe(1)
      const error = yield* Effect.flip(a.send(message(99), { protocol: "TCP", address: "127.0.0.1", port: 1 }))
      expect(error.reason).toBe("Refused")
    }),
  )

  it.effect("§18.2.2 TCP-like: a reply on the request's connection id reaches its sender, whatever the port", () =>
    Effect.gen(function* () {
      const { a, b, got, to } = yield* pair({}, "TCP")
      const back: Array<Inbound> = []
      yield* a.subscribe((inbound) => back.push(inbound))
      yield* a.send(message(1), to)
      const connectionId = got[0]!.inbound.source.connectionId
      // the port names nobody: only the connection id leads back to a
      yield* b.send(message(2), { protocol: "TCP", address: "127.0.0.1", port: 1, connectionId })
      expect(back.map((i) => i.source.connectionId)).toEqual([connectionId])
      // an unknown connection id falls back to the address and port (§18.2.2: open a new connection)
      const error = yield* Effect.flip(
        b.send(message(3), { protocol: "TCP", address: "127.0.0.1", port: 1, connectionId: "sim:nobody" }),
      )
      expect(error.reason).toBe("Refused")
    }),
  )

  it.effect("an endpoint removed with its Scope receives nothing more", () =>
    Effect.gen(function* () {
      const network = yield* Network.make({})
      const a = yield* network.endpoint({ name: "a" })
      const point = yield* Effect.scoped(
        Effect.gen(function* () {
          const b = yield* network.endpoint({ name: "b" })
          return b.listenPoints[0]!
        }),
      )
      yield* a.send(message(1), { protocol: "UDP", address: point.address, port: point.port })
      expect(network.counters.unroutable).toBe(1)
    }),
  )
})
