import { assign, setup } from "xstate"
import * as Timers from "../Timers.ts"
import { context, effect, timers, types } from "./common.ts"

/** Non-INVITE client transaction, RFC 3261 §17.1.2 (Figure 6). */
export type Event =
  | { readonly type: "response1xx" }
  | { readonly type: "response200to699" }
  | { readonly type: "timerE" }
  | { readonly type: "timerF" }
  | { readonly type: "timerK" }
  | { readonly type: "transportError" }

const timer = timers<Event, "timerE" | "timerF" | "timerK">()

export const machine = setup({
  types: types<Event>(),
  actions: {
    sendRequest: effect,
    passToTU: effect,
    informTimeout: effect,
    informTransportError: effect,
    // §17.1.2.2: in Trying, E doubles up to T2; in Proceeding it is reset to T2
    backoffE: timer.backoffToT2,
    resetEToT2: assign({ interval: ({ context }) => context.t2 }),
    startTimerEIfUnreliable: timer.startIfUnreliable("E"),
    startTimerE: timer.start("E"),
    startTimerF: timer.start("F"),
    startTimerK: timer.start("K"),
    cancelTimerE: timer.cancel("E"),
    cancelTimerF: timer.cancel("F"),
  },
  delays: {
    timerE: ({ context }) => context.interval,
    timerF: ({ context }) => Timers.timerF(context),
    timerK: ({ context }) => Timers.timerK(context),
  },
}).createMachine({
  id: "NonInviteClientTransaction",
  context,
  initial: "Trying",
  states: {
    Trying: {
      entry: ["sendRequest", "startTimerEIfUnreliable", "startTimerF"],
      on: {
        timerE: { actions: ["sendRequest", "backoffE", "startTimerE"] },
        timerF: { target: "Terminated", actions: ["cancelTimerE", "informTimeout"] },
        transportError: { target: "Terminated", actions: ["cancelTimerE", "cancelTimerF", "informTransportError"] },
        response1xx: { target: "Proceeding", actions: "passToTU" },
        response200to699: { target: "Completed", actions: "passToTU" },
      },
    },
    Proceeding: {
      on: {
        timerE: { actions: ["sendRequest", "resetEToT2", "startTimerE"] },
        timerF: { target: "Terminated", actions: ["cancelTimerE", "informTimeout"] },
        transportError: { target: "Terminated", actions: ["cancelTimerE", "cancelTimerF", "informTransportError"] },
        response1xx: { actions: "passToTU" },
        response200to699: { target: "Completed", actions: "passToTU" },
      },
    },
    Completed: {
      // §17.1.2.2: Timer K (T4 unreliable, 0 reliable) absorbs response retransmissions
      entry: ["cancelTimerE", "cancelTimerF", "startTimerK"],
      on: {
        timerK: { target: "Terminated" },
      },
    },
    Terminated: { type: "final" },
  },
})
