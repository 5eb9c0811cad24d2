import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import * as Timers from "../src/Timers.ts"

describe("proxy timers on one queue (§16.6 step 11, §16.8)", () => {
  it.effect("§16.8: an earlier deadline armed while the fiber sleeps for a later one fires on time", () =>
    Effect.gen(function* () {
      const fired: Array<string> = []
      const timers = yield* Timers.make<string>((target, name) => fired.push(`${name} ${target}`))
      timers.schedule(181_000, "timerC", "c")
      yield* TestClock.adjust(0)
      timers.schedule(15_000, "group", "g")
      yield* TestClock.adjust(14_999)
      expect(fired).toEqual([])
      yield* TestClock.adjust(1)
      expect(fired).toEqual(["group g"])
      expect(timers.armed()).toBe(1)
      yield* TestClock.adjust(166_000)
      expect(fired).toEqual(["group g", "timerC c"])
      expect(timers.armed()).toBe(0)
    }),
  )

  it.effect("§16.8: a Timer C reset (cancel + re-arm on a provisional) fires only at the new deadline", () =>
    Effect.gen(function* () {
      const fired: Array<number> = []
      const timers = yield* Timers.make<number>((target) => fired.push(target))
      let t = timers.schedule(181_000, "timerC", 1)
      yield* TestClock.adjust(100_000)
      timers.cancel(t)
      t = timers.schedule(181_000, "timerC", 2)
      yield* TestClock.adjust(81_000)
      expect(fired).toEqual([])
      yield* TestClock.adjust(100_000)
      expect(fired).toEqual([2])
      timers.cancel(t) // already fired: no effect
      expect(timers.armed()).toBe(0)
    }),
  )
})
