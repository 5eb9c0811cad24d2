/**
 * The RFC's transaction tables restated independently of the machines, for model-based tests:
 * for a (state, event) pair, the target state and the driver steps in order (exit, transition,
 * entry). `c` is the context before the event. Pairs that are absent must be ignored.
 */
import type { Compiled, Timers } from "../src/index.ts"

type Ctx = Timers.TransactionContext
export interface Expect {
  readonly target: string
  readonly steps: ReadonlyArray<string>
  /** the retransmit interval afterwards, when the event changes it */
  readonly interval?: number
}
/** undefined: a declared transition whose guard refuses it in this configuration */
export type Oracle = Record<string, (c: Ctx) => Expect | undefined>

const unreliable = (c: Ctx, ...steps: Array<string>) => (c.reliable ? [] : steps)
const D = (c: Ctx) => (c.reliable ? 0 : 32_000)
const IK = (c: Ctx) => (c.reliable ? 0 : c.t4)
const J = (c: Ctx) => (c.reliable ? 0 : 64 * c.t1)

export const entry: Record<string, (c: Ctx) => ReadonlyArray<string>> = {
  // §17.1.1.2
  InviteClientTransaction: (c) => ["sendRequest", ...unreliable(c, `start A=${c.t1}`), `start B=${64 * c.t1}`],
  // §17.1.2.2
  NonInviteClientTransaction: (c) => ["sendRequest", ...unreliable(c, `start E=${c.t1}`), `start F=${64 * c.t1}`],
  // §17.2.1: 100 Trying unless the TU answers within 200 ms
  InviteServerTransaction: (c) => (c.autoTrying ? [`start Trying=${c.trying}`] : []),
  // RFC 4320 §4.1: a 100 from the transaction once the client's Timer E would reach T2
  NonInviteServerTransaction: (c) => [`start Trying=${eReachesT2(c)}`],
}

// RFC 3261 Figure 5 with RFC 6026 §8.4
const ict: Oracle = {
  "Calling timerA": (c) => ({
    target: "Calling",
    steps: ["sendRequest", `start A=${2 * c.interval}`],
    interval: 2 * c.interval,
  }),
  "Calling timerB": () => ({ target: "Terminated", steps: ["cancel A", "cancel B", "informTimeout"] }),
  "Calling transportError": () => ({ target: "Terminated", steps: ["cancel A", "cancel B", "informTransportError"] }),
  "Calling response1xx": () => ({ target: "Proceeding", steps: ["cancel A", "cancel B", "passToTU"] }),
  "Calling response2xx": (c) => ({
    target: "Accepted",
    steps: ["cancel A", "cancel B", "passToTU", `start M=${64 * c.t1}`],
  }),
  "Calling response300to699": (c) => ({
    target: "Completed",
    steps: ["cancel A", "cancel B", "sendAck", "passToTU", `start D=${D(c)}`],
  }),
  "Proceeding response1xx": () => ({ target: "Proceeding", steps: ["passToTU"] }),
  "Proceeding response2xx": (c) => ({ target: "Accepted", steps: ["passToTU", `start M=${64 * c.t1}`] }),
  "Proceeding response300to699": (c) => ({ target: "Completed", steps: ["sendAck", "passToTU", `start D=${D(c)}`] }),
  "Completed response300to699": () => ({ target: "Completed", steps: ["sendAck"] }),
  "Completed timerD": () => ({ target: "Terminated", steps: ["cancel D"] }),
  "Completed transportError": () => ({ target: "Terminated", steps: ["cancel D", "informTransportError"] }),
  "Accepted response2xx": () => ({ target: "Accepted", steps: ["passToTU"] }),
  "Accepted timerM": () => ({ target: "Terminated", steps: ["cancel M"] }),
}

// RFC 3261 Figure 6
const nict: Oracle = {
  "Trying timerE": (c) => ({
    target: "Trying",
    steps: ["sendRequest", `start E=${Math.min(2 * c.interval, c.t2)}`],
    interval: Math.min(2 * c.interval, c.t2),
  }),
  "Trying timerF": () => ({ target: "Terminated", steps: ["cancel E", "informTimeout"] }),
  "Trying transportError": () => ({ target: "Terminated", steps: ["cancel E", "cancel F", "informTransportError"] }),
  "Trying response1xx": () => ({ target: "Proceeding", steps: ["passToTU"] }),
  "Trying response200to699": (c) => ({
    target: "Completed",
    steps: ["passToTU", "cancel E", "cancel F", `start K=${IK(c)}`],
  }),
  "Proceeding timerE": (c) => ({ target: "Proceeding", steps: ["sendRequest", `start E=${c.t2}`], interval: c.t2 }),
  "Proceeding timerF": () => ({ target: "Terminated", steps: ["cancel E", "informTimeout"] }),
  "Proceeding transportError": () => ({
    target: "Terminated",
    steps: ["cancel E", "cancel F", "informTransportError"],
  }),
  "Proceeding response1xx": () => ({ target: "Proceeding", steps: ["passToTU"] }),
  "Proceeding response200to699": (c) => ({
    target: "Completed",
    steps: ["passToTU", "cancel E", "cancel F", `start K=${IK(c)}`],
  }),
  "Completed timerK": () => ({ target: "Terminated", steps: [] }),
}

