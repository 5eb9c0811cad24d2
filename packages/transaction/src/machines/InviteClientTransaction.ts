import { assign, setup } from "xstate"
import * as Timers from "../Timers.ts"
import { context, effect, timers, types } from "./common.ts"

/**
 * INVITE client transaction, RFC 3261 §17.1.1 (Figure 5) as corrected by RFC 6026 §8.4:
 * a 2xx moves to Accepted (Timer M) instead of Terminated, and later 2xx are passed to the TU.
 */
export type Event =
  | { readonly type: "response1xx" }
  | { readonly type: "response2xx" }
  | { readonly type: "response300to699" }
  | { readonly type: "timerA" }
  | { readonly type: "timerB" }
  | { readonly type: "timerD" }
  | { readonly type: "timerM" }
  | { readonly type: "transportError" }

const timer = timers<Event, "timerA" | "timerB" | "timerD" | "timerM">()

export const machine = setup({
  types: types<Event>(),
  actions: {
    sendRequest: effect,
    sendAck: effect,
    passToTU: effect,
    informTimeout: effect,
    informTransportError: effect,
    // §17.1.1.2: "the client transaction MUST reset the timer with a value of 2*T1"
    doubleA: assign({ interval: ({ context }) => context.interval * 2 }),
    startTimerAIfUnreliable: timer.startIfUnreliable("A"),
    startTimerA: timer.start("A"),
    startTimerB: timer.start("B"),
    startTimerD: timer.start("D"),
    startTimerM: timer.start("M"),
    cancelTimerA: timer.cancel("A"),
    cancelTimerB: timer.cancel("B"),
    cancelTimerD: timer.cancel("D"),
    cancelTimerM: timer.cancel("M"),
  },
  delays: {
    timerA: ({ context }) => context.interval,
    timerB: ({ context }) => Timers.timerB(context),
    timerD: ({ context }) => Timers.timerD(context),
    timerM: ({ context }) => Timers.timerM(context),
  },
}).createMachine({
  id: "InviteClientTransaction",
  context,
  initial: "Calling",
  states: {
    Calling: {
      entry: [
        "sendRequest",
        // §17.1.1.2: Timer A only for unreliable transports; Timer B always
        "startTimerAIfUnreliable",
        "startTimerB",
      ],
      exit: ["cancelTimerA", "cancelTimerB"],
      on: {
        timerA: { actions: ["sendRequest", "doubleA", "startTimerA"] },
        timerB: { target: "Terminated", actions: "informTimeout" },
        transportError: { target: "Terminated", actions: "informTransportError" },
        response1xx: { target: "Proceeding", actions: "passToTU" },
        response2xx: { target: "Accepted", actions: "passToTU" },
        response300to699: { target: "Completed", actions: ["sendAck", "passToTU"] },
      },
    },
    Proceeding: {
      on: {
        response1xx: { actions: "passToTU" },
        response2xx: { target: "Accepted", actions: "passToTU" },
        response300to699: { target: "Completed", actions: ["sendAck", "passToTU"] },
      },
    },
    Completed: {
      entry: "startTimerD",
      exit: "cancelTimerD",
      on: {
        // §17.1.1.2: retransmitted final responses re-send the ACK and are not passed up
        response300to699: { actions: "sendAck" },
        timerD: { target: "Terminated" },
        transportError: { target: "Terminated", actions: "informTransportError" },
      },
    },
    Accepted: {
      // RFC 6026 §8.4: absorb nothing; every matching 2xx goes to the TU until Timer M
      entry: "startTimerM",
      exit: "cancelTimerM",
      on: {
        response2xx: { actions: "passToTU" },
        timerM: { target: "Terminated" },
      },
    },
    Terminated: { type: "final" },
  },
})
