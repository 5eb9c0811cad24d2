/**
 * Runs one machine synchronously with pure `transition()`: the snapshot is kept here, named
 * actions go to `perform`, and delayed events (`after`) are armed on a `Timers` scheduler —
 * Effect's Clock in production (so TestClock drives expiry and refresh in tests).
 */
import type { Fiber } from "effect"
import { Effect } from "effect"
import {
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type ContextFrom,
  type EventFromLogic,
  type InputFrom,
  initialTransition,
  transition,
} from "xstate"

/** Arms a callback after `ms`; the returned function disarms it. */
export interface Timers {
  readonly after: (ms: number, fire: () => void) => () => void
}

/** Timers on Effect's Clock: one sleeping fiber per armed timer, run by `run` (a FiberSet runtime). */
export const effectTimers = (run: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>): Timers => ({
  after: (ms, fire) => {
    const fiber = run(Effect.andThen(Effect.sleep(Math.max(0, ms)), Effect.sync(fire)))
    return () => {
      fiber.interruptUnsafe()
    }
  },
})

export interface NamedAction {
  readonly type: string
  readonly params: unknown
}

export class MachineRunner<M extends AnyStateMachine> {
  private snapshot: AnyMachineSnapshot
  private readonly armed = new Map<string, () => void>()
  private busy = false
  private readonly queue: Array<EventFromLogic<M>> = []
  private readonly machine: M
  private readonly timers: Timers
  private readonly perform: (action: NamedAction) => void

  constructor(machine: M, input: InputFrom<M>, timers: Timers, perform: (action: NamedAction) => void) {
    this.machine = machine
    this.timers = timers
    this.perform = perform
    const [s, actions] = initialTransition(machine, input)
    this.snapshot = s as AnyMachineSnapshot
    this.initial = actions as ReadonlyArray<NamedAction>
  }

  private initial: ReadonlyArray<NamedAction> | undefined

  /** Performs the entry actions of the initial state (kept apart so the owner can store the runner first). */
  start(): this {
    const initial = this.initial
    this.initial = undefined
    if (initial === undefined) return this
    this.busy = true
    try {
      this.run(initial)
    } finally {
      this.busy = false
    }
    this.drain()
    return this
  }

  get state(): string {
    return this.snapshot.value as string
  }

  get context(): ContextFrom<M> {
    return this.snapshot.context as ContextFrom<M>
  }

  get done(): boolean {
    return this.snapshot.status === "done"
  }

  /** Feeds an event; events sent from within an action are queued after the current step. */
  send(event: EventFromLogic<M>): void {
    this.queue.push(event)
    if (!this.busy) this.drain()
  }

  private drain(): void {
    this.busy = true
    try {
      for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
        if (this.snapshot.status === "done") continue
        const [next, actions] = transition(this.machine, this.snapshot as never, e)
        this.snapshot = next as AnyMachineSnapshot
        this.run(actions as ReadonlyArray<NamedAction>)
      }
    } finally {
      this.busy = false
    }
    if (this.snapshot.status === "done") this.disarmAll()
  }

  /** Disarms every timer (the subscription is gone). */
  disarmAll(): void {
    for (const cancel of this.armed.values()) cancel()
    this.armed.clear()
  }

  private run(actions: ReadonlyArray<NamedAction>): void {
    for (const a of actions) {
      if (a.type === "xstate.raise") {
        const { delay, event, id } = a.params as { delay?: number; event: { type: string }; id?: string }
        if (delay === undefined) continue
        const key = id ?? event.type
        this.armed.get(key)?.()
        if (this.snapshot.status === "done") continue
        const cancel = this.timers.after(delay, () => {
          if (this.armed.get(key) !== cancel) return
          this.armed.delete(key)
          this.send(event as EventFromLogic<M>)
        })
        this.armed.set(key, cancel)
      } else if (a.type === "xstate.cancel") {
        const key = (a.params as { sendId: string }).sendId
        this.armed.get(key)?.()
        this.armed.delete(key)
      } else this.perform(a)
    }
  }
}
