/**
 * The proxy's timers (Timer C, RFC 3261 §16.6 step 11 / §16.8, and the sequential-forking group
 * timer) on one shared `TimerQueue` (`@sipfx/transaction`: a FIFO list per duration) with one fiber that sleeps
 * on Effect's Clock until the earliest deadline: no fiber per timer, and TestClock drives them.
 *
 * A timer holds its target (a branch, a response context) as data and one `fire` function serves
 * them all: no closure per timer. A cancelled Timer C stayed queued for up to 181 s, and a closure
 * over the call's context made the garbage collector keep the call's messages alive well past
 * the call (with the transaction layer's WeakRef gone too: 9.1 → 2.4 KB promoted to the old
 * generation per call, `bench/call.ts --promoted`); cancelling now clears the target at once.
 */
import { TimerQueue, Wakeup } from "@sipfx/transaction"
import { Clock, Effect, type Scope } from "effect"

export type Timer = TimerQueue.Timer

export interface Timers<T> {
  /** calls `fire(target, name)` after `ms` on Effect's Clock */
  readonly schedule: (ms: number, name: string, target: T) => Timer
  /** no-op when it already fired or was cancelled */
  readonly cancel: (timer: Timer | undefined) => void
  /** live timers */
  readonly armed: () => number
}

export const make = <T>(fire: (target: T, name: string) => void): Effect.Effect<Timers<T>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const queue = new TimerQueue.TimerQueue<T>()
    const wakeup = new Wakeup.Wakeup()

    const fireDue = (): number | undefined => {
      const now = clock.currentTimeMillisUnsafe()
      for (;;) {
        const target = queue.takeDue(now)
        if (target === undefined) return queue.next()
        fire(target, queue.firedName)
      }
    }

    const loop = Effect.gen(function* () {
      for (;;) {
        const next = fireDue()
        const now = clock.currentTimeMillisUnsafe()
        if (next !== undefined && next <= now) continue
        yield* wakeup.sleep(next, now)
      }
    })
    yield* Effect.forkScoped(loop)

    return {
      schedule: (ms, name, target) => {
        const now = clock.currentTimeMillisUnsafe()
        const timer = queue.schedule(now, ms, name, name, target)
        if (now + ms < wakeup.sleepingUntil) wakeup.wake()
        return timer
      },
      cancel: (timer) => {
        if (timer !== undefined) queue.cancel(timer)
      },
      armed: () => queue.armed,
    }
  })
