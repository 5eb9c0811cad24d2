/**
 * The wait of a single timer fiber (the TransactionLayer's pump, the proxy's timers): sleep on
 * Effect's Clock until the next deadline, unless a plain call says that something earlier is due
 * (`wake`). The wake-up is armed when `sleep` is called, before the fiber yields, so a call made
 * between the fiber's decision to sleep and the sleep itself is not lost.
 */
import { Effect } from "effect"

export class Wakeup {
  /** the deadline the fiber sleeps until; +∞ while it runs or waits for `wake` only */
  sleepingUntil = Number.POSITIVE_INFINITY
  private resume: (() => void) | undefined = undefined

  /** resumes the waiting fiber; no-op when it runs */
  wake(): void {
    const resume = this.resume
    if (resume === undefined) return
    this.resume = undefined
    resume()
  }

  /** the wait until `deadline` (`now` on the same clock), or until `wake`; forever when undefined */
  sleep(deadline: number | undefined, now: number): Effect.Effect<void> {
    this.sleepingUntil = deadline ?? Number.POSITIVE_INFINITY
    let signalled = false
    let resumeFiber: (() => void) | undefined
    this.resume = () => {
      signalled = true
      resumeFiber?.()
    }
    const woken = Effect.callback<void>((resume) => {
      if (signalled) resume(Effect.void)
      else resumeFiber = () => resume(Effect.void)
    })
    const wait = deadline === undefined ? woken : Effect.raceFirst(Effect.sleep(deadline - now), woken)
    return Effect.ensuring(
      wait,
      Effect.sync(() => {
        this.resume = undefined
        this.sleepingUntil = Number.POSITIVE_INFINITY
      }),
    )
  }
}