// RFC 3261 Figure 7 with RFC 6026 §8.5–8.8
const ist: Oracle = {
  "Proceeding request": () => ({ target: "Proceeding", steps: ["sendResponse"] }),
  "Proceeding timerTrying": () => ({ target: "Proceeding", steps: ["sendTrying"] }),
  "Proceeding tu1xx": () => ({ target: "Proceeding", steps: ["cancel Trying", "sendResponse"] }),
  "Proceeding tu2xx": (c) => ({
    target: "Accepted",
    steps: ["cancel Trying", "sendResponse", `start L=${64 * c.t1}`],
  }),
  "Proceeding tu300to699": (c) => ({
    target: "Completed",
    steps: ["cancel Trying", "sendResponse", ...unreliable(c, `start G=${c.t1}`), `start H=${64 * c.t1}`],
  }),
  "Proceeding transportError": () => ({ target: "Proceeding", steps: ["informTransportError"] }),
  "Completed request": () => ({ target: "Completed", steps: ["sendResponse"] }),
  "Completed timerG": (c) => ({
    target: "Completed",
    steps: ["sendResponse", `start G=${Math.min(2 * c.interval, c.t2)}`],
    interval: Math.min(2 * c.interval, c.t2),
  }),
  "Completed ack": (c) => ({ target: "Confirmed", steps: ["cancel G", "cancel H", `start I=${IK(c)}`] }),
  "Completed timerH": () => ({ target: "Terminated", steps: ["cancel G", "cancel H", "informTimeout"] }),
  "Completed transportError": () => ({ target: "Completed", steps: ["informTransportError"] }),
  "Confirmed timerI": () => ({ target: "Terminated", steps: [] }),
  "Accepted tu2xx": () => ({ target: "Accepted", steps: ["sendResponse"] }),
  "Accepted ack": () => ({ target: "Accepted", steps: ["passAckToTU"] }),
  "Accepted timerL": () => ({ target: "Terminated", steps: ["cancel L"] }),
  "Accepted transportError": () => ({ target: "Accepted", steps: ["informTransportError"] }),
}

// RFC 3261 Figure 8 with RFC 4320 §4.1 (100 only, and over UDP only once E reaches T2) and §4.2 (no 408)
const nist: Oracle = {
  "Trying tu100": (c) => (c.reliable ? { target: "Proceeding", steps: ["cancel Trying", "sendResponse"] } : undefined),
  "Trying timerTrying": () => ({ target: "Proceeding", steps: ["cancel Trying", "sendTrying"] }),
  "Trying tu200to699": (c) => ({
    target: "Completed",
    steps: ["cancel Trying", "sendResponse", `start J=${J(c)}`],
  }),
  "Proceeding request": () => ({ target: "Proceeding", steps: ["sendResponse"] }),
  "Proceeding tu100": () => ({ target: "Proceeding", steps: ["sendResponse"] }),
  "Proceeding tu200to699": (c) => ({ target: "Completed", steps: ["sendResponse", `start J=${J(c)}`] }),
  "Proceeding transportError": () => ({ target: "Terminated", steps: ["informTransportError"] }),
  "Completed request": () => ({ target: "Completed", steps: ["sendResponse"] }),
  "Completed timerJ": () => ({ target: "Terminated", steps: [] }),
  "Completed transportError": () => ({ target: "Terminated", steps: ["informTransportError"] }),
}

/** events no state may take (RFC 4320 §4.1 non-100 provisionals, §4.2 408), fed to every state */
export const refused: Record<string, ReadonlyArray<string>> = {
  NonInviteServerTransaction: ["tu101to199", "tu408"],
}

/** RFC 4320 §4.1: the time the client's Timer E takes to reach T2 */
export const eReachesT2 = (c: Ctx): number => {
  let total = 0
  for (let i = c.t1; i < c.t2; i = Math.min(2 * i, c.t2)) total += i
  return total
}

export const oracles: Record<string, Oracle> = {
  InviteClientTransaction: ict,
  NonInviteClientTransaction: nict,
  InviteServerTransaction: ist,
  NonInviteServerTransaction: nist,
}

/** a driver step as text, e.g. `start A=1000` */
export const show = (step: Compiled.Step): string =>
  step._tag === "Effect"
    ? step.name
    : step._tag === "StartTimer"
      ? `start ${step.timer}=${step.ms}`
      : `cancel ${step.timer}`
