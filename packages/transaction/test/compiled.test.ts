import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type AnyStateMachine, initialTransition, transition } from "xstate"
import {
  Compiled,
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  Timers,
} from "../src/index.ts"

const machines: ReadonlyArray<readonly [AnyStateMachine, ReadonlyArray<string>]> = [
  [
    InviteClientTransaction.machine,
    ["response1xx", "response2xx", "response300to699", "timerA", "timerB", "timerD", "timerM", "transportError"],
  ],
  [
    NonInviteClientTransaction.machine,
    ["response1xx", "response200to699", "timerE", "timerF", "timerK", "transportError"],
  ],
  [
    InviteServerTransaction.machine,
    [
      "request",
      "ack",
      "tu1xx",
      "tu2xx",
      "tu300to699",
      "timerTrying",
      "timerG",
      "timerH",
      "timerI",
      "timerL",
      "transportError",
    ],
  ],
  [NonInviteServerTransaction.machine, ["request", "tu1xx", "tu200to699", "timerJ", "transportError"]],
]

const input = fc.record({
  timers: fc.record({
    t1: fc.integer({ min: 1, max: 2000 }),
    t2: fc.integer({ min: 1, max: 8000 }),
    t4: fc.integer({ min: 0, max: 10_000 }),
    d: fc.integer({ min: 32_000, max: 64_000 }),
    trying: fc.integer({ min: 0, max: 400 }),
  }),
  reliable: fc.boolean(),
  autoTrying: fc.boolean(),
})

describe("Compiled transition table", () => {
  for (const [machine, events] of machines) {
    it(`${machine.id}: the table agrees with XState's transition() on random event sequences`, () => {
      fc.assert(
        fc.property(input, fc.array(fc.constantFrom(...events), { maxLength: 30 }), (inp, sequence) => {
          const table = Compiled.get(machine, inp)
          const [s0, a0] = initialTransition(machine, inp)
          expect(table.entry).toEqual(a0.map(Compiled.toStep))
          let snapshot = s0
          let node = table.initial
          for (const type of sequence) {
            const [next, actions] = transition(machine, snapshot, { type })
            const edge = Compiled.next(node, type)
            expect(edge.steps).toEqual(actions.map(Compiled.toStep))
            expect(edge.target.value).toBe(next.value)
            expect(edge.target.done).toBe(next.status === "done")
            expect(edge.target.snapshot.context).toEqual(next.context)
            snapshot = next
            node = edge.target
          }
        }),
        { numRuns: 300 },
      )
    })
  }

  it("§17.1.2.2: E's interval saturates at T2, so a non-INVITE client has a finite table", () => {
    const table = Compiled.make(NonInviteClientTransaction.machine, { timers: Timers.defaults, reliable: false })
    let node = table.initial
    const starts: Array<number> = []
    for (let i = 0; i < 12; i++) {
      const edge = Compiled.next(node, "timerE")
      for (const s of edge.steps) if (s._tag === "StartTimer") starts.push(s.ms)
      node = edge.target
    }
    expect(starts).toEqual([1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000, 4000])
    // Trying at 500, 1000, 2000, 4000: the table stops growing
    expect(table.nodes.size).toBe(4)
  })
})
