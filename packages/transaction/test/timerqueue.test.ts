import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { TimerQueue } from "../src/index.ts"

// the durations SIP timers use (T1 doublings, T2, T4, 64·T1, Timer C) and a few odd ones
const durations = [0, 1, 500, 1000, 2000, 4000, 5000, 32_000, 181_000, 7, 13]

type Op =
  | { readonly _tag: "Start"; readonly ms: number }
  | { readonly _tag: "Cancel"; readonly pick: number }
  | { readonly _tag: "Advance"; readonly by: number }
  | { readonly _tag: "StepBack"; readonly by: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ _tag: fc.constant("Start" as const), ms: fc.constantFrom(...durations) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Cancel" as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({ _tag: fc.constant("Advance" as const), by: fc.integer({ min: 0, max: 40_000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("StepBack" as const), by: fc.integer({ min: 1, max: 300 }) }) },
)

interface Model {
  readonly id: number
  readonly due: number
  readonly seq: number
  live: boolean
}

describe("TimerQueue", () => {
  it("§17 timers fire in deadline order (start order on ties), never early, never after being cancelled", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const queue = new TimerQueue.TimerQueue<number>()
        const model: Array<Model> = []
        const timers: Array<TimerQueue.Timer<number>> = []
        let now = 1_000_000
        let seq = 0
        const fire = () => {
          const fired: Array<number> = []
          for (let t = queue.takeDue(now); t !== undefined; t = queue.takeDue(now)) {
            expect(t.deadline).toBeLessThanOrEqual(now)
            fired.push(t.owner!)
            t.owner = undefined
          }
          // what the model says is due, in (deadline, start) order
          const due = model.filter((m) => m.live && m.due <= now).sort((a, b) => a.due - b.due || a.seq - b.seq)
          for (const m of due) m.live = false
          expect(fired).toEqual(due.map((m) => m.id))
        }
        for (const o of ops) {
          switch (o._tag) {
            case "Start": {
              const id = timers.length
              const timer = queue.schedule(now, o.ms, "T", "timer", id)
              // a clock that stepped back delays a timer behind the ones of its duration, never earlier
              expect(timer.deadline).toBeGreaterThanOrEqual(now + o.ms)
              timers.push(timer)
              model.push({ id, due: timer.deadline, seq: seq++, live: true })
              break
            }
            case "Cancel": {
              if (timers.length === 0) break
              const id = o.pick % timers.length
              queue.cancel(timers[id]!)
              model[id]!.live = false
              break
            }
            case "Advance":
              now += o.by
              fire()
              break
            case "StepBack":
              now -= o.by
              break
          }
          expect(queue.armed).toBe(model.filter((m) => m.live).length)
          const live = model.filter((m) => m.live)
          expect(queue.next()).toBe(live.length === 0 ? undefined : Math.min(...live.map((m) => m.due)))
        }
      }),
      { numRuns: 300 },
    )
  })

  it("§17 a cancelled timer holds no entry for long: tombstones are compacted (bounded memory)", () => {
    const queue = new TimerQueue.TimerQueue<number>()
    // Timer B and F (64·T1) are cancelled by nearly every final response
    for (let i = 0; i < 100_000; i++) queue.cancel(queue.schedule(i, 32_000, "B", "timerB", i))
    expect(queue.armed).toBe(0)
    expect(queue.size).toBeLessThanOrEqual(1025)
    expect(queue.next()).toBeUndefined()
  })
})
