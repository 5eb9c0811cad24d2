/**
 * What the four transaction machines share: their types, the actions the runner performs, and
 * the RFC timers as XState data — a timer is a delayed `raise` of `timerX` with id `X` and the
 * named delay `timerX`; cancelling it is `cancel("X")` (RFC 3261 §17, Table 4).
 */
import { assign, cancel, enqueueActions, raise } from "xstate"
import * as Timers from "../Timers.ts"

type Context = Timers.TransactionContext

/** `setup({ types })` of every transaction machine, for its own event union `E`. */
export const types = <E extends { readonly type: string }>() => ({
  context: {} as Context,
  input: {} as Timers.TransactionInput,
  events: {} as E,
})

/** the initial context, built from the input (timer configuration and reliability) */
export const context = ({ input }: { readonly input: Timers.TransactionInput }): Context => Timers.context(input)

/** An action without a body: the runner (the TransactionLayer) performs it by name. */
export const effect = (): void => {}

/**
 * Timer actions typed for a machine's events `E` and delay names `D`:
 * `start("A")` raises `timerA` after the delay `timerA`; `cancel("A")` disarms it.
 */
export const timers = <E extends { readonly type: string }, D extends string>() => {
  const start = <X extends Timers.TimerName>(x: X & (`timer${X}` extends E["type"] & D ? unknown : never)) =>
    raise<Context, E, E, undefined, D, D>({ type: `timer${x}` } as unknown as E, {
      id: x,
      delay: `timer${x}` as D,
    })
  const startWhen = <X extends Timers.TimerName>(
    x: X & (`timer${X}` extends E["type"] & D ? unknown : never),
    when: (context: Context) => boolean,
  ) =>
    enqueueActions<Context, E, undefined, E, never, never, never, D, never>(({ context, enqueue }) => {
      if (when(context)) enqueue(start(x))
    })
  return {
    start,
    /** starts the timer only when the context says so (e.g. §17.2.1's 100 Trying when enabled) */
    startWhen,
    /** A, E and G retransmit only over unreliable transports (§17.1.1.2, §17.1.2.2, §17.2.1) */
    startIfUnreliable: <X extends Timers.TimerName>(x: X & (`timer${X}` extends E["type"] & D ? unknown : never)) =>
      startWhen(x, (context) => !context.reliable),
    cancel: (x: Timers.TimerName) => cancel<Context, E, undefined, E>(x),
    /** §17.1.2.2 (E) and §17.2.1 (G): the interval doubles, up to T2 */
    backoffToT2: assign<Context, E, undefined, E, never>({
      interval: ({ context }) => Math.min(2 * context.interval, context.t2),
    }),
  }
}
