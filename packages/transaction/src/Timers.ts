/**
 * Timer values of RFC 3261 §17 (Table 4, Appendix A) and RFC 6026 §8.
 * Every duration is in milliseconds and derived from T1, T2 and T4.
 */

/** The base timers; all other timers are computed from them. */
export interface TimerConfig {
  /** RTT estimate, default 500 ms (§17.1.1.1) */
  readonly t1: number
  /** maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s */
  readonly t2: number
  /** maximum time a message remains in the network, default 5 s */
  readonly t4: number
  /** Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2) */
  readonly d: number
  /** delay after which an INVITE server transaction sends 100 Trying itself (§17.2.1: 200 ms) */
  readonly trying: number
}

export const defaults: TimerConfig = { t1: 500, t2: 4000, t4: 5000, d: 32_000, trying: 200 }

/** Letter names of the timers as the RFC gives them, plus the 100 Trying delay of §17.2.1. */
export type TimerName = "A" | "B" | "D" | "E" | "F" | "G" | "H" | "I" | "J" | "K" | "L" | "M" | "Trying"

/** What every transaction machine is created with. */
export interface TransactionInput {
  readonly timers: TimerConfig
  /** reliable transports (TCP, TLS, WS…) get no retransmissions and zero-length wait timers */
  readonly reliable: boolean
  /** INVITE server only: send 100 Trying when the TU has not answered within `timers.trying` */
  readonly autoTrying?: boolean | undefined
}

/** The context every transaction machine carries: fixed config plus the current retransmit interval. */
export interface TransactionContext {
  readonly t1: number
  readonly t2: number
  readonly t4: number
  readonly d: number
  readonly trying: number
  readonly reliable: boolean
  readonly autoTrying: boolean
  /** current interval of Timer A, E or G */
  readonly interval: number
}

export const context = (input: TransactionInput): TransactionContext => ({
  t1: input.timers.t1,
  t2: input.timers.t2,
  t4: input.timers.t4,
  d: input.timers.d,
  trying: input.timers.trying,
  reliable: input.reliable,
  autoTrying: input.autoTrying ?? true,
  interval: input.timers.t1,
})

// RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2; RFC 6026 §8.4, §8.7
export const timerB = (c: TransactionContext): number => 64 * c.t1
export const timerD = (c: TransactionContext): number => (c.reliable ? 0 : Math.max(c.d, 32_000))
export const timerF = (c: TransactionContext): number => 64 * c.t1
export const timerH = (c: TransactionContext): number => 64 * c.t1
export const timerI = (c: TransactionContext): number => (c.reliable ? 0 : c.t4)
export const timerJ = (c: TransactionContext): number => (c.reliable ? 0 : 64 * c.t1)
export const timerK = (c: TransactionContext): number => (c.reliable ? 0 : c.t4)
export const timerL = (c: TransactionContext): number => 64 * c.t1
export const timerM = (c: TransactionContext): number => 64 * c.t1

/**
 * RFC 4320 §4.1: how long a non-INVITE client's Timer E takes to be reset to T2 (T1 + 2·T1 + …
 * while below T2; 3.5 s by default). A non-INVITE server sends no 100 over an unreliable
 * transport before this, and MUST send one if it has not otherwise responded by then.
 */
export const timerENonInviteTrying = (c: TransactionContext): number => {
  let total = 0
  for (let interval = c.t1; interval < c.t2; interval = Math.min(2 * interval, c.t2)) total += interval
  return total
}
