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
        const timers: Array<TimerQueue.Timer> = []
        let now = 1_000_000
        let seq = 0
        const fire = () => {
          const fired: Array<number> = []
          for (let id = queue.takeDue(now); id !== undefined; id = queue.takeDue(now)) {
            expect(model[id]!.due).toBeLessThanOrEqual(now)
            expect(queue.fired).toBe(timers[id])
            // fired: the timer names nothing any more
            expect(queue.owner(timers[id]!)).toBeUndefined()
            fired.push(id)
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
              const due = queue.deadline(timer)!
              // a clock that stepped back delays a timer behind the ones of its duration, never earlier
              expect(due).toBeGreaterThanOrEqual(now + o.ms)
              expect(queue.owner(timer)).toBe(id)
              timers.push(timer)
              model.push({ id, due, seq: seq++, live: true })
              break
            }
            case "Cancel": {
              if (timers.length === 0) break
              const id = o.pick % timers.length
              queue.cancel(timers[id]!)
              expect(queue.owner(timers[id]!)).toBeUndefined()
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

  it("§17 a cancelled timer releases its owner at once and its slot once the head passes it (bounded memory)", () => {
    const queue = new TimerQueue.TimerQueue<{ readonly call: number }>()
    // Timer B and F (64·T1) are cancelled by nearly every final response; Timer J stays armed
    for (let i = 0; i < 100_000; i++) {
      const b = queue.schedule(i, 32_000, "B", "timerB", { call: i })
      queue.cancel(b)
      expect(queue.owner(b)).toBeUndefined()
      if (i % 1000 === 0) queue.schedule(i, 32_000, "J", "timerJ", { call: i })
    }
    expect(queue.armed).toBe(100)
    expect(queue.next()).toBe(32_000)
    const fireUntil = (now: number) => {
      const calls: Array<number> = []
      for (let o = queue.takeDue(now); o !== undefined; o = queue.takeDue(now)) calls.push(o.call)
      return calls
    }
    // the head passes J timers and the cancelled slots between them: those slots are gone
    expect(fireUntil(50_000 + 32_000)).toEqual(Array.from({ length: 51 }, (_, k) => k * 1000))
    expect(queue.firedEvent).toBe("timerJ")
    expect(queue.size).toBeLessThanOrEqual(50_000)
    expect(fireUntil(99_999 + 32_000)).toHaveLength(49)
    expect(queue.next()).toBeUndefined()
    expect(queue.size).toBe(0)
  })

  it("a timer handed to another owner fires for that owner (a transaction slimmed to its remnant)", () => {
    const queue = new TimerQueue.TimerQueue<string>()
    const timer = queue.schedule(0, 32_000, "L", "timerL", "full")
    queue.setOwner(timer, "remnant")
    expect(queue.name(timer)).toBe("L")
    expect(queue.takeDue(32_000)).toBe("remnant")
    expect(queue.firedName).toBe("L")
    // gone: a late cancel or handover is a no-op
    queue.cancel(timer)
    queue.setOwner(timer, "late")
    expect(queue.armed).toBe(0)
    expect(queue.owner(timer)).toBeUndefined()
  })

  it("a list's ring grows and shrinks without a timer ever naming another's slot", () => {
    const queue = new TimerQueue.TimerQueue<number>()
    const timers = Array.from({ length: 3000 }, (_, i) => queue.schedule(i, 32_000, "J", "timerJ", i))
    const fired: Array<number> = []
    for (let o = queue.takeDue(32_000 + 2899); o !== undefined; o = queue.takeDue(32_000 + 2899)) fired.push(o)
    expect(fired).toEqual(Array.from({ length: 2900 }, (_, i) => i))
    // the ring shrank around the last 100; new timers take slots the fired ones had
    const later = Array.from({ length: 500 }, (_, i) => queue.schedule(5000 + i, 32_000, "J", "timerJ", 3000 + i))
    for (let i = 0; i < 3000; i++) expect(queue.owner(timers[i]!)).toBe(i < 2900 ? undefined : i)
    for (let i = 0; i < 500; i++) expect(queue.owner(later[i]!)).toBe(3000 + i)
    queue.cancel(timers[0]!) // stale: a no-op, not a cancel of whoever holds that slot now
    expect(queue.armed).toBe(600)
    expect(queue.deadline(later[499]!)).toBe(5499 + 32_000)
  })
})
